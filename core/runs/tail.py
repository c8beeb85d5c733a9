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
    """

    def __init__(self, path: Path, chunk_bytes: int = 8 << 20) -> None:
        self.path = Path(path)
        self.offset = 0
        self.bad_lines = 0
        self.lines_read = 0
        self._chunk = chunk_bytes
        self._inode: int | None = None

    def poll(self, max_bytes: int | None = None) -> list[dict[str, Any]]:
        """New complete records since the last poll (at most `max_bytes` read this call)."""
        try:
            st = os.stat(self.path)
        except FileNotFoundError:
            return []
        if self._inode is not None and (st.st_ino != self._inode or st.st_size < self.offset):
            # Replaced or truncated: history was rewritten, so start over.
            self.offset = 0
        self._inode = st.st_ino
        if st.st_size <= self.offset:
            return []
        want = st.st_size - self.offset
        if max_bytes is not None:
            want = min(want, max_bytes)
        with open(self.path, "rb") as fh:
            fh.seek(self.offset)
            data = fh.read(want)
        end = data.rfind(b"\n")
        if end < 0:
            return []
        complete = data[: end + 1]
        self.offset += len(complete)
        return self._parse(complete)

    def _parse(self, blob: bytes) -> list[dict[str, Any]]:
        out: list[dict[str, Any]] = []
        loads = json.loads
        for raw in blob.split(b"\n"):
            if not raw.strip():
                continue
            self.lines_read += 1
            try:
                rec = loads(raw)
            except ValueError:
                self.bad_lines += 1
                continue
            if isinstance(rec, dict):
                out.append(rec)
            else:
                self.bad_lines += 1
        return out


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
