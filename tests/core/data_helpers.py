"""Small builders for dataset-layer tests: valid rows and source files in tmp folders."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from core.data.fields import FieldMapper, Record, Skip
from core.data.loaders import detect, iter_items


def row(i: int, **extra: Any) -> dict[str, Any]:
    """A valid API-shaped record with a unique title and a story well over 20 characters."""
    data: dict[str, Any] = {
        "title": f"追放された錬金術師{i}号は辺境でスローライフを送る",
        "story": f"王都を追われた錬金術師{i}号が、辺境の村で薬を作りながら静かに暮らす物語です。",
        "ncode": f"S{i:04d}AA",
        "keyword": "追放 スローライフ 錬金術",
        "genre": 201,
        "biggenre": 2,
    }
    data.update(extra)
    return data


def write_jsonl(path: Path, rows: Iterable[dict[str, Any] | str | bytes]) -> Path:
    """Rows as JSON lines; a str or bytes item is written verbatim (for broken lines)."""
    with path.open("wb") as f:
        for r in rows:
            if isinstance(r, bytes):
                f.write(r + b"\n")
            elif isinstance(r, str):
                f.write(r.encode() + b"\n")
            else:
                f.write(json.dumps(r, ensure_ascii=False).encode() + b"\n")
    return path


def load(path: Path, max_record_bytes: int = 1 << 20) -> tuple[list[Record], list[Skip], FieldMapper, str]:
    """Run detection, the reader and the field mapper the way the importer does."""
    info = detect(path, path.name)
    mapper = FieldMapper(max_record_bytes)
    records: list[Record] = []
    skips: list[Skip] = []
    for item in iter_items(info, max(8 * max_record_bytes, 64 << 20)):
        if item.data is None:
            skips.append(Skip(item.where, item.error or "", item.field))
            continue
        result = mapper.to_record(item.data, item.where)
        (skips if isinstance(result, Skip) else records).append(result)  # type: ignore[arg-type]
    return records, skips, mapper, info.format


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()
