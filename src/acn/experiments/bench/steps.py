"""Training steps the benchmarks time, and the memory a step holds.

Two recipes, so that "same optimizer on both sides" and "each side's own default" can be told apart:

- :func:`plain_step`: zero_grad, forward, cross-entropy, backward, ``torch.optim.AdamW`` with
  torch's default implementation for the device. Works on any ``nn.Module`` (peers included).
- :func:`acn_step`: what ``acn train`` runs per step: ``build_optimizer`` (decay groups, fused
  AdamW), label-smoothed cross-entropy, one fused gradient norm + clipping (``GradNorms``).
"""

from __future__ import annotations

from collections.abc import Callable

import torch
import torch.nn.functional as F
from torch import Tensor, nn
from torch.profiler import record_function

from ...models.base import StackModel
from ...runs.config import OptimSection
from ...train.grad_norms import GradNorms, clip_with_norm
from ...train.optim import build_optimizer

Step = Callable[[], None]
OPTIMIZER_REGION = "optimizer"  # profiler label of gradient clipping + the optimizer update


def logits_of(out) -> Tensor:
    """A model's logits: a tensor, the first of a tuple (the authors' Mixer returns
    ``(logits, per_depth)``) or the ``.logits`` of a Hugging Face output."""
    if isinstance(out, tuple):
        return out[0]
    return out if isinstance(out, Tensor) else out.logits


def plain_step(model: nn.Module, x: Tensor, y: Tensor, *, fused: bool = False) -> Step:
    """One AdamW step (lr 1e-3; torch's default implementation unless ``fused``)."""
    opt = torch.optim.AdamW(model.parameters(), lr=1e-3, fused=fused or None)

    def step() -> None:
        opt.zero_grad(set_to_none=True)
        F.cross_entropy(logits_of(model(x)), y).backward()
        opt.step()

    return step


def acn_step(model: StackModel, x: Tensor, y: Tensor) -> Step:
    """One step of ``acn train``'s recipe with the default optimizer settings."""
    cfg = OptimSection()
    opt = build_optimizer(model, cfg)
    norms = GradNorms(model)

    def step() -> None:
        opt.zero_grad(set_to_none=True)
        logits = model(x).float()
        if logits.dim() == 3:  # a causal LM: next-token labels [B, T], every position scored
            logits = logits.flatten(0, 1)
        loss = F.cross_entropy(logits, y.flatten(), label_smoothing=cfg.label_smoothing)
        loss.backward()
        with record_function(OPTIMIZER_REGION):  # names the region in profiles (~1 us otherwise)
            clip_with_norm(norms.params, cfg.grad_clip, norms.measure())
            opt.step()

    return step


def batch(model: StackModel, size: int, seed: int = 0) -> tuple[Tensor, Tensor]:
    """A fixed random batch (the model's example input and class labels; for a causal LM, a
    next-token label at every position) on its device."""
    gen = torch.Generator().manual_seed(seed)
    x = model.example_input(size, generator=gen)
    shape = x.shape if model.predicts_per_token else (size,)
    y = torch.randint(0, model.config.num_classes, shape, generator=gen)
    device = next(model.parameters()).device
    return x.to(device), y.to(device)


def saved_activation_bytes(model: nn.Module, x: Tensor, y: Tensor) -> int:
    """Bytes of the distinct storages autograd saves for backward in one forward + loss: the
    activation memory a training step holds at its peak (weights excluded)."""
    seen: dict[tuple, int] = {}

    def pack(t: Tensor) -> Tensor:
        if t.device.type != "meta":
            storage = t.untyped_storage()
            seen[(t.device, storage.data_ptr())] = storage.nbytes()
        return t

    with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
        loss = F.cross_entropy(logits_of(model(x)), y)
    del loss
    params = {(p.device, p.untyped_storage().data_ptr()) for p in model.parameters()}
    return sum(n for key, n in seen.items() if key not in params)


def state_bytes(model: nn.Module) -> int:
    """Weights + gradients + AdamW's two moments: 4 x the parameter bytes."""
    return 4 * sum(p.numel() * p.element_size() for p in model.parameters() if p.requires_grad)
