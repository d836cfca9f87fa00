"""MLP for vector inputs (flattened images or feature vectors)."""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor, nn

from ..blocks import MLPBlock
from ..errors import DataError
from ..wiring import Wiring
from .base import ModelConfig, StackModel


@dataclass
class MLPConfig(ModelConfig):
    in_features: int = 784
    dim: int = 256
    hidden: int = 512
    dropout: float = 0.0


class MLPEmbed(nn.Module):
    """Flatten whatever comes in, then a Linear to the stream width."""

    def __init__(self, in_features: int, dim: int) -> None:
        super().__init__()
        self.in_features = in_features
        self.proj = nn.Linear(in_features, dim)

    def forward(self, x: Tensor) -> Tensor:
        x = x.flatten(1)
        if x.shape[1] != self.in_features:
            raise DataError(f"expected inputs with {self.in_features} features, got {x.shape[1]}")
        return self.proj(x)


class MLPModel(StackModel):
    """Embed -> L pre-LN MLP blocks -> LayerNorm -> Linear head."""

    family = "mlp"
    config_class = MLPConfig
    has_tokens = False  # one vector per sample: the head predicts per sample without pooling
    flattens_input = True
    undefined_modes = {"value-residual": "its blocks have no attention, so no values"}
    config: MLPConfig

    def build_embed(self) -> nn.Module:
        return MLPEmbed(self.config.in_features, self.config.dim)

    def build_block(self, index: int, wiring: Wiring) -> nn.Module:
        c = self.config
        return MLPBlock(c.dim, c.hidden, wiring=wiring, dropout=c.dropout)

    def example_input(
        self, batch_size: int = 2, generator: torch.Generator | None = None
    ) -> Tensor:
        return torch.randn(batch_size, self.config.in_features, generator=generator)
