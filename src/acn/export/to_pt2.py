"""``torch.export`` programs (``.pt2``): written with ``torch.export.save``, run with
``torch.export.load`` alone."""

from __future__ import annotations

import io
from pathlib import Path

import torch
from torch import Tensor

from .graph import GraphInputs, LogitsGraph

SUFFIX = ".pt2"


def write(graph: LogitsGraph, inputs: GraphInputs, path: str) -> None:
    """Export ``graph`` with a dynamic batch (and sequence) axis to ``path``."""
    program = torch.export.export(
        graph, inputs.args, dynamic_shapes=inputs.dynamic_shapes, strict=False
    )
    # through a buffer: torch.export wants a .pt2 name, and the file is first written under a
    # temporary one (see acn.utils.atomic_write)
    buffer = io.BytesIO()
    torch.export.save(program, buffer)
    Path(path).write_bytes(buffer.getvalue())


def run(path: str, args: tuple[Tensor, ...]) -> Tensor:
    """Load the program at ``path`` and run it on ``args``."""
    module = torch.export.load(io.BytesIO(Path(path).read_bytes())).module()
    with torch.no_grad():
        return module(*args)
