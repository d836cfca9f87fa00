"""Small helpers every rung of the package uses: atomic file writes, bounded reads of regular
files, JSON, plain-text tables and the machine record that every measured number is reported next
to."""

from __future__ import annotations

import glob
import hashlib
import json
import math
import os
import platform
import re
import socket
import stat
import tempfile
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import torch

from .errors import ACNError

ErrorType = type[ACNError]


# Temporary files of atomic_write are named ".NAME.HOST-PID-RANDOM.tmp" (HOST: a hash of the host
# name), so that a later write to the same target can tell the leftovers of a killed process (on
# this host, whose PID is gone) from the temporary file of a write still in progress.
_HOST = hashlib.sha256(socket.gethostname().encode()).hexdigest()[:8]
_TMP_SUFFIX = ".tmp"


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (PermissionError, OverflowError, OSError):
        return True  # another user's process, or a number we cannot ask about: leave it
    return True


def remove_stale_temp_files(path: str | os.PathLike) -> list[Path]:
    """Delete the temporary files that killed :func:`atomic_write` calls for ``path`` left
    behind (this host's, whose process is gone); returns them. Nothing else is touched."""
    path = Path(path)
    pattern = re.compile(
        rf"^\.{re.escape(path.name)}\.{_HOST}-(\d+)-[A-Za-z0-9_]+{re.escape(_TMP_SUFFIX)}$"
    )
    removed = []
    try:
        candidates = list(path.parent.glob(f".{glob.escape(path.name)}.{_HOST}-*{_TMP_SUFFIX}"))
    except OSError:
        return removed
    for tmp in candidates:
        match = pattern.match(tmp.name)
        if match is None or _pid_alive(int(match.group(1))) or not tmp.is_file():
            continue
        try:
            tmp.unlink()
            removed.append(tmp)
        except OSError:
            pass
    return removed


def atomic_write(path: str | os.PathLike, write: Callable[[str], Any]) -> None:
    """Call ``write(tmp_path)`` then rename over ``path``; the old file survives any crash, and
    the temporary files of earlier writes to ``path`` that were killed are removed first."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    remove_stale_temp_files(path)
    fd, tmp = tempfile.mkstemp(
        prefix=f".{path.name}.{_HOST}-{os.getpid()}-", suffix=_TMP_SUFFIX, dir=path.parent
    )
    os.close(fd)
    try:
        write(tmp)
        with open(tmp, "rb") as f:
            os.fsync(f.fileno())
        # mkstemp makes 0600 files; give the result the permissions a plain open() would (umask)
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def regular_file(path: str | os.PathLike, what: str, error: ErrorType) -> Path:
    """``path`` if it is a regular file (symlinks followed), else a one-line ``error`` naming
    ``what`` it should be. Checked before any open: opening a FIFO for reading blocks until a
    writer comes, and a device can be read forever."""
    p = Path(path)
    try:
        mode = p.stat().st_mode
    except FileNotFoundError:
        raise error(f"{what} not found: {p}") from None
    except OSError as e:
        raise error(f"cannot read {what} {p}: {e.strerror or e}") from None
    if stat.S_ISDIR(mode):
        raise error(f"{what} {p} is a directory, not a file")
    if not stat.S_ISREG(mode):
        raise error(f"{what} {p} is not a regular file (a FIFO, socket or device)")
    return p


def read_text(path: str | os.PathLike, what: str, max_bytes: int, error: ErrorType) -> str:
    """The UTF-8 text of the regular file ``path``, refused in one line (``error``) before it is
    read if it is not a regular file or is larger than ``max_bytes``."""
    p = regular_file(path, what, error)
    try:
        # O_NONBLOCK: should the path have been swapped for a FIFO since the check, the open
        # does not wait for a writer, and fstat below refuses it
        fd = os.open(p, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0))
        with os.fdopen(fd, "rb") as f:
            st = os.fstat(f.fileno())
            if not stat.S_ISREG(st.st_mode):
                raise error(f"{what} {p} is not a regular file (a FIFO, socket or device)")
            if st.st_size > max_bytes:
                raise error(
                    f"{what} {p} is {mib(st.st_size)}, more than the {mib(max_bytes)} such a "
                    "file can be; not reading it"
                )
            data = f.read(max_bytes + 1)
    except OSError as e:
        raise error(f"cannot read {what} {p}: {e.strerror or e}") from None
    if len(data) > max_bytes:
        raise error(f"{what} {p} grew past {mib(max_bytes)} while being read")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as e:
        raise error(f"{what} {p} is not UTF-8 text (byte {e.start})") from None


def parse_json(text: str, problem: str, error: ErrorType) -> Any:
    """``json.loads(text)``, or a one-line ``error`` saying ``problem`` ("X has a corrupt
    config") and why: not JSON, or nested too deeply for the parser."""
    try:
        return json.loads(text)
    except RecursionError:
        raise error(f"{problem} (not JSON acn reads: nested too deeply)") from None
    except ValueError:
        raise error(f"{problem} (not JSON)") from None


def fsync_dir(path: str | os.PathLike) -> None:
    """Flush a directory's entries (a rename in it) to disk; a no-op where that is unsupported."""
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def sha256_file(path: str | os.PathLike, chunk: int = 1 << 20) -> str:
    """Hex sha256 of a file's bytes."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while block := f.read(chunk):
            h.update(block)
    return h.hexdigest()


def first_line(error: BaseException) -> str:
    """An exception's message cut to its first line (its type name if it has none)."""
    text = str(error).strip()
    return text.splitlines()[0] if text else type(error).__name__


def json_safe(value: Any) -> Any:
    """``value`` with every non-finite float replaced by None (JSON has no NaN)."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {k: json_safe(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [json_safe(v) for v in value]
    return value


def write_json(path: str | os.PathLike, obj: Any) -> None:
    """Write ``obj`` as indented JSON, atomically."""
    text = json.dumps(obj, indent=2) + "\n"
    atomic_write(path, lambda tmp: Path(tmp).write_text(text, encoding="utf-8"))


def si(value: float, unit: str = "") -> str:
    """1234567 -> '1.235M'; keeps four significant digits."""
    for scale, prefix in ((1e12, "T"), (1e9, "G"), (1e6, "M"), (1e3, "k")):
        if abs(value) >= scale:
            return f"{value / scale:.4g}{prefix}{unit}"
    return f"{value:.4g}{unit}"


def mib(n_bytes: float) -> str:
    return f"{n_bytes / 2**20:.2f} MiB"


def table(header: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    """Left-aligned first column, right-aligned others; one line per row."""
    cells = [[str(c) for c in header]] + [[str(c) for c in r] for r in rows]
    widths = [max(len(r[i]) for r in cells) for i in range(len(header))]

    def line(r: list[str]) -> str:
        first = r[0].ljust(widths[0])
        return "  ".join([first] + [c.rjust(w) for c, w in zip(r[1:], widths[1:])])

    return "\n".join(line(r) for r in cells)


def available_memory(device: torch.device | str = "cpu") -> int | None:
    """Bytes free for new allocations on ``device`` (MemAvailable on CPU); None if unknown."""
    device = torch.device(device)
    if device.type == "cuda":
        return int(torch.cuda.mem_get_info(device)[0])
    try:
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    return None


def cpu_model() -> str:
    """The CPU's marketing name (from /proc/cpuinfo on Linux), else what platform says."""
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def machine(device: torch.device | str = "cpu") -> dict[str, Any]:
    """Hardware and software a run's numbers depend on."""
    device = torch.device(device)
    info: dict[str, Any] = {
        "device": str(device),
        "cpu_count": os.cpu_count(),
        "torch_threads": torch.get_num_threads(),
        "torch": torch.__version__,
        "python": platform.python_version(),
        "platform": platform.platform(),
        "processor": platform.processor() or platform.machine(),
    }
    if device.type == "cuda":
        info["gpu"] = torch.cuda.get_device_name(device)
        info["cuda"] = torch.version.cuda
    return info


def machine_info(device: torch.device | str = "cpu", dtype: torch.dtype | None = None) -> dict:
    """What a speed number depends on: :func:`machine` plus the CPU's name and the dtype."""
    info = machine(device)
    info["cpu"] = cpu_model()
    if dtype is not None:
        info["dtype"] = str(dtype).removeprefix("torch.")
    return info


def machine_line(info: dict[str, Any]) -> str:
    """One line naming where speed numbers were measured."""
    where = info.get("gpu") or info.get("cpu", "?")
    return (
        f"{info.get('device')} ({where}, {info.get('cpu_count')} cores, "
        f"{info.get('torch_threads')} threads), {info.get('dtype', '?')}, torch {info.get('torch')}"
    )
