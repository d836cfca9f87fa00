"""The 1-D linear toy network of the paper's Table 1, shared by the gradient tests."""

from __future__ import annotations

import torch
from torch import nn


class Scale(nn.Module):
    """The 1-D linear toy layer x -> w x (paper Table 1)."""

    def __init__(self, w: float) -> None:
        super().__init__()
        self.w = nn.Parameter(torch.tensor(float(w), dtype=torch.float64))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.w * x
