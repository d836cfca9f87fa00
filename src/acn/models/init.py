"""Weight initialisation shared by the transformer families."""

from __future__ import annotations

from torch import nn


def init_transformer_weights(model: nn.Module, std: float = 0.02) -> None:
    """BERT/timm-style init: N(0, std) for Linear and Embedding weights, zero biases, unit norms.

    Connectivity parameters (DenseFormer / DenseNet weights) are not Linear or Embedding modules,
    so their residual-equivalent init is left alone.
    """
    for m in model.modules():
        if isinstance(m, nn.Linear):
            nn.init.trunc_normal_(m.weight, std=std)
            if m.bias is not None:
                nn.init.zeros_(m.bias)
        elif isinstance(m, nn.Embedding):
            nn.init.normal_(m.weight, std=std)
        elif isinstance(m, nn.LayerNorm):
            nn.init.ones_(m.weight)
            nn.init.zeros_(m.bias)
