"""Input embeddings shared by the image families."""

from __future__ import annotations

import torch
from torch import Tensor, nn

from ..errors import ConfigError, DataError


class PatchEmbed(nn.Module):
    """Non-overlapping p x p patches -> Linear(C*p*p, dim): [B, C, H, W] -> [B, N, dim].

    The same function as ``Conv2d(C, dim, k=p, s=p)``, written as reshape + one matmul, which is
    faster than a strided convolution on CPU.
    """

    def __init__(self, image_size: int, patch_size: int, in_chans: int, dim: int) -> None:
        super().__init__()
        if image_size % patch_size:
            raise ConfigError(
                f"image_size {image_size} is not divisible by patch_size {patch_size}"
            )
        self.image_size, self.patch_size, self.in_chans = image_size, patch_size, in_chans
        self.grid = image_size // patch_size
        self.proj = nn.Linear(in_chans * patch_size * patch_size, dim)

    @property
    def num_patches(self) -> int:
        return self.grid * self.grid

    def forward(self, x: Tensor) -> Tensor:
        expected = (self.in_chans, self.image_size, self.image_size)
        if x.ndim != 4 or tuple(x.shape[1:]) != expected:
            raise DataError(
                f"expected images of shape [B, {expected[0]}, {expected[1]}, {expected[2]}], "
                f"got {list(x.shape)}"
            )
        b, c, _, _ = x.shape
        p, g = self.patch_size, self.grid
        patches = x.reshape(b, c, g, p, g, p).permute(0, 2, 4, 1, 3, 5).reshape(b, g * g, c * p * p)
        return self.proj(patches)


def random_images(
    batch_size: int, in_chans: int, image_size: int, generator: torch.Generator | None = None
) -> Tensor:
    """A valid (normalised-looking) image batch for shape checks and cost measurements."""
    return torch.randn(batch_size, in_chans, image_size, image_size, generator=generator)
