"""Batched image transforms: tensor ops on a whole batch [N,C,H,W], so they run unchanged on
CPU or CUDA and cost a few kernel launches per batch instead of a Python loop per image.

Randomness comes from the `gen` argument (a torch.Generator, any device); the random numbers
are drawn on the generator's device and moved to the batch's, so a fixed seed gives the same
augmentation on every device. With gen=None the global RNG of x's device is used.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
import torch
import torch.nn.functional as F

from ..errors import ConfigError


def _device(gen: torch.Generator | None, x: torch.Tensor) -> torch.device:
    return gen.device if gen is not None else x.device


def _rand(shape: Sequence[int], gen: torch.Generator | None, x: torch.Tensor) -> torch.Tensor:
    return torch.rand(tuple(shape), generator=gen, device=_device(gen, x)).to(x.device)


def _randint(
    high: int, shape: Sequence[int], gen: torch.Generator | None, x: torch.Tensor
) -> torch.Tensor:
    return torch.randint(high, tuple(shape), generator=gen, device=_device(gen, x)).to(x.device)


def to_float(x: torch.Tensor) -> torch.Tensor:
    """uint8 0..255 -> float32 0..1; float input is returned as float32 unchanged."""
    return x.float().div_(255.0) if x.dtype == torch.uint8 else x.float()


def normalize(x: torch.Tensor, mean: Sequence[float], std: Sequence[float]) -> torch.Tensor:
    """(x - mean) / std per channel of a [N,C,H,W] float batch."""
    m = torch.as_tensor(mean, dtype=x.dtype, device=x.device).view(1, -1, 1, 1)
    s = torch.as_tensor(std, dtype=x.dtype, device=x.device).view(1, -1, 1, 1)
    return (x - m) / s


def random_crop(
    x: torch.Tensor, padding: int = 4, gen: torch.Generator | None = None
) -> torch.Tensor:
    """Zero-pad by `padding` and cut an HxW window at an independent random offset per image
    (torchvision RandomCrop(size, padding) semantics), via two gathers instead of a loop."""
    if padding <= 0:
        return x
    n, c, h, w = x.shape
    padded = F.pad(x, (padding, padding, padding, padding))
    dy = _randint(2 * padding + 1, (n,), gen, x)
    dx = _randint(2 * padding + 1, (n,), gen, x)
    rows = dy[:, None] + torch.arange(h, device=x.device)  # [n, h] source rows per image
    cols = dx[:, None] + torch.arange(w, device=x.device)
    out = padded.gather(2, rows[:, None, :, None].expand(n, c, h, w + 2 * padding))
    return out.gather(3, cols[:, None, None, :].expand(n, c, h, w))


def random_flip(
    x: torch.Tensor, gen: torch.Generator | None = None, p: float = 0.5
) -> torch.Tensor:
    """Mirror each image left-right with probability p."""
    flip = _rand((x.shape[0],), gen, x) < p
    return torch.where(flip[:, None, None, None], x.flip(3), x)


def _beta(alpha: float, gen: torch.Generator | None, x: torch.Tensor) -> float:
    if alpha == 1.0:  # Beta(1, 1) is uniform; the paper's setting, no numpy detour
        return float(_rand((1,), gen, x))
    # torch's Beta sampler takes no generator: seed numpy from `gen` to stay reproducible.
    seed = int(torch.randint(2**62, (1,), generator=gen, device=_device(gen, x)))
    return float(np.random.default_rng(seed).beta(alpha, alpha))


def cutmix(
    x: torch.Tensor,
    y: torch.Tensor,
    num_classes: int,
    alpha: float = 1.0,
    prob: float = 0.5,
    gen: torch.Generator | None = None,
) -> tuple[torch.Tensor, torch.Tensor]:
    """CutMix (Yun et al. 2019) as in the paper's code: with probability `prob` per batch, paste
    one box from a shuffled copy of the batch into every image; box area ~ 1 - Beta(a, a).

    y: int labels [N] or soft targets [N,C]. Returns (images, soft targets [N,C]) where each
    target is lam * own + (1 - lam) * partner, lam = exact unpasted area fraction.
    """
    if alpha <= 0:
        raise ConfigError(f"cutmix alpha must be positive, got {alpha}")
    targets = y.float() if y.dim() == 2 else F.one_hot(y, num_classes).float()
    if prob <= 0 or float(_rand((1,), gen, x)) >= prob:
        return x, targets
    n, _, h, w = x.shape
    lam = _beta(alpha, gen, x)
    perm = torch.randperm(n, generator=gen, device=_device(gen, x)).to(x.device)
    cut = math.sqrt(1.0 - lam)
    cut_h, cut_w = int(h * cut), int(w * cut)
    cy, cx = int(_randint(h, (1,), gen, x)), int(_randint(w, (1,), gen, x))  # box centre
    y1, y2 = max(cy - cut_h // 2, 0), min(cy + cut_h // 2, h)
    x1, x2 = max(cx - cut_w // 2, 0), min(cx + cut_w // 2, w)
    mixed = x.clone()
    mixed[:, :, y1:y2, x1:x2] = x[perm, :, y1:y2, x1:x2]
    lam = 1.0 - (y2 - y1) * (x2 - x1) / (h * w)
    return mixed, lam * targets + (1.0 - lam) * targets[perm]


def gaussian_noise(
    x: torch.Tensor, sigma: float, gen: torch.Generator | None = None
) -> torch.Tensor:
    """Add N(0, sigma^2) noise to [0,1] pixels and clamp back to [0,1] (test-time robustness)."""
    if sigma <= 0:
        return x
    noise = torch.randn(x.shape, generator=gen, device=_device(gen, x)).to(x.device, x.dtype)
    return (x + sigma * noise).clamp_(0.0, 1.0)


def salt_pepper(x: torch.Tensor, p: float, gen: torch.Generator | None = None) -> torch.Tensor:
    """Set a fraction p of pixel positions (all channels together) to white or black, half each."""
    if p <= 0:
        return x
    n, _, h, w = x.shape
    u = _rand((n, 1, h, w), gen, x)
    out = torch.where(u < p / 2, torch.ones_like(x), x)
    return torch.where((u >= p / 2) & (u < p), torch.zeros_like(x), out)
