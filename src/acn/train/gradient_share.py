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

The *full gradient* (FG) is the ordinary one. From the pair, per block i (:class:`BlockGradients`):

- ``cosine``: cos(DG_i, FG_i) of one weight, the first weight of the block's MLP
  (:func:`gradient_probe`). This is the statistic of the authors' research trainer, which compares
  the DG-only and the full gradient of their Mixer's channel-MLP ``fc1`` weight.
- ``norm_ratio``: ||DG_i|| / ||FG_i||, the norms over all of block i's parameters together (the
  *direct-gradient share*, :func:`direct_gradient_share`).
- ``full_norm`` (||FG_i||, all its parameters) and ``probe_norm`` (||FG|| of the probe weight).

:func:`gradient_statistics` and :func:`direct_gradient_share` measure on one batch with the model
in eval mode (no dropout, no random numbers drawn, so a training run's random stream is
untouched); ``.grad``, parameters and the train/eval mode are left exactly as they were.
:mod:`acn.train.grad_stats` measures on the training steps themselves.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass

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
    # an x + g(x) block takes the generic route even when it has a direct_forward (that may call
    # forward, which is direct_forward itself inside this context)
    direct = [
        keep_skip and not getattr(b, "adds_input", False) and hasattr(b, "direct_forward")
        for b in stack.blocks
    ]
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


def gradient_probe(block: nn.Module) -> nn.Parameter:
    """The first weight of the block's MLP, whose DG/FG cosine the authors' trainer records (their
    Mixer's channel-MLP ``mlp2.fc1.weight``). One rule for every family: ``fc1`` of the block's
    ``channel_mlp`` (Mixer: never the token-mixing MLP) or ``mlp`` (MLP blocks, transformers);
    a block with neither (a user's block, a bare ``nn.Linear``) uses its first ``nn.Linear``."""
    for name in ("channel_mlp", "mlp"):
        fc1 = getattr(getattr(block, name, None), "fc1", None)
        if isinstance(fc1, nn.Linear):
            return fc1.weight
    first = next((m for m in block.modules() if isinstance(m, nn.Linear)), None)
    if first is None:
        raise ConfigError(
            f"{type(block).__name__} blocks have no MLP or Linear weight whose gradient to compare"
        )
    return first.weight


class BlockLayout:
    """Which trainable parameters belong to which block of ``stack`` and, with ``probes``, which
    one is each block's probe weight; :meth:`sums` reduces a (direct, full) pair of gradient lists
    to per-block sums on the device, without a host sync."""

    def __init__(self, stack: ConnectedStack, probes: bool = True) -> None:
        groups = [[p for p in block.parameters() if p.requires_grad] for block in stack.blocks]
        self.params = [p for group in groups for p in group]
        self.num_blocks = len(groups)
        self.block_of = torch.tensor([i for i, group in enumerate(groups) for _ in group])
        index = {id(p): k for k, p in enumerate(self.params)}
        self.probes: list[int] | None = None
        if probes:
            self.probes = []
            for block in stack.blocks:
                probe = gradient_probe(block)
                if id(probe) not in index:
                    raise ConfigError(f"the probe weight of a {type(block).__name__} is frozen")
                self.probes.append(index[id(probe)])

    def sums(self, direct: list[Tensor | None], full: list[Tensor | None]) -> Tensor:
        """[5, L] float64: <DG, FG>, ||DG||^2 and ||FG||^2 of the probe weight (nan without
        probes), then ||DG||^2 and ||FG||^2 of all the block's parameters. A parameter with no
        gradient (unused by the loss) counts as zeros."""
        if not self.params:
            return torch.zeros(5, self.num_blocks, dtype=torch.float64)
        d = [g if g is not None else torch.zeros_like(p) for g, p in zip(direct, self.params)]
        f = [g if g is not None else torch.zeros_like(p) for g, p in zip(full, self.params)]
        sq_d = torch.stack(torch._foreach_norm(d)).double().pow(2)
        sq_f = torch.stack(torch._foreach_norm(f)).double().pow(2)
        out = torch.full(
            (5, self.num_blocks), float("nan"), dtype=torch.float64, device=sq_d.device
        )
        block_of = self.block_of.to(sq_d.device)
        out[3:] = 0.0
        out[3].index_add_(0, block_of, sq_d)
        out[4].index_add_(0, block_of, sq_f)
        if self.probes is not None:
            out[0] = torch.stack([(d[k].double() * f[k].double()).sum() for k in self.probes])
            out[1], out[2] = sq_d[self.probes], sq_f[self.probes]
        return out


def derived(sums: Tensor) -> Tensor:
    """[4, L] from :meth:`BlockLayout.sums`: cosine, norm ratio, full norm, probe norm; nan where
    a ratio's denominator is zero (undefined)."""
    dot, dg_probe, fg_probe, dg_block, fg_block = sums
    nan = torch.full_like(dot, float("nan"))
    probe_den = (dg_probe * fg_probe).sqrt()
    cosine = torch.where(probe_den > 0, dot / probe_den, nan)
    ratio = torch.where(fg_block > 0, (dg_block / fg_block).sqrt(), nan)
    return torch.stack([cosine, ratio, fg_block.sqrt(), fg_probe.sqrt()])


@dataclass
class BlockGradients:
    """Per block 1..L: cos(DG, FG) of the probe weight, ||DG|| / ||FG|| of all its parameters,
    ||FG|| of all its parameters and ||FG|| of the probe weight (see the module docstring)."""

    cosine: list[float]
    norm_ratio: list[float]
    full_norm: list[float]
    probe_norm: list[float]

    @classmethod
    def from_sums(cls, sums: Tensor) -> BlockGradients:
        return cls(*derived(sums).tolist())


def direct_and_full_gradients(
    stack: ConnectedStack, compute_loss: Callable[[], Tensor], params: list[nn.Parameter]
) -> tuple[list[Tensor | None], list[Tensor | None]]:
    """d loss / d ``params`` with direct paths only, then with the ordinary pass (``.grad`` is not
    touched); ``compute_loss`` runs a forward through ``stack`` and returns a scalar."""
    if not params:
        return [], []
    with direct_paths_only(stack):
        direct = torch.autograd.grad(_scalar(compute_loss()), params, allow_unused=True)
    full = torch.autograd.grad(_scalar(compute_loss()), params, allow_unused=True)
    return list(direct), list(full)


def direct_and_full_gradient_norms(
    stack: ConnectedStack, compute_loss: Callable[[], Tensor]
) -> tuple[list[float], list[float]]:
    """(||DG_i||, ||FG_i||) per block of ``stack``; ``compute_loss`` runs a forward through it.

    ``compute_loss`` is called twice (direct paths only, then the ordinary pass); it must return a
    scalar. Works on a bare :class:`ConnectedStack` as well as on a model's ``.stack``.
    """
    layout = BlockLayout(stack, probes=False)
    sums = layout.sums(*direct_and_full_gradients(stack, compute_loss, layout.params))
    return sums[3].sqrt().tolist(), sums[4].sqrt().tolist()


def gradient_statistics(
    model: nn.Module, x: Tensor, y: Tensor | None = None, loss_fn: LossFn | None = None
) -> BlockGradients:
    """Per-block DG/FG statistics of ``model`` on the batch ``(x, y)`` (module docstring).

    ``model`` is a :class:`~acn.models.StackModel` (or a DDP wrapper of one) or a bare
    :class:`ConnectedStack`; ``loss_fn(output, y)`` defaults to cross-entropy. The model's mode,
    parameters and ``.grad`` are unchanged.
    """
    model, stack = _model_and_stack(model, "gradient_statistics")
    layout = BlockLayout(stack)
    loss_fn = loss_fn or default_loss
    with _eval_mode(model), torch.enable_grad():
        grads = direct_and_full_gradients(stack, lambda: loss_fn(model(x), y), layout.params)
    return BlockGradients.from_sums(layout.sums(*grads))


def direct_gradient_share(
    model: nn.Module, x: Tensor, y: Tensor | None = None, loss_fn: LossFn | None = None
) -> list[float]:
    """||DG_i|| / ||FG_i|| for every block i of ``model`` on the batch ``(x, y)``.

    ``model`` is a :class:`~acn.models.StackModel` (or a DDP wrapper of one) or a bare
    :class:`ConnectedStack`; ``loss_fn(output, y)`` defaults to cross-entropy. A block whose full
    gradient is zero gets ``nan`` (the share is undefined). See the module docstring for what
    "direct" means in each connectivity; the model's mode, parameters and ``.grad`` are unchanged.
    """
    model, stack = _model_and_stack(model, "direct_gradient_share")
    loss_fn = loss_fn or default_loss
    with _eval_mode(model), torch.enable_grad():
        direct, full = direct_and_full_gradient_norms(stack, lambda: loss_fn(model(x), y))
    return [d / f if f > 0 else float("nan") for d, f in zip(direct, full)]


def _model_and_stack(model: nn.Module, who: str) -> tuple[nn.Module, ConnectedStack]:
    model = getattr(model, "module", model)  # DistributedDataParallel
    stack = model if isinstance(model, ConnectedStack) else getattr(model, "stack", None)
    if not isinstance(stack, ConnectedStack):
        raise ConfigError(f"{who} needs an acn model or stack, got {type(model)}")
    return model, stack


@contextmanager
def _eval_mode(model: nn.Module) -> Iterator[None]:
    was_training = model.training
    model.eval()
    try:
        yield
    finally:
        model.train(was_training)


def _scalar(loss: Tensor) -> Tensor:
    if loss.numel() != 1:
        raise ConfigError(f"the loss must be a scalar, got shape {list(loss.shape)}")
    return loss.reshape(())
