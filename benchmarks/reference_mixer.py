"""The authors' CIFAR-10 AC/Res-Mixer, rebuilt from its description for speed comparisons only.

paper.md section 2.3 describes the official `ac_mixer.py` / `res_mixer.py` (based on
omihub777/MLP-Mixer-CIFAR): Conv2d(3, 128, k=4, s=4) patch embedding, a randn cls token, token MLP
`LN -> Conv1d(65->64, k=1) -> GELU -> Conv1d(64->65, k=1)`, channel MLP
`LN -> Linear(128->512) -> GELU -> Linear(512->128)`, per-layer tail `LN(ReLU(Linear(h) + x))`, and
the AC forward `current = emb; out = emb; for layer: out = layer(out); current = current + out`.
This module reproduces that structure (one module per sub-layer, convolutions where they use
convolutions) so that `benchmarks/mixer_vs_reference.py` can time it against `acn`'s
implementation of the same function on the same machine. It is not part of the package.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn


class TokenMLP(nn.Module):
    def __init__(self, tokens: int, hidden: int, dim: int) -> None:
        super().__init__()
        self.ln = nn.LayerNorm(dim)
        self.fc1 = nn.Conv1d(tokens, hidden, kernel_size=1)
        self.fc2 = nn.Conv1d(hidden, tokens, kernel_size=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc2(F.gelu(self.fc1(self.ln(x))))


class ChannelMLP(nn.Module):
    def __init__(self, dim: int, hidden: int) -> None:
        super().__init__()
        self.ln = nn.LayerNorm(dim)
        self.fc1 = nn.Linear(dim, hidden)
        self.fc2 = nn.Linear(hidden, dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc2(F.gelu(self.fc1(self.ln(x))))


class Layer(nn.Module):
    def __init__(
        self, tokens: int, dim: int, token_hidden: int, channel_hidden: int, residual: bool
    ):
        super().__init__()
        self.mlp1 = TokenMLP(tokens, token_hidden, dim)
        self.mlp2 = ChannelMLP(dim, channel_hidden)
        self.linear = nn.Linear(dim, dim)
        self.ln = nn.LayerNorm(dim)
        self.residual = residual

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.residual:
            h = self.mlp1(x) + x
            h = self.mlp2(h) + h
        else:
            h = self.mlp2(self.mlp1(x))
        return self.ln(F.relu(self.linear(h) + x))


class ReferenceMixer(nn.Module):
    """AC (``residual=False``) or Res Mixer with the authors' structure and default sizes."""

    def __init__(
        self,
        residual: bool = False,
        depth: int = 16,
        dim: int = 128,
        token_hidden: int = 64,
        channel_hidden: int = 512,
        num_classes: int = 10,
    ) -> None:
        super().__init__()
        self.residual = residual
        self.patch = nn.Conv2d(3, dim, kernel_size=4, stride=4)
        self.cls_token = nn.Parameter(torch.randn(1, 1, dim))
        self.layers = nn.ModuleList(
            Layer(65, dim, token_hidden, channel_hidden, residual) for _ in range(depth)
        )
        self.ln = nn.LayerNorm(dim)
        self.clf = nn.Linear(dim, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.patch(x).flatten(2).transpose(1, 2)  # b d h w -> b (h w) d
        out = torch.cat([self.cls_token.repeat(out.size(0), 1, 1), out], dim=1)
        if self.residual:
            for layer in self.layers:
                out = layer(out)
            current = out
        else:
            current = out
            for layer in self.layers:
                out = layer(out)
                current = current + out
        return self.clf(self.ln(current)[:, 0])
