"""Incremental JSONL reading by byte offset: O(new bytes) per poll, torn last line tolerated."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any


class JsonlTail:
    """Follows an append-only JSONL file.

    Each `poll()` reads only bytes appended since the previous call. A last line without its
    newline is a write in progress: it is held back and re-read next time. Lines that are not
    valid JSON objects are counted in `bad_lines` and skipped, never raised.
    `poll_bytes()` hands back the raw complete lines instead, for callers with a faster
    columnar parser (core.runs.parse); `bytes_read` counts what every poll read from disk.
    """

    def __init__(self, path: Path, chunk_bytes: int = 8 << 20) -> None:
        self.path = Path(path)
        self.offset = 0
        self.bad_lines = 0
        self.lines_read = 0
        self.bytes_read = 0
        self.restarts = 0
        self._chunk = chunk_bytes
        self._inode: int | None = None

    def poll_bytes(self, max_bytes: int | None = None) -> bytes:
        """Complete lines appended since the last call (at most `max_bytes` read this call)."""
        try:
            st = os.stat(self.path)
        except FileNotFoundError:
            return b""
        if self._inode is not None and (st.st_ino != self._inode or st.st_size < self.offset):
            # Replaced or truncated: history was rewritten, so start over.
            self.offset = 0
            self.restarts += 1
        self._inode = st.st_ino
        if st.st_size <= self.offset:
            return b""
        want = st.st_size - self.offset
        if max_bytes is not None:
            want = min(want, max_bytes)
        with open(self.path, "rb") as fh:
            fh.seek(self.offset)
            data = fh.read(want)
        self.bytes_read += len(data)
        end = data.rfind(b"\n")
        if end < 0:
            if max_bytes is not None and len(data) == max_bytes and want < st.st_size - self.offset:
                # One line longer than max_bytes: read it whole rather than stall forever.
                return self.poll_bytes(max_bytes * 2)
            return b""
        self.offset += end + 1
        return data[: end + 1]

    def poll(self, max_bytes: int | None = None) -> list[dict[str, Any]]:
        """New complete records since the last poll (at most `max_bytes` read this call)."""
        return self._parse(self.poll_bytes(max_bytes))

    def _parse(self, blob: bytes) -> list[dict[str, Any]]:
        out: list[dict[str, Any]] = []
        for raw in blob.split(b"\n"):
            if not raw.strip():
                continue
            self.lines_read += 1
            rec = parse_line(raw)
            if rec is None:
                self.bad_lines += 1
            else:
                out.append(rec)
        return out


def parse_line(raw: bytes) -> dict[str, Any] | None:
    """One JSON object line, or None.

    A writer killed mid-line leaves a torn fragment that the next writer's first line is glued
    onto (`{"t": 1, "lo{"t": 2, ...}`); the tail after the last `{"` is then tried on its own
    so the new writer's line is not lost with the fragment.
    """
    try:
        rec = json.loads(raw)
    except ValueError:
        cut = raw.rfind(b'{"')
        if cut <= 0:
            return None
        try:
            rec = json.loads(raw[cut:])
        except ValueError:
            return None
    return rec if isinstance(rec, dict) else None


def tail_lines(path: Path, n: int, max_bytes: int = 256 << 10) -> list[str]:
    """The last `n` text lines of a (log) file, reading at most `max_bytes` from its end."""
    try:
        with open(path, "rb") as fh:
            fh.seek(0, os.SEEK_END)
            size = fh.tell()
            fh.seek(max(0, size - max_bytes))
            data = fh.read()
    except FileNotFoundError:
        return []
    lines = data.decode("utf-8", errors="replace").splitlines()
    if size > max_bytes and lines:
        lines = lines[1:]  # the first line is probably cut
    return lines[-n:]
