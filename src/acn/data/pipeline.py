"""Per-batch image preparation the training loop calls: one config, one function.

train:  to_float -> random crop -> random flip -> CutMix -> normalise
test:   to_float -> Gaussian noise -> salt-and-pepper -> normalise
Noise is added in [0,1] pixel space before normalisation so sigma means the same thing for
every dataset (the paper does not say which space it used).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, fields, replace
from typing import Any

import torch

from ..errors import ConfigError
from . import transforms as T

# The official code's CIFAR recipe: RandomCrop(32, padding=4) + CutMix(beta=1, p=0.5).
# (It also applies AutoAugment, which acn does not implement; it uses no horizontal flip.)
PAPER_CIFAR = {"crop_padding": 4, "flip": False, "cutmix_prob": 0.5, "cutmix_alpha": 1.0}


@dataclass
class AugmentConfig:
    """What prepare_batch does. All off by default; mean/std None means no normalisation.

    Also the ``augment`` section of a training config (``acn.runs.config``), where training
    augmentation is read from and the test split is only normalised.
    """

    crop_padding: int = 0
    flip: bool = False
    cutmix_prob: float = 0.0
    cutmix_alpha: float = 1.0
    noise_sigma: float = 0.0
    salt_pepper_p: float = 0.0
    # from_info fills mean/std with the training split's per-channel stats unless this is off
    # or they are given
    normalize: bool = True
    mean: tuple[float, ...] | None = None
    std: tuple[float, ...] | None = None

    def __post_init__(self) -> None:
        if self.crop_padding < 0:
            raise ConfigError(f"crop_padding must be >= 0, got {self.crop_padding}")
        for name in ("cutmix_prob", "salt_pepper_p"):
            if not 0.0 <= getattr(self, name) <= 1.0:
                raise ConfigError(f"{name} must be in [0, 1], got {getattr(self, name)}")
        # written so that NaN fails them (every comparison with NaN is false)
        if not (0 < self.cutmix_alpha < math.inf and 0 <= self.noise_sigma < math.inf):
            raise ConfigError(
                f"cutmix_alpha must be > 0 and noise_sigma >= 0 (finite), got "
                f"{self.cutmix_alpha}, {self.noise_sigma}"
            )
        if (self.mean is None) != (self.std is None):
            raise ConfigError("give both mean and std, or neither")
        if self.std is not None and not all(0 < s < math.inf for s in self.std):
            raise ConfigError(f"std must be positive, got {self.std}")

    @classmethod
    def from_info(cls, info: dict[str, Any], **overrides: Any) -> AugmentConfig:
        """Field overrides (e.g. **PAPER_CIFAR) plus, with ``normalize`` on and no mean/std given,
        the normalisation stats from DataSplits.info."""
        known = {f.name for f in fields(cls)}
        bad = sorted(set(overrides) - known)
        if bad:
            raise ConfigError(
                f"unknown augmentation option(s) {', '.join(bad)}; valid: {', '.join(sorted(known))}"
            )
        cfg = cls(**overrides)
        mean, std = info.get("mean"), info.get("std")
        if not cfg.normalize or cfg.mean is not None or not mean or not std:
            return cfg
        return replace(cfg, mean=tuple(mean), std=tuple(std))


def prepare_batch(
    x: torch.Tensor,
    y: torch.Tensor,
    train: bool,
    cfg: AugmentConfig,
    gen: torch.Generator | None = None,
    num_classes: int | None = None,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Turn a raw image batch (uint8 or [0,1] float, any device) into model input.

    Returns (x float32 [N,C,H,W], y). y stays int64 [N] except in training with
    cfg.cutmix_prob > 0, where it is always soft float [N, num_classes] (one-hot when a batch is
    not mixed) so the loss sees one target type; F.cross_entropy accepts both.
    Integer token ids (text) pass through unchanged; other non-image inputs (vectors) are only
    cast to float.
    """
    if x.dim() != 4:
        return (
            (x, y)
            if not x.is_floating_point() and x.dim() == 2 and x.dtype != torch.uint8
            else (x.float(), y)
        )
    x = T.to_float(x)
    if train:
        x = T.random_crop(x, cfg.crop_padding, gen)
        if cfg.flip:
            x = T.random_flip(x, gen)
        if cfg.cutmix_prob > 0:
            if num_classes is None:
                raise ConfigError("prepare_batch needs num_classes when CutMix is on")
            x, y = T.cutmix(x, y, num_classes, cfg.cutmix_alpha, cfg.cutmix_prob, gen)
    else:
        x = T.gaussian_noise(x, cfg.noise_sigma, gen)
        x = T.salt_pepper(x, cfg.salt_pepper_p, gen)
    if cfg.mean is not None and cfg.std is not None:
        x = T.normalize(x, cfg.mean, cfg.std)
    return x, y
