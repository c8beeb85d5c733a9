"""The run-dir lock: an fcntl.flock held by the live job, so two jobs never share a run dir."""

from __future__ import annotations

import fcntl
import os
from pathlib import Path

from core.runs.schema import LOCK_FILE


class LockBusy(RuntimeError):
    """Another live process holds the run dir."""


class RunLock:
    """Exclusive, non-blocking flock on `<run_dir>/.lock`; the kernel drops it when the holder
    dies (even by SIGKILL), so a died run never stays locked."""

    def __init__(self, run_dir: Path) -> None:
        self.path = Path(run_dir) / LOCK_FILE
        self._fd: int | None = None

    def acquire(self) -> None:
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError as exc:
            os.close(fd)
            holder = _holder(self.path)
            who = f" (pid {holder})" if holder else ""
            raise LockBusy(f"run dir {self.path.parent.name} is in use by a live job{who}") from exc
        os.ftruncate(fd, 0)
        os.write(fd, f"{os.getpid()}\n".encode())
        self._fd = fd

    def release(self) -> None:
        if self._fd is not None:
            try:
                fcntl.flock(self._fd, fcntl.LOCK_UN)
            finally:
                os.close(self._fd)
                self._fd = None

    def is_free(self) -> bool:
        """True when nobody holds the lock right now. Only probes: a missing lock file is not
        created and an existing one is not rewritten (a refused command changes nothing)."""
        try:
            fd = os.open(self.path, os.O_RDONLY | os.O_CLOEXEC)
        except FileNotFoundError:
            return True
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return False
        finally:
            os.close(fd)  # closing drops a lock this probe took
        return True

    def __enter__(self) -> RunLock:
        self.acquire()
        return self

    def __exit__(self, *exc: object) -> None:
        self.release()


def _holder(path: Path) -> int | None:
    try:
        text = path.read_text().strip()
        return int(text) if text.isdigit() else None
    except OSError:
        return None
