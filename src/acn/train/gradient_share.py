"""Direct-gradient share: how much of each block's gradient arrives through its own connection.

For block i the *direct gradient* (DG) is the gradient the loss sends to block i's parameters
through block i's own path to the output alone, not through any later block's function. It is
measured by a second pass in which every block's function sees a detached input:

- ``acn``: block i reads ``x_{i-1}.detach()``, the head still reads ``x_0 + sum_i x_i``; this is
  exactly the ``acn-dg`` wiring, so DG_i = dL/dx_i-through-the-long-connection (paper section 3.1).
- residual-type modes (``residual``, ``denseformer``, ``densenet``): the skip paths are kept and
  only the blocks' learned sub-layers are cut off. For a block of the form x + g(x) that is
  x_i = x_{i-1} + g_i(x_{i-1}.detach()) in value and gradient. A block of another form provides
  ``direct_forward`` (see :mod:`acn.blocks`): the paper Mixer's tail LN(ReLU(Linear(h) + x)) keeps
  only its ``+ x`` term's gradient (through the ReLU and the LayerNorm), post-LN BERT keeps its two
  residual adds (through the LayerNorms after them). So DG_i is the gradient that flows from the
  loss into block i's output along skip (and learned dense) connections only, never through a
  later block's sub-layers; block i's own parameters get their full gradient from that output. A
  block that neither adds its input (``adds_input``) nor has ``direct_forward`` is refused.
- ``feedforward`` has no such path: DG_i = 0 for every block but the last.
- hacn, hyper-connections, LAuReL and value-residual: as the residual-type modes. Library blocks
  run their joins with the sub-layers reading a detached stream and the joins' skip terms (the
  gate g_i x, the streams' mixing, LAuReL's weighted and low-rank skips) the live one; hacn's
  long connection carries sub-layer outputs of detached inputs; the first block's attention
  values reach later blocks detached. Plain user blocks wired by the stack simply read a
  detached input, the stack's join around them keeping the skip.

The *full gradient* (FG) is the ordinary one. The share of block i is ||DG_i|| / ||FG_i||, the norms
taken over all of block i's parameters together. Both passes run on the same fixed batch with the
model in eval mode (no dropout, no random numbers drawn, so a training run's random stream is
untouched); ``.grad``, parameters and the train/eval mode are left exactly as they were.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from ..connectivity import ConnectedStack
from ..data.mlm import IGNORE_INDEX
from ..errors import ConfigError

LossFn = Callable[[Tensor, Tensor], Tensor]


def default_loss(output: Tensor, target: Tensor) -> Tensor:
    """Cross-entropy over the last axis; token targets of ``IGNORE_INDEX`` are ignored (MLM)."""
    return F.cross_entropy(
        output.reshape(-1, output.shape[-1]).float(), target.reshape(-1), ignore_index=IGNORE_INDEX
    )


@contextmanager
def direct_paths_only(stack: ConnectedStack) -> Iterator[None]:
    """Inside this context every block of ``stack`` sees a detached input (see module docstring).

    Forward values are unchanged bit for bit; only the backward graph loses the paths through later
    blocks' functions. Implemented with hooks, so the stack's own wiring code runs as usual.
    """
    # Blocks that hold their own skips (library families in residual-type modes) run their
    # direct_forward, or, when the block is x + g(x), detach their input and get the identity's
    # gradient back by adding (h - h.detach()), which is zero. Elsewhere (acn modes, and plain
    # blocks whose skip the stack adds) the block's input is simply detached.
    keep_skip = stack.blocks_have_residual
    direct = [keep_skip and hasattr(b, "direct_forward") for b in stack.blocks]
    for block, has_direct in zip(stack.blocks, direct):
        if keep_skip and not has_direct and not getattr(block, "adds_input", False):
            raise ConfigError(
                f"the direct-gradient share is not defined for {type(block).__name__} blocks: "
                "their output is not x + f(x) (adds_input) and they have no direct_forward"
            )
    inputs: dict[int, Tensor] = {}

    def detach_input(module: nn.Module, args: tuple, kwargs: dict) -> tuple[tuple, dict]:
        inputs[id(module)] = args[0]
        return (args[0].detach(), *args[1:]), kwargs

    def restore_skip(module: nn.Module, args: tuple, output: Tensor) -> Tensor:
        h = inputs.pop(id(module))
        return output + (h - h.detach()) if keep_skip else output

    handles = []
    try:
        for block, has_direct in zip(stack.blocks, direct):
            if has_direct:  # an instance attribute shadows the class's forward until removed
                block.forward = block.direct_forward
                continue
            handles.append(block.register_forward_pre_hook(detach_input, with_kwargs=True))
            handles.append(block.register_forward_hook(restore_skip))
        yield
    finally:
        for handle in handles:
            handle.remove()
        for block, has_direct in zip(stack.blocks, direct):
            if has_direct:
                del block.forward


def _block_grad_norms(stack: ConnectedStack, loss: Tensor) -> list[float]:
    """L2 norm of d loss / d (all parameters of block i), per block, without touching ``.grad``."""
    groups = [[p for p in block.parameters() if p.requires_grad] for block in stack.blocks]
    flat = [p for group in groups for p in group]
    grads = list(torch.autograd.grad(loss, flat, allow_unused=True)) if flat else []
    norms, start = [], 0
    for group in groups:
        block_grads = [g for g in grads[start : start + len(group)] if g is not None]
        start += len(group)
        norms.append(sum(float(g.double().pow(2).sum()) for g in block_grads) ** 0.5)
    return norms


def direct_and_full_gradient_norms(
    stack: ConnectedStack, compute_loss: Callable[[], Tensor]
) -> tuple[list[float], list[float]]:
    """(||DG_i||, ||FG_i||) per block of ``stack``; ``compute_loss`` runs a forward through it.

    ``compute_loss`` is called twice (direct paths only, then the ordinary pass); it must return a
    scalar. Works on a bare :class:`ConnectedStack` as well as on a model's ``.stack``.
    """
    with direct_paths_only(stack):
        direct = _block_grad_norms(stack, _scalar(compute_loss()))
    full = _block_grad_norms(stack, _scalar(compute_loss()))
    return direct, full


def direct_gradient_share(
    model: nn.Module, x: Tensor, y: Tensor | None = None, loss_fn: LossFn | None = None
) -> list[float]:
    """||DG_i|| / ||FG_i|| for every block i of ``model`` on the batch ``(x, y)``.

    ``model`` is a :class:`~acn.models.StackModel` (or a DDP wrapper of one) or a bare
    :class:`ConnectedStack`; ``loss_fn(output, y)`` defaults to cross-entropy. A block whose full
    gradient is zero gets ``nan`` (the share is undefined). See the module docstring for what
    "direct" means in each connectivity; the model's mode, parameters and ``.grad`` are unchanged.
    """
    model = getattr(model, "module", model)  # DistributedDataParallel
    stack = model if isinstance(model, ConnectedStack) else getattr(model, "stack", None)
    if not isinstance(stack, ConnectedStack):
        raise ConfigError(f"direct_gradient_share needs an acn model or stack, got {type(model)}")
    loss_fn = loss_fn or default_loss
    was_training = model.training
    model.eval()
    try:
        with torch.enable_grad():
            direct, full = direct_and_full_gradient_norms(stack, lambda: loss_fn(model(x), y))
    finally:
        model.train(was_training)
    return [d / f if f > 0 else float("nan") for d, f in zip(direct, full)]


def _scalar(loss: Tensor) -> Tensor:
    if loss.numel() != 1:
        raise ConfigError(f"the loss must be a scalar, got shape {list(loss.shape)}")
    return loss.reshape(())
