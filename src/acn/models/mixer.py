"""MLP-Mixer, including the authors' CIFAR-10 Mixer (the paper's section 2.3)."""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor, nn

from ..blocks import MixerBlock
from ..wiring import Wiring
from .base import ModelConfig, StackModel
from .embed import PatchEmbed, random_images


@dataclass
class MixerConfig(ModelConfig):
    image_size: int = 32
    in_chans: int = 3
    patch_size: int = 4
    dim: int = 128
    token_hidden: int = 64
    channel_hidden: int = 512
    tail: bool = True  # the authors' per-layer LN(ReLU(Linear(h) + x)) tail
    pool: str = "cls"  # "cls" adds a learned cls token (as the authors' code); "mean" does not
    dropout: float = 0.0


class MixerEmbed(nn.Module):
    """Patch embedding, plus a learned cls token prepended when pooling by cls."""

    def __init__(self, c: MixerConfig) -> None:
        super().__init__()
        self.patch = PatchEmbed(c.image_size, c.patch_size, c.in_chans, c.dim)
        # randn init, as the authors' code does for the Mixer's cls token
        self.cls_token = nn.Parameter(torch.randn(1, 1, c.dim)) if c.pool == "cls" else None

    @property
    def num_tokens(self) -> int:
        return self.patch.num_patches + (self.cls_token is not None)

    def forward(self, x: Tensor) -> Tensor:
        tokens = self.patch(x)
        if self.cls_token is None:
            return tokens
        return torch.cat([self.cls_token.expand(tokens.shape[0], -1, -1), tokens], dim=1)


class MixerModel(StackModel):
    """Patches (+cls) -> L Mixer layers -> LayerNorm -> pool -> Linear head."""

    family = "mixer"
    config_class = MixerConfig
    undefined_modes = {"value-residual": "its blocks mix tokens with an MLP, not attention"}
    config: MixerConfig

    def build_embed(self) -> nn.Module:
        return MixerEmbed(self.config)

    def build_block(self, index: int, wiring: Wiring) -> nn.Module:
        c = self.config
        return MixerBlock(
            self.embed.num_tokens,
            c.dim,
            c.token_hidden,
            c.channel_hidden,
            wiring=wiring,
            tail=c.tail,
            dropout=c.dropout,
        )

    def no_weight_decay(self) -> set[str]:
        return {"embed.cls_token"} if self.embed.cls_token is not None else set()

    def example_input(
        self, batch_size: int = 2, generator: torch.Generator | None = None
    ) -> Tensor:
        c = self.config
        return random_images(batch_size, c.in_chans, c.image_size, generator)
