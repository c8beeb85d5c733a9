"""Copy what a foreground job prints into its train.log while it still reaches the terminal."""

from __future__ import annotations

import codecs
import contextlib
import os
import select
import sys
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TextIO

IDLE_S = 0.05  # a pipe quiet this long after the block ends counts as drained
SETTLE_S = 5.0  # the most the block's exit waits for output still in flight
LINE_LIMIT = 1 << 16  # a "line" this long without a newline (progress bars) is logged as is


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view):]


def _terminal_writer(fd: int, stream: TextIO | None) -> tuple[Callable[[bytes], None], int | None]:
    """Where descriptor `fd`'s output went before: the descriptor itself when Python's stream
    writes there (a terminal, a pipe), else that stream (a test runner's capture). Returns the
    writer and the descriptor copy it owns, if any."""
    try:
        if stream is not None and stream.fileno() == fd:
            copy = os.dup(fd)
            return (lambda chunk: _write_all(copy, chunk)), copy
    except (AttributeError, OSError, ValueError):
        pass
    if stream is None:
        return (lambda chunk: None), None
    decoder = codecs.getincrementaldecoder(getattr(stream, "encoding", None) or "utf-8")("replace")

    def write(chunk: bytes) -> None:
        stream.write(decoder.decode(chunk))
        stream.flush()

    return write, None


class _Pump(threading.Thread):
    """Moves bytes from a pipe to the log and to where the descriptor pointed before."""

    def __init__(self, read_fd: int, to_terminal: Callable[[bytes], None], owned_fd: int | None,
                 log_path: Path, stopping: threading.Event) -> None:
        super().__init__(name=f"tee-{read_fd}", daemon=True)
        self.read_fd, self.to_terminal, self.owned_fd, self.stopping = read_fd, to_terminal, owned_fd, stopping
        self.log_fd = os.open(log_path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        self.settled = threading.Event()

    def run(self) -> None:
        terminal_open = True
        partial = b""  # the log gets whole lines, so the two streams never split each other's
        try:
            while True:
                ready, _, _ = select.select([self.read_fd], [], [], IDLE_S)
                if not ready:
                    if self.stopping.is_set():
                        # Drained; a child that inherited the pipe may still write later, so
                        # keep forwarding until the last writer closes it.
                        partial = self._log(partial, flush=True)
                        self.settled.set()
                    continue
                chunk = os.read(self.read_fd, 65536)
                if not chunk:
                    self._log(partial, flush=True)
                    break
                partial = self._log(partial + chunk, flush=False)
                if terminal_open:
                    try:
                        self.to_terminal(chunk)
                    except (OSError, ValueError):
                        terminal_open = False  # the terminal went away (SSH drop): keep logging
        finally:
            for fd in (self.read_fd, self.log_fd, self.owned_fd):
                if fd is not None:
                    os.close(fd)
            self.settled.set()


    def _log(self, data: bytes, flush: bool) -> bytes:
        """Append the complete lines of `data` (all of it when flushing, or when a line has
        grown past LINE_LIMIT); return the rest."""
        cut = len(data) if flush or len(data) > LINE_LIMIT else data.rfind(b"\n") + 1
        if cut:
            _write_all(self.log_fd, data[:cut])
        return data[cut:]


def _text_stream(fd: int, like: TextIO | None) -> TextIO:
    encoding = getattr(like, "encoding", None) or "utf-8"
    return open(fd, "w", encoding=encoding, errors="backslashreplace", buffering=1, closefd=False)  # noqa: SIM115


@contextlib.contextmanager
def tee_output(log_path: Path) -> Iterator[None]:
    """Inside the block, whatever reaches descriptors 1 and 2 (Python, C libraries, child
    processes) is also appended to `log_path`: both streams in one file, as in a detached job's
    log, while the terminal keeps stdout and stderr apart."""
    for stream in (sys.stdout, sys.stderr):
        if stream is not None:
            stream.flush()
    stopping = threading.Event()
    saved_streams = (sys.stdout, sys.stderr)
    saved_fds: dict[int, int] = {}
    pumps: list[_Pump] = []
    try:
        for fd, stream in ((1, saved_streams[0]), (2, saved_streams[1])):
            read_fd, write_fd = os.pipe()
            saved_fds[fd] = os.dup(fd)
            pumps.append(_Pump(read_fd, *_terminal_writer(fd, stream), log_path, stopping))
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
