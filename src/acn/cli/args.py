"""Shared argparse types and options: one flag per concept, values checked when parsed.

Every numeric option of every subcommand goes through one of these types, so NaN, infinities,
negative counts and absurd sizes (a typo that would run for hours or fill the memory) are a
one-line usage error with exit code 2 before anything is loaded, trained or written.
"""

from __future__ import annotations

import argparse
import json
import math
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch

from ..errors import ConfigError
from ..train.distributed import resolve_device
from ..utils import json_safe

# upper bounds on what a typo can cost
MAX_BATCH = 1 << 16
MAX_REPEATS = 10_000
MAX_SAMPLES = 1_000_000
MAX_DEPTH = 1_000
MAX_CLASSES = 100_000
MAX_EPOCHS = 10_000
MAX_BOOTSTRAP = 100_000
MAX_SEED = 2**63 - 1


def _number(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None
    if not math.isfinite(value):
        raise argparse.ArgumentTypeError(f"must be a finite number, got {text!r}")
    return value


def finite_float(text: str) -> float:
    """Any finite number (NaN and infinities are refused)."""
    return _number(text)


def non_negative_float(text: str) -> float:
    """A finite number >= 0."""
    value = _number(text)
    if value < 0:
        raise argparse.ArgumentTypeError(f"must be >= 0, got {text!r}")
    return value


def positive_float(text: str) -> float:
    """A finite number > 0."""
    value = _number(text)
    if value <= 0:
        raise argparse.ArgumentTypeError(f"must be > 0, got {text!r}")
    return value


def probability(text: str) -> float:
    """A finite number in [0, 1]."""
    value = _number(text)
    if not 0 <= value <= 1:
        raise argparse.ArgumentTypeError(f"must be in [0, 1], got {text!r}")
    return value


def int_in(low: int, high: int) -> Callable[[str], int]:
    """A whole number in ``[low, high]`` (written in decimal digits, no exponent)."""

    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
        if not low <= value <= high:
            raise argparse.ArgumentTypeError(f"must be in {low}..{high}, got {text!r}")
        return value

    parse.__name__ = f"int_in_{low}_{high}"
    return parse


positive_batch = int_in(1, MAX_BATCH)
seed = int_in(0, MAX_SEED)


def _out_problem(path: Path, want_dir: bool) -> str | None:
    """Why ``path`` cannot be written as an output directory (or file), or None."""
    if path.exists():
        if want_dir and not path.is_dir():
            return f"{path} is a file; give a directory"
        if not want_dir and path.is_dir():
            return f"{path} is a directory; give a file path"
    parent = path.absolute()
    while not parent.exists():
        parent = parent.parent
    if parent != path.absolute() and not parent.is_dir():
        return f"{path}: {parent} is a file, not a directory"
    if not os.access(parent, os.W_OK | os.X_OK):
        return f"{path}: {parent} is not writable"
    return None


def check_out_dir(path: str | Path, flag: str = "--out") -> Path:
    """``path`` as an output directory, or a one-line ConfigError (for computed defaults)."""
    p = Path(path).expanduser()
    problem = _out_problem(p, want_dir=True)
    if problem:
        raise ConfigError(f"{flag} {problem}")
    return p


def output_dir(text: str) -> Path:
    """An output directory that exists or can be created (nothing is created here)."""
    p = Path(text).expanduser()
    problem = _out_problem(p, want_dir=True)
    if problem:
        raise argparse.ArgumentTypeError(problem)
    return p


def output_file(text: str) -> Path:
    """An output file path whose directory exists or can be created."""
    p = Path(text).expanduser()
    problem = _out_problem(p, want_dir=False)
    if problem:
        raise argparse.ArgumentTypeError(problem)
    return p


def add_out(p: argparse.ArgumentParser, default_help: str) -> None:
    """``--out DIR``: the one output-directory flag."""
    p.add_argument(
        "--out", type=output_dir, metavar="DIR", help=f"output directory ({default_help})"
    )


def add_seed(p: argparse.ArgumentParser, what: str) -> None:
    p.add_argument("--seed", type=seed, default=0, help=f"seed of {what} (default 0)")


DATA_HELP = (
    "dataset spec of the test data, e.g. mnist5k, npz:FILE, tsv:DIR (default: the dataset the "
    "model file records, or its run's); the model's class subset, normalisation and tokenizer "
    "are kept"
)


def add_data(p: argparse.ArgumentParser) -> None:
    """``--data SPEC``: a dataset spec, in every command (a folder of datasets is --data-root)."""
    p.add_argument("--data", metavar="SPEC", help=DATA_HELP)


def add_json(p: argparse.ArgumentParser) -> None:
    """``--json``: the report as one JSON document on stdout, instead of the text."""
    p.add_argument(
        "--json",
        action="store_true",
        help="print the report as one JSON document on stdout instead of text",
    )


def print_json(value: Any) -> None:
    """``value`` as indented JSON on stdout (NaN and infinities as null)."""
    print(json.dumps(json_safe(value), indent=2, allow_nan=False))


def add_eval_options(p: argparse.ArgumentParser, batch_default: int = 500) -> None:
    """Options of the commands that score a trained model on its test split."""
    add_data(p)
    p.add_argument("--device", help="cpu, cuda, cuda:1 ... (default: cuda if available)")
    p.add_argument(
        "--batch-size",
        type=positive_batch,
        default=batch_default,
        help=f"test batch size when scoring the model (default {batch_default})",
    )


def add_timing_options(
    p: argparse.ArgumentParser, repeats: int, warmup: int, batch_help: str = ""
) -> None:
    """Wall-clock measurement: on by default, ``--no-time`` skips it."""
    p.add_argument("--no-time", action="store_true", help="skip the wall-clock measurements")
    p.add_argument(
        "--timing-batch",
        type=positive_batch,
        default=256,
        help=f"batch size of the throughput timing{batch_help} (default 256)",
    )
    p.add_argument(
        "--repeats",
        type=int_in(1, MAX_REPEATS),
        default=repeats,
        help=f"timed repeats, median reported (default {repeats})",
    )
    p.add_argument(
        "--warmup",
        type=int_in(0, MAX_REPEATS),
        default=warmup,
        help=f"untimed warm-up passes (default {warmup})",
    )


def pick_device(name: str | None) -> torch.device:
    """``--device`` (default: cuda if available, else cpu)."""
    return resolve_device(name or "auto")
