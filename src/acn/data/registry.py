"""Dataset specs: one string picks a source, e.g. "mnist5k", "cifar10:~/data/cifar",
"wds:/data/cifar10-jpeg-wds", "tsv:/data/sst2", or a bare path whose format is detected.

Grammar:  SPEC := NAME | PREFIX ":" PATH | PATH
"""

from __future__ import annotations

import inspect
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..errors import ConfigError, DataError
from .dataset import DataSplits
from .sources.cifar import load_cifar10, load_cifar100
from .sources.common import existing
from .sources.idx import has_idx, load_idx
from .sources.lm import load_lm
from .sources.mnist5k import load_mnist5k
from .sources.npz import load_npz
from .sources.text import load_text, load_tsv
from .sources.wds import SHARD_PATTERNS, load_wds

DEFAULT_SPEC = "mnist5k"


@dataclass(frozen=True)
class Source:
    loader: Callable[..., DataSplits]
    takes_path: bool
    help: str

    def options(self) -> list[str]:
        params = list(inspect.signature(self.loader).parameters)
        return params[1:] if self.takes_path else params


SOURCES: dict[str, Source] = {
    "mnist5k": Source(load_mnist5k, False, "embedded 5k MNIST digits, 4000/1000 split (default)"),
    "idx": Source(load_idx, True, "idx:DIR  MNIST/Fashion-MNIST IDX files (.gz or raw)"),
    "cifar10": Source(load_cifar10, True, "cifar10:DIR  CIFAR-10 python pickle batches"),
    "cifar100": Source(load_cifar100, True, "cifar100:DIR  CIFAR-100 python pickles"),
    "wds": Source(load_wds, True, "wds:DIR|GLOB  WebDataset image shards (KEY.jpg|png + KEY.cls)"),
    "npz": Source(load_npz, True, "npz:FILE  arrays x, y [, x_test, y_test]"),
    "tsv": Source(load_tsv, True, "tsv:DIR  train.tsv + test/validation.tsv text classification"),
    "text": Source(
        load_text,
        True,
        "text:FILE[:FILE...]  unlabelled text for masked-language modelling (a .tsv: its "
        "sentence column)",
    ),
    "lm": Source(load_lm, True, "lm:FILE  UTF-8 text for causal language models (char or BPE)"),
}


def list_datasets() -> dict[str, str]:
    """Source name -> one-line usage, including the options each accepts."""
    out = {}
    for name, src in SOURCES.items():
        opts = src.options()
        out[name] = src.help + (f"  [options: {', '.join(opts)}]" if opts else "")
    return out


def detect(path: str) -> str:
    """Source name for a bare path, judged by its content."""
    if any(ch in path for ch in "*?["):
        return "wds"
    p = existing(path)  # a regular file or a directory (never a FIFO or device)
    if p.is_file():
        name = p.name.lower()
        if name.endswith(".npz"):
            return "npz"
        if name.endswith((".tar", ".tar.gz", ".tgz")):
            return "wds"
        if name.endswith(".txt"):
            return "text"
        if "idx3-ubyte" in name or "idx1-ubyte" in name:
            return "idx"
        raise DataError(f"cannot tell the data format of {p}; use a PREFIX:PATH spec")
    if any(next(p.glob(pat), None) for pat in SHARD_PATTERNS):
        return "wds"
    if (p / "data_batch_1").is_file() or (p / "cifar-10-batches-py").is_dir():
        return "cifar10"
    if ((p / "train").is_file() and (p / "meta").is_file()) or (p / "cifar-100-python").is_dir():
        return "cifar100"
    if has_idx(p):
        return "idx"
    if (p / "train.tsv").is_file():
        return "tsv"
    raise DataError(f"cannot tell the data format of directory {p}; use a PREFIX:PATH spec")


def parse_spec(spec: str) -> tuple[str, str | None]:
    """(source name, path or None)."""
    spec = spec.strip()
    if not spec:
        raise ConfigError("empty dataset spec")
    if spec in SOURCES:
        if SOURCES[spec].takes_path:
            raise ConfigError(f"dataset {spec!r} needs a path: {SOURCES[spec].help.split()[0]}")
        return spec, None
    prefix, sep, rest = spec.partition(":")
    if sep and prefix in SOURCES:
        if not SOURCES[prefix].takes_path:
            raise ConfigError(f"dataset {prefix!r} takes no path")
        if not rest:
            raise ConfigError(f"dataset spec {spec!r} needs a path after '{prefix}:'")
        return prefix, rest
    looks_like_path = os.sep in spec or spec.startswith((".", "~")) or Path(spec).exists()
    if sep and prefix.isidentifier() and not Path(spec).expanduser().exists():
        raise ConfigError(f"unknown dataset type {prefix!r}; valid: {', '.join(SOURCES)}")
    if looks_like_path:
        return detect(spec), spec
    raise ConfigError(
        f"unknown dataset {spec!r}; valid: {', '.join(SOURCES)} (as NAME, PREFIX:PATH or a path)"
    )


def load_data(spec: str | os.PathLike[str] = DEFAULT_SPEC, **options: Any) -> DataSplits:
    """Load the train/test splits a spec names (see list_datasets for specs and options).

    Options set to None count as not given, so a caller can pass its whole option set.
    """
    name, path = parse_spec(os.fspath(spec))
    src = SOURCES[name]
    given = {k: v for k, v in options.items() if v is not None}
    unknown = sorted(set(given) - set(src.options()))
    if unknown:
        valid = ", ".join(src.options()) or "none"
        raise ConfigError(
            f"dataset {name!r} does not take option(s) {', '.join(unknown)}; valid: {valid}"
        )
    params = inspect.signature(src.loader).parameters
    given = {k: _coerce(k, v, str(params[k].annotation)) for k, v in given.items()}
    return src.loader(path, **given) if src.takes_path else src.loader(**given)


_TRUE, _FALSE = ("1", "true", "yes", "on"), ("0", "false", "no", "off")


def _coerce(key: str, value: Any, annotation: str) -> Any:
    """Convert option values given as text (CLI, YAML) to the loader's scalar type."""
    base = annotation.split("|")[0].strip()
    try:
        if base == "bool":
            text = str(value).strip().lower()
            if text not in _TRUE + _FALSE:
                raise ValueError
            return text in _TRUE
        if base in ("int", "float"):
            if isinstance(value, bool):
                raise ValueError
            out = int(value) if base == "int" else float(value)
            if base == "int" and isinstance(value, float) and out != value:
                raise ValueError
            return out
        if base == "str":
            return str(value)  # e.g. a Path object
    except (TypeError, ValueError):
        raise ConfigError(f"option {key} expects {base}, got {value!r}") from None
    return value
