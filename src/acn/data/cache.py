"""Decoded-data cache: slow-to-decode sources (JPEG shards, tokenizers) are built once.

Entries are keyed on the input files' absolute names, sizes and mtimes plus the options that
change the result, so editing or replacing a file invalidates its entry automatically.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import tempfile
from pathlib import Path
from typing import Any

import numpy as np

log = logging.getLogger(__name__)

ENV_VAR = "ACN_CACHE_DIR"
FORMAT_VERSION = 1  # bump when the cached layout changes so old entries are ignored


def cache_dir(override: str | os.PathLike[str] | None = None) -> Path:
    """Cache directory: the explicit option, else $ACN_CACHE_DIR, else ~/.cache/acn."""
    if override is not None:
        return Path(override).expanduser()
    env = os.environ.get(ENV_VAR)
    if env:
        return Path(env).expanduser()
    return Path.home() / ".cache" / "acn"


def cache_key(kind: str, files: list[Path], **params: Any) -> str:
    """Short hash of the files' identity (name, size, mtime) and the result-changing params."""
    parts: list[Any] = [kind, FORMAT_VERSION]
    for f in sorted(files):
        st = f.stat()
        parts.append([str(f.resolve()), st.st_size, st.st_mtime_ns])
    parts.append(sorted(params.items()))
    digest = hashlib.sha256(json.dumps(parts, default=str).encode()).hexdigest()[:20]
    return f"{kind}-{digest}"


def load_arrays(path: Path) -> dict[str, np.ndarray] | None:
    """Arrays of a cache entry, or None when absent or unreadable (then it is rebuilt)."""
    if not path.is_file():
        return None
    try:
        with np.load(path, allow_pickle=False) as z:
            return {k: z[k] for k in z.files}
    except Exception as exc:  # a damaged cache is not the user's data: rebuild it
        log.warning("ignoring unreadable cache file %s (%s)", path, exc)
        return None


def save_arrays(path: Path, arrays: dict[str, np.ndarray]) -> None:
    """Write atomically (temp file + rename) so a killed run never leaves a half entry."""
    write_atomic(path, lambda f: np.savez(f, **arrays))


def write_atomic(path: Path, write: Any) -> None:
    """Call write(binary_file) into a temp file next to `path`, then rename it into place.

    An unwritable cache directory only costs a rebuild next time, so it is a warning.
    """
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=path.name, suffix=".tmp")
        try:
            with os.fdopen(fd, "wb") as f:
                write(f)
            os.replace(tmp, path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
    except OSError as exc:
        log.warning("could not write cache file %s (%s)", path, exc)


def write_text_atomic(path: Path, text: str) -> None:
    write_atomic(path, lambda f: f.write(text.encode()))
