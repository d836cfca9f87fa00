"""FSDP2 (``torch.distributed.fsdp.fully_shard``) for every family, as ``strategy: fsdp``.

Every block is its own unit, the head another when it has parameters of its own (a head tied to
the embedding table reads the root's), and the root takes the rest; the optimizer is built after sharding, on the sharded parameters. The model's
per-depth methods run through the root's hooks like ``forward``, so losses that read every
depth (exit losses, LayerSkip) work; layer dropout computes every block and masks the skipped
rows, so every rank calls every block and no collective is left waiting.

What leaves the job is full, unsharded state: :func:`full_model` gathers the weights into an
ordinary model (evaluation, the checkpoint's model file, the finished run's model), and
:func:`full_optimizer_state` the optimizer state keyed by parameter name, which
:func:`load_optimizer_state` puts back on any number of processes, or on one.
"""

from __future__ import annotations

import copy
import dataclasses
from typing import Any

import torch
from torch import Tensor
from torch.distributed.checkpoint.state_dict import (
    StateDictOptions,
    get_model_state_dict,
    get_optimizer_state_dict,
    set_optimizer_state_dict,
)
from torch.distributed.device_mesh import init_device_mesh
from torch.distributed.fsdp import fully_shard, register_fsdp_forward_method
from torch.distributed.tensor import DTensor

from ..models.base import StackModel

STRATEGIES = ("ddp", "fsdp")
# the model methods a loss may call instead of forward (see acn.train.distributed.TrainingModel)
FORWARD_METHODS = ("logits_per_depth", "features_per_depth")


def shard(model: StackModel, device: torch.device, world_size: int) -> None:
    """Shard ``model`` in place over the ``world_size`` processes of the job."""
    mesh = init_device_mesh(device.type, (world_size,))
    for block in model.stack.blocks:
        fully_shard(block, mesh=mesh)
    if any(True for _ in model.head.parameters()):  # a tied head has none: the root holds them
        # its own unit, kept gathered between the calls of one step (exit losses read it per depth)
        fully_shard(model.head, mesh=mesh, reshard_after_forward=False)
    fully_shard(model, mesh=mesh)
    for name in FORWARD_METHODS:
        register_fsdp_forward_method(model, name)


def is_sharded(model: StackModel) -> bool:
    return any(isinstance(p, DTensor) for p in model.parameters())


def full_model(model: StackModel) -> StackModel:
    """An ordinary (unsharded) copy of a sharded ``model`` with its full weights, on every rank
    (a collective: every rank must call it)."""
    state = get_model_state_dict(model, options=StateDictOptions(full_state_dict=True))
    # own storage per tensor: gathered ones may be views into one buffer (safetensors refuses)
    state = {k: v.detach().clone() for k, v in state.items()}
    with torch.device("meta"):
        plain = type(model)(dataclasses.replace(model.config))
    plain.load_state_dict(state, assign=True)
    plain.pretrained_cfg = copy.deepcopy(model.pretrained_cfg)
    device = next(iter(state.values())).device
    return plain.to(device).train(model.training)


def full_optimizer_state(model: StackModel, optimizer: torch.optim.Optimizer) -> dict[str, Any]:
    """The optimizer state, full and keyed by parameter name (a collective)."""
    return get_optimizer_state_dict(
        model, optimizer, options=StateDictOptions(full_state_dict=True, cpu_offload=True)
    )


def load_optimizer_state(
    model: StackModel, optimizer: torch.optim.Optimizer, state: dict[str, Any]
) -> None:
    """Load a :func:`full_optimizer_state` into ``optimizer`` (sharded or not)."""
    set_optimizer_state_dict(
        model, optimizer, optim_state_dict=state, options=StateDictOptions(full_state_dict=True)
    )


def local(t: Tensor) -> Tensor:
    """This rank's shard of a sharded tensor (a plain tensor as it is)."""
    return t.to_local() if isinstance(t, DTensor) else t
