"""torchrun DDP in the nanoGPT style, and the model as a loss function sees it.

``torchrun --nproc_per_node=N -m acn train CONFIG`` sets RANK / LOCAL_RANK / WORLD_SIZE; without
them training runs in one process and every helper here is a no-op. Rank 0 logs and writes
checkpoints; all ranks run the same code otherwise.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any

import torch
import torch.distributed as dist
from torch import Tensor, nn

from ..errors import ConfigError
from ..models.base import StackModel
from . import fsdp


@dataclass(frozen=True)
class DistContext:
    """Where this process stands in the job."""

    rank: int = 0
    local_rank: int = 0
    world_size: int = 1

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    @property
    def enabled(self) -> bool:
        return self.world_size > 1 or dist.is_initialized()


def amp_setup(mode: str, device: torch.device) -> tuple[torch.dtype | None, Any]:
    """(autocast dtype or None, GradScaler or None): AMP is for CUDA only."""
    if mode == "off" or (mode == "auto" and device.type != "cuda"):
        return None, None
    if device.type != "cuda":
        raise ConfigError(f"amp={mode} needs a CUDA device, training runs on {device}")
    if mode == "auto":
        mode = "bf16" if torch.cuda.is_bf16_supported() else "fp16"
    if mode == "bf16":
        return torch.bfloat16, None
    return torch.float16, torch.amp.GradScaler("cuda")


def resolve_device(name: str, local_rank: int = 0) -> torch.device:
    """``auto`` -> cuda (this process's GPU under torchrun) if available, else cpu."""
    if name == "auto":
        name = "cuda" if torch.cuda.is_available() else "cpu"
    try:
        device = torch.device(name)
    except RuntimeError:
        raise ConfigError(f"unknown device {name!r}; use auto, cpu or cuda[:N]") from None
    if device.type == "cuda":
        if not torch.cuda.is_available():
            raise ConfigError(f"device {name!r} requested but CUDA is not available")
        if device.index is None:
            device = torch.device("cuda", local_rank)
    return device


def setup(device_name: str) -> tuple[DistContext, torch.device]:
    """Join the torchrun process group if launched by torchrun; returns (context, device)."""
    if int(os.environ.get("RANK", -1)) < 0:
        return DistContext(), resolve_device(device_name)
    ctx = DistContext(
        rank=int(os.environ["RANK"]),
        local_rank=int(os.environ.get("LOCAL_RANK", 0)),
        world_size=int(os.environ.get("WORLD_SIZE", 1)),
    )
    device = resolve_device(device_name, ctx.local_rank)
    if device.type == "cuda":
        torch.cuda.set_device(device)
    if not dist.is_initialized():
        dist.init_process_group(backend="nccl" if device.type == "cuda" else "gloo")
    return ctx, device


def teardown(ctx: DistContext) -> None:
    if ctx.enabled and dist.is_initialized():
        dist.destroy_process_group()


def all_reduce_sum(t: Tensor, ctx: DistContext) -> Tensor:
    """Sum ``t`` over all processes (in place) and return it."""
    if ctx.enabled:
        dist.all_reduce(t, op=dist.ReduceOp.SUM)
    return t


def barrier(ctx: DistContext) -> None:
    if ctx.enabled:
        dist.barrier()


def broadcast_int(value: int, ctx: DistContext, src: int = 0) -> int:
    """Rank ``src``'s ``value`` on every process (a decision made once, followed by all)."""
    if not ctx.enabled:
        return int(value)
    device = torch.device("cuda", ctx.local_rank) if dist.get_backend() == "nccl" else None
    t = torch.tensor([int(value)], dtype=torch.int64, device=device)
    dist.broadcast(t, src=src)
    return int(t.item())


def shard_bounds(n: int, rank: int, world_size: int) -> tuple[int, int]:
    """Rows [lo, hi) of an n-row batch that ``rank`` takes (the same cut as ``acn.data.Batches``)."""
    return rank * n // world_size, (rank + 1) * n // world_size


class _MethodRouter(nn.Module):
    """``forward(method, *args)`` calls ``model.<method>(*args)``, so DDP's forward runs for it."""

    def __init__(self, model: StackModel) -> None:
        super().__init__()
        self.model = model

    def forward(self, method: str, *args: Any, **kwargs: Any) -> Any:
        # the model's own __call__ for forward, so its hooks (FSDP's all-gathers) run
        fn = self.model if method == "forward" else getattr(self.model, method)
        return fn(*args, **kwargs)


class TrainingModel:
    """The model as a loss function sees it: ``model(x)``, ``logits_per_depth(x)``,
    ``features_per_depth(x)`` or ``call(name, ...)`` run through DDP when there is a process
    group (so gradients are all-reduced); any other attribute is the plain model's.

    ``strategy="fsdp"`` shards the model in place instead (:mod:`acn.train.fsdp`; build the
    optimizer afterwards) and the calls go to the sharded model itself.

    A loss should make ONE such call per step (one forward pass) and read everything else off
    its result; further plain-model calls in the same step are fine for parameters DDP knows of.
    """

    def __init__(
        self, model: StackModel, ctx: DistContext, device: torch.device, strategy: str = "ddp"
    ) -> None:
        self.module = model
        self.sharded = strategy == "fsdp" and ctx.enabled
        router: nn.Module = _MethodRouter(model)
        if self.sharded:
            fsdp.shard(model, device, ctx.world_size)
        elif ctx.enabled:
            ids = [device.index] if device.type == "cuda" else None
            router = nn.parallel.DistributedDataParallel(router, device_ids=ids)
        self._router = router

    def full_model(self) -> StackModel:
        """The model with its full weights as an ordinary module: itself, or for FSDP a
        gathered copy (a collective: every rank calls it)."""
        return fsdp.full_model(self.module) if self.sharded else self.module

    def optimizer_state(self, optimizer: torch.optim.Optimizer) -> dict[str, Any]:
        """What a checkpoint stores of ``optimizer`` (FSDP: full, keyed by name; a collective)."""
        if self.sharded:
            return {"fsdp": fsdp.full_optimizer_state(self.module, optimizer)}
        return optimizer.state_dict()

    def load_optimizer_state(self, optimizer: torch.optim.Optimizer, state: dict) -> None:
        if "fsdp" in state:  # written by an FSDP run: by parameter name, on any process count
            fsdp.load_optimizer_state(self.module, optimizer, state["fsdp"])
        elif self.sharded:
            raise ConfigError(
                "this checkpoint's optimizer state was written without FSDP; resume it with "
                "strategy: ddp"
            )
        else:
            optimizer.load_state_dict(state)

    def call(self, method: str, *args: Any, **kwargs: Any) -> Any:
        return self._router(method, *args, **kwargs)

    def __call__(self, x: Tensor, **kwargs: Any) -> Tensor:
        return self.call("forward", x, **kwargs)

    def logits_per_depth(self, x: Tensor) -> Tensor:
        return self.call("logits_per_depth", x)

    def features_per_depth(self, x: Tensor, keep: Tensor | None = None) -> Tensor:
        return self.call("features_per_depth", x, keep=keep)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.module, name)
