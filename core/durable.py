"""Durable file replacement (temp file, fsync, rename, fsync the folder) and JSON reads.

Every file or folder that is replaced rather than appended goes through here, so a reader
or a crash at any moment sees the old version or the new one, never a mix, and the rename
itself survives a power cut (the folder entry is fsynced too).

JSON reads have two contracts, one per function:
  read_json(path): the file must exist; a missing file raises FileNotFoundError, damaged
      text raises ValueError (json.JSONDecodeError or UnicodeDecodeError).
  read_json_object(path): an optional file; None when it is missing, unreadable, not JSON
      or not a JSON object, so a reader polling it never crashes.
"""

from __future__ import annotations

import json
import os
import threading
from pathlib import Path
from typing import Any


def fsync_dir(path: Path) -> None:
    """Flush a folder's entries (a rename or a new file in it) to disk."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def replace(src: Path, dest: Path) -> None:
    """Rename `src` over `dest` (a file or a folder) and make the rename durable."""
    os.replace(src, dest)
    fsync_dir(dest.parent)


def temp_path(path: Path) -> Path:
    """A hidden sibling of `path` no other process or thread writes at the same time."""
    return path.with_name(f".{path.name}.{os.getpid()}.{threading.get_ident()}.tmp")


def atomic_write_text(path: Path, text: str) -> None:
    """Replace `path` with `text` (UTF-8): readers see the old or the new file, never a mix."""
    tmp = temp_path(path)
    try:
        with open(tmp, "w", encoding="utf-8") as fh:
            fh.write(text)
            fh.flush()
            os.fsync(fh.fileno())
        replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def atomic_write_json(path: Path, data: Any, indent: int = 1) -> None:
    """Replace `path` with `data` as JSON (non-ASCII kept as is), atomically and durably."""
    atomic_write_text(path, json.dumps(data, ensure_ascii=False, indent=indent) + "\n")


def read_json(path: Path) -> Any:
    """A JSON file that must exist (see the module docstring for what it raises)."""
    return json.loads(path.read_text(encoding="utf-8"))


def read_json_object(path: Path) -> dict[str, Any] | None:
    """An optional JSON object file, or None (missing, unreadable, damaged or not an object)."""
    try:
        data = read_json(path)
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None
