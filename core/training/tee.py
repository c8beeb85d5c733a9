"""Copy what a foreground job prints into its train.log while it still reaches the terminal."""

from __future__ import annotations

import contextlib
import os
import select
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import TextIO

IDLE_S = 0.05  # a pipe quiet this long after the block ends counts as drained
SETTLE_S = 5.0  # the most the block's exit waits for output still in flight


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view):]


class _Pump(threading.Thread):
    """Moves bytes from a pipe to the log and to where the descriptor pointed before."""

    def __init__(self, read_fd: int, terminal_fd: int, log_path: Path, stopping: threading.Event) -> None:
        super().__init__(name=f"tee-{terminal_fd}", daemon=True)
        self.read_fd, self.terminal_fd, self.stopping = read_fd, terminal_fd, stopping
        self.log_fd = os.open(log_path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        self.settled = threading.Event()

    def run(self) -> None:
        terminal_open = True
        try:
            while True:
                ready, _, _ = select.select([self.read_fd], [], [], IDLE_S)
                if not ready:
                    if self.stopping.is_set():
                        # Drained; a child that inherited the pipe may still write later, so
                        # keep forwarding until the last writer closes it.
                        self.settled.set()
                    continue
                chunk = os.read(self.read_fd, 65536)
                if not chunk:
                    break
                _write_all(self.log_fd, chunk)
                if terminal_open:
                    try:
                        _write_all(self.terminal_fd, chunk)
                    except OSError:
                        terminal_open = False  # the terminal went away (SSH drop): keep logging
        finally:
            for fd in (self.read_fd, self.terminal_fd, self.log_fd):
                os.close(fd)
            self.settled.set()


def _text_stream(fd: int, like: TextIO) -> TextIO:
    encoding = getattr(like, "encoding", None) or "utf-8"
    return open(fd, "w", encoding=encoding, errors="backslashreplace", buffering=1, closefd=False)  # noqa: SIM115


@contextlib.contextmanager
def tee_output(log_path: Path) -> Iterator[None]:
    """Inside the block, descriptors 1 and 2 (Python, C libraries, child processes) also append
    to `log_path`; stdout and stderr stay apart on the terminal, as a detached job's log would
    hold both."""
    for stream in (sys.stdout, sys.stderr):
        stream.flush()
    stopping = threading.Event()
    saved_streams = (sys.stdout, sys.stderr)
    saved_fds: dict[int, int] = {}
    pumps: list[_Pump] = []
    try:
        for fd in (1, 2):
            read_fd, write_fd = os.pipe()
            saved_fds[fd] = os.dup(fd)
            pumps.append(_Pump(read_fd, os.dup(saved_fds[fd]), log_path, stopping))
            os.dup2(write_fd, fd)
            os.close(write_fd)
            pumps[-1].start()
        # Python's streams need not write to descriptors 1 and 2 (a test runner swaps them).
        sys.stdout = _text_stream(1, saved_streams[0])
        sys.stderr = _text_stream(2, saved_streams[1])
        yield
    finally:
        for stream in (sys.stdout, sys.stderr):
            with contextlib.suppress(Exception):
                stream.flush()
        sys.stdout, sys.stderr = saved_streams
        for fd, saved in saved_fds.items():
            os.dup2(saved, fd)  # drops this process's write end of the pipe
            os.close(saved)
        stopping.set()
        for pump in pumps:
            pump.settled.wait(SETTLE_S)
