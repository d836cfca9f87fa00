"""Vision Transformer: pre-LN blocks, SDPA attention, cls token, learned position embeddings."""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor, nn

from ..blocks import TransformerBlock
from ..wiring import Wiring
from .base import ModelConfig, StackModel
from .embed import PatchEmbed, random_images
from .init import init_transformer_weights


@dataclass
class ViTConfig(ModelConfig):
    image_size: int = 224
    in_chans: int = 3
    patch_size: int = 16
    dim: int = 768
    num_heads: int = 12
    mlp_ratio: float = 4.0
    pool: str = "cls"
    dropout: float = 0.0


class ViTEmbed(nn.Module):
    """Patches, a learned cls token and learned position embeddings (on every token)."""

    def __init__(self, c: ViTConfig) -> None:
        super().__init__()
        self.patch = PatchEmbed(c.image_size, c.patch_size, c.in_chans, c.dim)
        self.cls_token = nn.Parameter(torch.zeros(1, 1, c.dim))
        self.pos_embed = nn.Parameter(torch.zeros(1, self.patch.num_patches + 1, c.dim))
        self.drop = nn.Dropout(c.dropout) if c.dropout > 0 else nn.Identity()

    def forward(self, x: Tensor) -> Tensor:
        tokens = self.patch(x)
        cls = self.cls_token.expand(tokens.shape[0], -1, -1)
        return self.drop(torch.cat([cls, tokens], dim=1) + self.pos_embed)


class ViTModel(StackModel):
    """Patches + cls + pos -> L pre-LN transformer blocks -> LayerNorm -> cls -> Linear head."""

    family = "vit"
    config_class = ViTConfig
    config: ViTConfig

    def build_embed(self) -> nn.Module:
        return ViTEmbed(self.config)

    def build_block(self, index: int, wiring: Wiring) -> nn.Module:
        c = self.config
        return TransformerBlock(
            c.dim,
            c.num_heads,
            int(c.dim * c.mlp_ratio),
            wiring=wiring,
            norm_first=True,
            dropout=c.dropout,
        )

    def build_norm(self) -> nn.Module:
        return nn.LayerNorm(self.width, eps=1e-6)

    def init_weights(self) -> None:
        init_transformer_weights(self)
        nn.init.trunc_normal_(self.embed.pos_embed, std=0.02)
        nn.init.trunc_normal_(self.embed.cls_token, std=0.02)

    def no_weight_decay(self) -> set[str]:
        return {"embed.cls_token", "embed.pos_embed"}

    def example_input(
        self, batch_size: int = 2, generator: torch.Generator | None = None
    ) -> Tensor:
        c = self.config
        return random_images(batch_size, c.in_chans, c.image_size, generator)
