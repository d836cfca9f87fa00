"""ONNX files through the dynamo exporter (``torch.onnx.export(..., dynamo=True)``), checked
with ``onnx.checker`` and run with ONNX Runtime.

``onnx``, ``onnxscript`` and ``onnxruntime`` are an optional extra: they are imported here, when
an ONNX export is asked for, and their absence is a one-line error naming the extra.
"""

from __future__ import annotations

import contextlib
import importlib
import logging
import warnings
from collections.abc import Iterator
from types import ModuleType

import torch
from torch import Tensor

from ..errors import ConfigError
from .graph import GraphInputs, LogitsGraph

SUFFIX = ".onnx"
EXTRA = 'pip install -e ".[export]"'


def require(name: str) -> ModuleType:
    """Import an optional package of the ``export`` extra, or say which extra to install."""
    try:
        return importlib.import_module(name)
    except ImportError as e:
        raise ConfigError(f"ONNX export needs {name} (missing: {e.name}); run {EXTRA}") from None


def check_extra() -> None:
    """Fail before any work if the extra is missing."""
    for name in ("onnx", "onnxscript", "onnxruntime"):
        require(name)


@contextlib.contextmanager
def quiet() -> Iterator[None]:
    """Silence the exporter's notes (skipped torchvision ops, axis renames, deprecations): the
    command checks the result itself and prints one line about it."""
    log = logging.getLogger("torch.onnx")
    level = log.level
    log.setLevel(logging.ERROR)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            yield
    finally:
        log.setLevel(level)


def write(graph: LogitsGraph, inputs: GraphInputs, path: str) -> None:
    """Export ``graph`` with a dynamic batch (and sequence) axis to one self-contained file."""
    check_extra()
    with quiet():
        _export(graph, inputs, path)
    require("onnx").checker.check_model(path, full_check=True)


def _export(graph: LogitsGraph, inputs: GraphInputs, path: str) -> None:
    torch.onnx.export(
        graph,
        inputs.args,
        path,
        dynamo=True,
        input_names=inputs.names,
        output_names=["logits"],
        dynamic_shapes=inputs.dynamic_shapes,
        external_data=False,  # one file: the weights inside, nothing beside it to lose
        verbose=False,
    )


def session(path: str):
    """An ONNX Runtime CPU session for the file at ``path``."""
    ort = require("onnxruntime")
    return ort.InferenceSession(path, providers=["CPUExecutionProvider"])


def run(path: str, args: tuple[Tensor, ...]) -> Tensor:
    """Run the file at ``path`` with ONNX Runtime on ``args`` (fed by position)."""
    sess = session(path)
    feeds = {i.name: a.numpy() for i, a in zip(sess.get_inputs(), args)}
    return torch.from_numpy(sess.run(None, feeds)[0])
