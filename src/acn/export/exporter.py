"""``export_model``: cut a model, export it, reload the file, check it against eager PyTorch.

The file is written to a temporary name next to ``out``, reloaded and run there, and renamed
only when it matches eager PyTorch within ``atol``: a failed export or a failed check leaves
nothing behind.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType

import torch
from torch import Tensor

from ..connectivity import check_depth
from ..errors import ConfigError
from ..models.base import StackModel
from ..models.pretrained import model_metadata
from ..utils import atomic_write
from . import to_onnx, to_pt2
from .graph import LogitsGraph, graph_inputs, trace_example
from .inputs import test_inputs
from .kv_step import STEP_OUTPUTS, KVStepGraph, check_decoding, step_inputs
from .parity import Parity, compare

FORMATS: dict[str, ModuleType] = {"onnx": to_onnx, "pt2": to_pt2}


@dataclass
class ExportResult:
    """What :func:`export_model` wrote and how closely it matches eager PyTorch."""

    path: Path
    format: str
    depth: int
    full_depth: int
    all_depths: bool
    size_bytes: int
    parity: Parity
    kv_cache: bool = False


def check_format(fmt: str) -> ModuleType:
    """The exporter for ``fmt``; for ONNX, also checks that the extra is installed."""
    if fmt not in FORMATS:
        raise ConfigError(f"unknown export format {fmt!r}; choose one of {', '.join(FORMATS)}")
    if fmt == "onnx":
        to_onnx.check_extra()
    return FORMATS[fmt]


def export_depth(model: StackModel, depth: int | None) -> int:
    """The blocks an export keeps: ``depth`` (checked against the model), or all of them."""
    return model.depth if depth is None else check_depth(depth, model.depth)


def check_out(out: Path) -> Path:
    """``out`` if a file can be created there (its nearest existing folder is writable)."""
    if out.is_dir():
        raise ConfigError(f"--out {out} is a directory; give a file path")
    folder = out.parent
    while not folder.exists() and folder != folder.parent:
        folder = folder.parent
    if not folder.is_dir() or not os.access(folder, os.W_OK | os.X_OK):
        raise ConfigError(f"cannot write {out}: {folder} is not a writable directory")
    return out


def export_model(
    model: StackModel,
    out: str | os.PathLike,
    fmt: str = "onnx",
    *,
    depth: int | None = None,
    all_depths: bool = False,
    inputs: Tensor | None = None,
    atol: float = 1e-4,
    kv_cache: bool = False,
) -> ExportResult:
    """Export the first ``depth`` blocks of ``model`` (default: all) to ``out`` as ``fmt``.

    The graph outputs the logits, or with ``all_depths`` the logits at depth 0..depth [depth+1,
    B, ...] from one pass, or with ``kv_cache`` (language models) a decoding step with its
    key/value cache (:mod:`acn.export.kv_step`). The written file is reloaded and run on
    ``inputs`` (default: 8 example inputs, text ones with padding; a decoding step decodes them
    for a few tokens) next to eager PyTorch; a max absolute logit difference above ``atol`` is
    an error and nothing is written. The file carries the model's config and ``pretrained_cfg``
    (its tokenizer) as metadata.
    """
    backend = check_format(fmt)
    depth = export_depth(model, depth)
    out = check_out(Path(out).expanduser())
    if kv_cache and all_depths:
        raise ConfigError("a decoding-step export has one depth; drop --all-depths")
    # files are float32 CPU graphs, whatever device and dtype the model is used with; exit
    # branches are side classifiers the graph never runs, so their weights stay out of the file
    small = model.truncate(depth, keep_branches=False).to("cpu", torch.float32).eval()
    metadata = model_metadata(small)
    x = test_inputs(small, None, 8) if inputs is None else inputs.cpu()
    example = trace_example(small, x)  # traced on inputs shaped as x
    if kv_cache:
        graph: torch.nn.Module = KVStepGraph(small).eval()
        trace, outputs = step_inputs(small, example[:, : _prompt(small)]), STEP_OUTPUTS
    else:
        graph, outputs = LogitsGraph(small, all_depths).eval(), ["logits"]
        trace = graph_inputs(small, example)
        test = graph_inputs(small, x if not x.is_floating_point() else x.float())
        with torch.no_grad():
            eager = graph(*test.args)
    checked: dict[str, object] = {}

    def write_and_check(tmp: str) -> None:
        backend.write(graph, trace, tmp, outputs, metadata)
        if kv_cache:
            diff, top1 = check_decoding(backend.load(tmp), small, x[:, : _prompt(small)])
            parity = Parity(diff, top1, len(x))
        else:
            parity = compare(backend.run(tmp, test.args), eager, all_depths)
        if not parity.max_abs_diff <= atol:
            raise ConfigError(
                f"the exported graph differs from eager PyTorch by {parity.max_abs_diff:.3g} "
                f"(> --atol {atol:g}); nothing written"
            )
        checked.update(parity=parity, size=os.path.getsize(tmp))

    new_folders = [d for d in out.parents if not d.exists()]
    try:
        atomic_write(out, write_and_check)
    except BaseException as e:
        for folder in new_folders:  # deepest first: leave no empty folders behind either
            if folder.is_dir() and not any(folder.iterdir()):
                folder.rmdir()
        if isinstance(e, OSError):
            raise ConfigError(f"cannot write {out}: {e.strerror or e}") from None
        raise
    return ExportResult(
        path=out,
        format=fmt,
        depth=depth,
        full_depth=model.depth,
        all_depths=all_depths,
        size_bytes=int(checked["size"]),  # type: ignore[arg-type]
        parity=checked["parity"],  # type: ignore[arg-type]
        kv_cache=kv_cache,
    )


def _prompt(model: StackModel) -> int:
    """Prompt length of a decoding-step check: half the context, so that new tokens fit."""
    return max(1, model.config.max_len // 2)  # type: ignore[attr-defined]
