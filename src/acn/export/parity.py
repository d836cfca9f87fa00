"""How closely an exported graph reproduces eager PyTorch on the same inputs."""

from __future__ import annotations

from dataclasses import asdict, dataclass

from torch import Tensor

from ..errors import ConfigError


@dataclass
class Parity:
    """Largest absolute logit difference, and the share of predictions (argmax over the last
    axis: classes, or vocabulary per token) that agree; with all depths, the worst depth."""

    max_abs_diff: float
    top1_agreement: float
    num_inputs: int

    def to_dict(self) -> dict[str, float | int]:
        return asdict(self)


def compare(exported: Tensor, eager: Tensor, all_depths: bool = False) -> Parity:
    """``exported`` vs ``eager`` logits of the same shape: [B, ...], or [L+1, B, ...] with
    ``all_depths``."""
    if exported.shape != eager.shape:
        raise ConfigError(
            f"exported graph gives logits of shape {list(exported.shape)}, "
            f"eager PyTorch {list(eager.shape)}"
        )
    exported, eager = exported.float(), eager.float()
    agree = exported.argmax(-1) == eager.argmax(-1)
    if all_depths:
        top1 = float(agree.flatten(1).float().mean(1).min())
    else:
        top1 = float(agree.float().mean())
    diff = float((exported - eager).abs().max()) if eager.numel() else 0.0
    num_inputs = eager.shape[1] if all_depths else eager.shape[0]
    return Parity(max_abs_diff=diff, top1_agreement=top1, num_inputs=int(num_inputs))
