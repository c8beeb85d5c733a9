"""Datasets on disk: listing, meta.json, memory-mapped Arrow tables, and atomic writes."""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import shutil
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pyarrow as pa

from core.data.arrow_io import (
    DATASET_DICT_JSON,
    LayoutError,
    is_dataset_dict,
    read_save_to_disk,
    split_names,
)
from core.data.errors import DatasetError, DatasetExists, DatasetNotFound
from core.data.fields import COLUMNS, Record
from core.data.split import SPLITS
from core.durable import atomic_write_json, replace
from core.paths import PathError, Paths

if TYPE_CHECKING:
    from datasets import DatasetDict

META_JSON = "meta.json"
META_VERSION = 1
RAW_SUFFIXES: tuple[str, ...] = (".jsonl", ".ndjson", ".json", ".csv", ".tsv", ".gz")

ARROW_SCHEMA = pa.schema(
    [
        ("title", pa.string()),
        ("story", pa.string()),
        ("ncode", pa.string()),
        ("keyword", pa.string()),
        ("genre", pa.int64()),
        ("biggenre", pa.int64()),
    ]
)


@dataclass(frozen=True)
class DatasetInfo:
    """One entry of `list_datasets`.

    ok: the dataset is built and loadable; otherwise `error` says why (for a folder that only
        holds a source file, "not built yet — run …" and `pending_source` names that file).
    counts: rows per split (from meta.json, or counted from Arrow when meta.json is absent).
    """

    name: str
    path: Path
    counts: dict[str, int] = field(default_factory=dict)
    created: str | None = None
    source: str | None = None
    fingerprint: str | None = None
    ok: bool = True
    error: str | None = None
    pending_source: Path | None = None

    @property
    def total(self) -> int:
        return sum(self.counts.values())

    @property
    def built(self) -> bool:
        return self.pending_source is None and self.ok

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "path": str(self.path),
            "counts": self.counts,
            "total": self.total,
            "created": self.created,
            "source": self.source,
            "fingerprint": self.fingerprint,
            "ok": self.ok,
            "error": self.error,
            "pending_source": str(self.pending_source) if self.pending_source else None,
        }


def import_hint(name: str, source: Path) -> str:
    return f"not built yet — run `narou-tui dataset import {source} --name {name}`"


def _raw_files(folder: Path) -> list[Path]:
    return sorted(
        p
        for p in folder.iterdir()
        if p.is_file() and p.suffix.lower() in RAW_SUFFIXES and p.name != META_JSON
    )


def _info(folder: Path) -> DatasetInfo | None:
    name = folder.name
    meta_path = folder / META_JSON
    if meta_path.is_file():
        try:
            meta = json.loads(meta_path.read_text(encoding="utf-8"))
            counts = {str(k): int(v) for k, v in dict(meta.get("counts", {})).items()}
        except (OSError, ValueError, TypeError, AttributeError) as exc:
            return DatasetInfo(name, folder, ok=False, error=f"{meta_path}: unreadable ({exc})")
        problem = None
        if not is_dataset_dict(folder):
            problem = f"{DATASET_DICT_JSON} missing (import interrupted? re-run it with --force)"
        else:
            missing = [s for s in counts if not (folder / s).is_dir()]
            if missing:
                problem = f"split folder(s) missing: {', '.join(missing)}"
        return DatasetInfo(
            name,
            folder,
            counts=counts,
            created=meta.get("created"),
            source=meta.get("source"),
            fingerprint=meta.get("fingerprint"),
            ok=problem is None,
            error=problem,
        )
    if is_dataset_dict(folder):
        # Built elsewhere (plain save_to_disk, no meta.json): still loadable.
        try:
            counts = {s: t.num_rows for s, t in read_save_to_disk(folder).items()}
        except LayoutError as exc:
            return DatasetInfo(name, folder, ok=False, error=str(exc))
        return DatasetInfo(name, folder, counts=counts)
    raw = _raw_files(folder)
    if raw:
        return DatasetInfo(
            name, folder, ok=False, error=import_hint(name, raw[0]), pending_source=raw[0]
        )
    return None


def list_datasets(paths: Paths) -> list[DatasetInfo]:
    """Every dataset folder in datasets_dir (built, broken, or holding only a source file)."""
    root = paths.datasets_dir
    if not root.is_dir():
        return []
    out: list[DatasetInfo] = []
    for folder in sorted(root.iterdir()):
        if not folder.is_dir() or folder.name.startswith("."):
            continue
        info = _info(folder)
        if info is not None:
            out.append(info)
    return out


def _available(paths: Paths) -> list[str]:
    return [d.name for d in list_datasets(paths) if d.ok]


def _folder(paths: Paths, name: str) -> Path:
    try:
        return paths.dataset(name)
    except PathError as exc:
        raise DatasetError(str(exc)) from exc


def _require_built(paths: Paths, name: str) -> Path:
    folder = _folder(paths, name)
    if not folder.is_dir():
        raise DatasetNotFound(name, _available(paths))
    if is_dataset_dict(folder):
        return folder
    info = _info(folder)
    reason = info.error if info is not None else "the folder holds no dataset"
    raise DatasetNotFound(name, _available(paths), reason)


def read_meta(paths: Paths, name: str) -> dict[str, Any]:
    """meta.json of a built dataset (a minimal one, counted from Arrow, when it has none)."""
    folder = _require_built(paths, name)
    meta_path = folder / META_JSON
    if not meta_path.is_file():
        counts = {s: t.num_rows for s, t in load_tables(paths, name).items()}
        return {"name": name, "source": None, "created": None, "counts": counts}
    try:
        meta = json.loads(meta_path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise DatasetError(f"{meta_path}: unreadable ({exc})") from exc
    if not isinstance(meta, dict):
        raise DatasetError(f"{meta_path}: not a JSON object")
    return meta


def load_tables(paths: Paths, name: str) -> dict[str, pa.Table]:
    """{split: pyarrow.Table}, memory-mapped from the Arrow files; never imports `datasets`."""
    folder = _require_built(paths, name)
    try:
        return read_save_to_disk(folder)
    except LayoutError as exc:
        raise DatasetError(f"dataset {name!r}: {exc}") from exc


def load_dataset_dict(paths: Paths, name: str) -> DatasetDict:
    """The dataset as a `datasets.DatasetDict` (imports `datasets`; for training/tokenizing)."""
    folder = _require_built(paths, name)
    from datasets import load_from_disk

    return load_from_disk(str(folder))


def fingerprint(splits: Mapping[str, Sequence[Record]]) -> str:
    """Content hash of the rows per split (order included); a cache key for derived data."""
    h = hashlib.sha256()
    for split in sorted(splits):
        h.update(f"\x00split\x00{split}\x00".encode())
        for rec in splits[split]:
            h.update(json.dumps([getattr(rec, c) for c in COLUMNS], ensure_ascii=False).encode())
            h.update(b"\n")
    return h.hexdigest()


def is_built(paths: Paths, name: str) -> bool:
    folder = _folder(paths, name)
    return (folder / META_JSON).exists() or (folder / DATASET_DICT_JSON).exists()


def _managed_entries(folder: Path) -> set[str]:
    names = {META_JSON, DATASET_DICT_JSON, *SPLITS}
    if is_dataset_dict(folder):
        with contextlib.suppress(LayoutError):  # unreadable: replace just the standard names
            names.update(split_names(folder))
    return names


def managed_paths(paths: Paths, name: str) -> list[Path]:
    """What an import with `force` replaces in the dataset folder (everything else stays)."""
    folder = _folder(paths, name)
    return [folder / n for n in sorted(_managed_entries(folder))] if folder.is_dir() else []


def write_dataset(
    paths: Paths,
    name: str,
    splits: Mapping[str, Sequence[Record]],
    meta: dict[str, Any],
    force: bool = False,
) -> Path:
    """Save `splits` as a DatasetDict plus meta.json into datasets/<name>/.

    Built in a temporary folder inside datasets_dir, then moved in by rename; meta.json goes
    last, so a folder with a meta.json is complete. An existing build is replaced only with
    `force`, and only its own entries (meta.json, dataset_dict.json, split folders): other
    files, such as the bundled sample's sample.jsonl, stay as they are.
    """
    from datasets import Dataset, DatasetDict, utils

    target = _folder(paths, name)
    if target.exists() and not target.is_dir():
        raise DatasetError(f"{target} exists and is not a folder")
    if is_built(paths, name) and not force:
        raise DatasetExists(
            f"dataset {name!r} already exists at {target} (use --force to replace it)"
        )
    paths.datasets_dir.mkdir(parents=True, exist_ok=True)
    # Arrow columns built directly: Dataset.from_dict would encode 600k values one by one.
    dd = DatasetDict(
        {
            s: Dataset(pa.table({c: [getattr(r, c) for r in splits[s]] for c in COLUMNS}, schema=ARROW_SCHEMA))
            for s in SPLITS
        }
    )
    tmp = paths.datasets_dir / f".tmp-{name}-{uuid.uuid4().hex[:8]}"
    trash = paths.datasets_dir / f".trash-{name}-{uuid.uuid4().hex[:8]}"
    done = False
    bars_were_off = utils.are_progress_bars_disabled()
    utils.disable_progress_bars()  # "Saving the dataset" bars would garble CLI/TUI output
    try:
        dd.save_to_disk(str(tmp))
        atomic_write_json(tmp / META_JSON, meta, indent=2)
        if not target.exists():
            replace(tmp, target)
            done = True
            return target
        trash.mkdir()
        for entry in _managed_entries(target):
            if (target / entry).exists():
                os.rename(target / entry, trash / entry)
        for entry in sorted(p.name for p in tmp.iterdir() if p.name != META_JSON):
            os.rename(tmp / entry, target / entry)
        replace(tmp / META_JSON, target / META_JSON)  # last: the folder is complete from here
        done = True
        return target
    finally:
        if not bars_were_off:
            utils.enable_progress_bars()
        if not done and trash.is_dir():
            # Put the previous build back rather than leave a half-replaced folder.
            for old in trash.iterdir():
                if (target / old.name).exists():
                    shutil.rmtree(target / old.name, ignore_errors=True)
                os.rename(old, target / old.name)
        shutil.rmtree(tmp, ignore_errors=True)
        shutil.rmtree(trash, ignore_errors=True)
