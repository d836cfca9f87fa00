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
from collections.abc import Callable, Iterator
from types import ModuleType

import torch
from torch import Tensor, nn

from ..errors import ConfigError
from .graph import GraphInputs

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


def write(
    graph: nn.Module,
    inputs: GraphInputs,
    path: str,
    output_names: list[str] | None = None,
    metadata: dict[str, str] | None = None,
) -> None:
    """Export ``graph`` with a dynamic batch (and sequence) axis to one self-contained file;
    ``metadata`` goes into the file's metadata_props (the model's config and tokenizer)."""
    check_extra()
    with quiet():
        _export(graph, inputs, path, output_names or ["logits"])
    onnx = require("onnx")
    if metadata:
        proto = onnx.load(path)
        for key, value in metadata.items():
            entry = proto.metadata_props.add()
            entry.key, entry.value = key, value
        onnx.save(proto, path)
    onnx.checker.check_model(path, full_check=True)


def read_metadata(path: str) -> dict[str, str]:
    """The metadata_props of the ONNX file at ``path``."""
    proto = require("onnx").load(path, load_external_data=False)
    return {p.key: p.value for p in proto.metadata_props}


def _export(graph: nn.Module, inputs: GraphInputs, path: str, output_names: list[str]) -> None:
    torch.onnx.export(
        graph,
        inputs.args,
        path,
        dynamo=True,
        input_names=inputs.names,
        output_names=output_names,
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
    return load(path)(*args)[0]


def load(path: str) -> Callable[..., tuple[Tensor, ...]]:
    """The file at ``path`` as a function of its inputs (by position) returning its outputs."""
    sess = session(path)
    names = [i.name for i in sess.get_inputs()]

    def call(*args: Tensor) -> tuple[Tensor, ...]:
        feeds = {n: a.detach().numpy() for n, a in zip(names, args)}
        return tuple(torch.from_numpy(o) for o in sess.run(None, feeds))

    return call
