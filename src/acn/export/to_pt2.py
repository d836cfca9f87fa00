"""``torch.export`` programs (``.pt2``): written with ``torch.export.save``, run with
``torch.export.load`` alone."""

from __future__ import annotations

import io
from collections.abc import Callable
from pathlib import Path

import torch
from torch import Tensor, nn

from .graph import GraphInputs

SUFFIX = ".pt2"


def write(
    graph: nn.Module,
    inputs: GraphInputs,
    path: str,
    output_names: list[str] | None = None,
    metadata: dict[str, str] | None = None,
) -> None:
    """Export ``graph`` with a dynamic batch (and sequence) axis to ``path``; ``metadata`` is
    saved as extra files of the archive (the model's config and tokenizer)."""
    program = torch.export.export(
        graph, inputs.args, dynamic_shapes=inputs.dynamic_shapes, strict=False
    )
    # through a buffer: torch.export wants a .pt2 name, and the file is first written under a
    # temporary one (see acn.utils.atomic_write)
    buffer = io.BytesIO()
    torch.export.save(program, buffer, extra_files=metadata or None)
    Path(path).write_bytes(buffer.getvalue())


def read_metadata(path: str, keys: list[str]) -> dict[str, str]:
    """The extra files ``keys`` of the program at ``path`` ('' for absent ones)."""
    extra = dict.fromkeys(keys, "")
    torch.export.load(io.BytesIO(Path(path).read_bytes()), extra_files=extra)
    return extra


def load(path: str) -> Callable[..., tuple[Tensor, ...]]:
    """The program at ``path`` as a function of its inputs returning its outputs (a tuple)."""
    module = torch.export.load(io.BytesIO(Path(path).read_bytes())).module()

    def call(*args: Tensor) -> tuple[Tensor, ...]:
        with torch.no_grad():
            out = module(*args)
        return tuple(out) if isinstance(out, (tuple, list)) else (out,)

    return call


def run(path: str, args: tuple[Tensor, ...]) -> Tensor:
    """Load the program at ``path`` and run it on ``args``."""
    return load(path)(*args)[0]
