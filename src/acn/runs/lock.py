"""An exclusive lock on a run directory: ``RUN/.lock``, held while one process trains into it.

``fcntl.flock`` locks belong to the open file, so the kernel drops the lock of a process that
dies (even by ``kill -9``): a lock file left behind by a dead process is detected as stale simply
by locking it. The holder's pid is written into the file so that the refusal can name it. The
file is removed on release; a process that opened it just before the removal notices (the path
no longer names the file it locked) and tries again. A directory the lock created is removed
again on release if nothing else was written into it.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import os
from pathlib import Path
from types import TracebackType

from ..errors import ConfigError

LOCK_FILE = ".lock"


class RunLock:
    """``with RunLock(run_dir):`` holds the run directory or raises a one-line ConfigError."""

    def __init__(self, run_dir: str | Path) -> None:
        self.run_dir = Path(run_dir)
        self.path = self.run_dir / LOCK_FILE
        self.fd: int | None = None
        self.created = False  # we made the directory: removed again if still empty at release

    def acquire(self) -> RunLock:
        self.created = not self.run_dir.exists()
        try:
            self.run_dir.mkdir(parents=True, exist_ok=True)
        except OSError as e:
            raise ConfigError(
                f"cannot write run directory {self.run_dir}: {e.strerror or e}"
            ) from None
        for _ in range(100):  # retried only when the holder released (and removed) it meanwhile
            try:
                fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
            except OSError as e:
                raise ConfigError(
                    f"cannot write run directory {self.run_dir}: {e.strerror or e}"
                ) from None
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError as e:
                holder = _read_pid(fd)
                os.close(fd)
                if e.errno in (errno.EAGAIN, errno.EACCES, errno.EWOULDBLOCK):
                    who = f"process {holder}" if holder else "another process"
                    raise ConfigError(
                        f"run directory {self.run_dir} is in use by {who} (lock {self.path}); "
                        "wait for it to finish or choose another out_dir"
                    ) from None
                raise ConfigError(
                    f"cannot lock run directory {self.run_dir}: {e.strerror or e}"
                ) from None
            if _same_file(fd, self.path):
                os.ftruncate(fd, 0)
                os.write(fd, f"{os.getpid()}\n".encode())
                self.fd = fd
                return self
            os.close(fd)  # removed by its previous holder between our open and our lock
        raise ConfigError(f"cannot lock run directory {self.run_dir}: lock file keeps changing")

    def release(self) -> None:
        if self.fd is None:
            return
        with contextlib.suppress(OSError):
            self.path.unlink(missing_ok=True)  # while still locked: see the module docstring
        os.close(self.fd)
        self.fd = None
        if self.created:
            with contextlib.suppress(OSError):
                self.run_dir.rmdir()  # a run that failed before writing anything leaves no trace

    def __enter__(self) -> RunLock:
        return self.acquire()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.release()


def _read_pid(fd: int) -> int | None:
    try:
        text = os.pread(fd, 32, 0).decode(errors="replace").strip()
        return int(text) if text else None
    except (OSError, ValueError):
        return None


def _same_file(fd: int, path: Path) -> bool:
    try:
        st = os.stat(path)
    except FileNotFoundError:
        return False
    own = os.fstat(fd)
    return (st.st_dev, st.st_ino) == (own.st_dev, own.st_ino)
