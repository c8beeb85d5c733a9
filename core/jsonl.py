"""Small JSONL files read whole: good objects with their line numbers, bad lines named."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any


class JsonlError(Exception):
    """The file as a whole cannot be used (unreadable, not UTF-8); the message names it."""


@dataclass
class JsonlObjects:
    """Every non-blank line of one file: objects as (line, dict), the rest as (line, why)."""

    path: Path
    objects: list[tuple[int, dict[str, Any]]] = field(default_factory=list)
    problems: list[tuple[int, str]] = field(default_factory=list)


def read_objects(path: Path) -> JsonlObjects:
    """Parse `path` line by line; a bad line is recorded and skipped, never fatal."""
    path = Path(path)
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise JsonlError(f"{path}: cannot read ({exc.strerror or exc})") from exc
    try:
        text = raw.decode("utf-8-sig")  # a BOM from Windows editors is not part of line 1
    except UnicodeDecodeError as exc:
        raise JsonlError(f"{path}: not UTF-8 text (bad byte at offset {exc.start})") from exc
    out = JsonlObjects(path)
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            rec = json.loads(line)
        except ValueError as exc:
            out.problems.append((number, f"not JSON ({exc.msg})"))
            continue
        if not isinstance(rec, dict):
            out.problems.append((number, "not a JSON object"))
            continue
        out.objects.append((number, rec))
    return out
