"""`tokenize_dataset`: a dataset's splits as model inputs, through the fast path, cached as Arrow."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from core.durable import replace
from core.paths import Paths
from core.tokenization.fast import EncoderSpec, encode_many

CACHE_DIRNAME = ".cache"
COMPLETE_MARKER = "COMPLETE"

# (stage, done, total): stage is "<split>/source", "<split>/target", "save" or "cached".
StageProgress = Callable[[str, int, int], None]


def cache_key(fingerprint: str, spec: EncoderSpec, max_source_len: int, max_target_len: int) -> str:
    """Key of one tokenized copy: dataset content, tokenizer settings + vocab + dictionary, lengths."""
    raw = json.dumps([fingerprint, spec.key(), max_source_len, max_target_len])
    return hashlib.sha256(raw.encode()).hexdigest()[:20]


def dataset_fingerprint(paths: Paths, name: str) -> str:
    """What identifies a dataset's content: meta.json's fingerprint, else a hash of the rows."""
    from core.data.store import load_tables, read_meta

    return read_meta(paths, name).get("fingerprint") or content_hash(load_tables(paths, name))


def content_hash(tables: dict[str, Any]) -> str:
    # For a dataset without meta.json: hash what we read, so edits still invalidate the cache.
    h = hashlib.sha256()
    for split in sorted(tables):
        h.update(f"\x00{split}\x00".encode())
        for column in ("story", "title"):
            for text in tables[split].column(column).to_pylist():
                h.update((text or "").encode() + b"\x00")
    return h.hexdigest()


def _list_column(flat: Any, lengths: Any) -> Any:
    import numpy as np
    import pyarrow as pa

    offsets = np.zeros(len(lengths) + 1, dtype=np.int64)
    np.cumsum(np.frombuffer(lengths, dtype=np.int64), out=offsets[1:])
    values = pa.array(np.frombuffer(flat, dtype=np.int64))
    return pa.LargeListArray.from_arrays(pa.array(offsets), values).cast(pa.list_(pa.int64()))


def tokenize_tables(
    tables: dict[str, Any],
    spec: EncoderSpec,
    max_source_len: int,
    max_target_len: int,
    num_proc: int | None = None,
    progress: StageProgress | None = None,
) -> dict[str, Any]:
    """split → pyarrow Table with input_ids, labels, src_len, tgt_len (rows in the same order)."""
    import numpy as np
    import pyarrow as pa

    out: dict[str, Any] = {}
    for split, table in tables.items():
        columns: dict[str, Any] = {}
        for column, kind, limit, name, len_name in (
            ("story", "source", max_source_len, "input_ids", "src_len"),
            ("title", "target", max_target_len, "labels", "tgt_len"),
        ):
            texts = [t or "" for t in table.column(column).to_pylist()]

            def report(done: int, total: int, stage: str = f"{split}/{kind}") -> None:
                if progress is not None:
                    progress(stage, done, total)

            flat, lengths = encode_many(spec, texts, kind, limit, num_proc, report)  # type: ignore[arg-type]
            columns[name] = _list_column(flat, lengths)
            columns[len_name] = pa.array(np.frombuffer(lengths, dtype=np.int64))
        out[split] = pa.table(columns)
    return out


def _save(tables: dict[str, Any], folder: Path, meta: dict[str, Any]) -> None:
    import datasets

    tmp = folder.with_name(folder.name + f".tmp-{os.getpid()}")
    shutil.rmtree(tmp, ignore_errors=True)
    dd = datasets.DatasetDict({split: datasets.Dataset(table) for split, table in tables.items()})
    # The caller reports this stage itself; datasets' own bars would land in train.log as noise.
    was_enabled = datasets.is_progress_bar_enabled()
    datasets.disable_progress_bars()
    try:
        dd.save_to_disk(str(tmp))
    finally:
        if was_enabled:
            datasets.enable_progress_bars()
    (tmp / "tokenization.json").write_text(json.dumps(meta, indent=2) + "\n", encoding="utf-8")
    (tmp / COMPLETE_MARKER).write_text("ok\n", encoding="utf-8")
    shutil.rmtree(folder, ignore_errors=True)
    replace(tmp, folder)


def tokenize_dataset(
    paths: Paths,
    name: str,
    tokenizer_dir: str | Path,
    max_source_len: int,
    max_target_len: int,
    num_proc: int | None = None,
    *,
    progress: StageProgress | None = None,
    use_cache: bool = True,
) -> Any:
    """DatasetDict of `name` with input_ids ([CLS] story [SEP]), labels (title [SEP]), src_len, tgt_len.

    Ids equal BertJapaneseTokenizer's for `tokenizer_dir` (a folder, preset or hub id). The
    result is cached under datasets/<name>/.cache/tok-<key>/ and reloaded memory-mapped.
    """
    import datasets
    from core.data.store import load_tables
    from core.tokenization.loader import resolve_encoder

    if max_source_len < 2 or max_target_len < 1:
        raise ValueError("max_source_len must be ≥ 2 ([CLS]+[SEP]) and max_target_len ≥ 1 ([SEP])")
    spec, tok_name, tok_path, warnings = resolve_encoder(tokenizer_dir)
    fingerprint = dataset_fingerprint(paths, name)
    key = cache_key(fingerprint, spec, max_source_len, max_target_len)
    folder = paths.dataset(name) / CACHE_DIRNAME / f"tok-{key}"
    if use_cache and (folder / COMPLETE_MARKER).is_file():
        if progress is not None:
            progress("cached", 1, 1)
        return datasets.load_from_disk(str(folder))
    started = time.monotonic()
    tables = load_tables(paths, name)
    out = tokenize_tables(tables, spec, max_source_len, max_target_len, num_proc, progress)
    if progress is not None:
        progress("save", 0, 1)
    meta = {
        "dataset": name,
        "fingerprint": fingerprint,
        "tokenizer": tok_name,
        "tokenizer_path": str(tok_path),
        "dictionary": spec.dictionary,
        "encoder_key": spec.key(),
        "max_source_len": max_source_len,
        "max_target_len": max_target_len,
        "rows": {split: t.num_rows for split, t in out.items()},
        "seconds": round(time.monotonic() - started, 2),
        "warnings": warnings,
    }
    _save(out, folder, meta)
    if progress is not None:
        progress("save", 1, 1)
    return datasets.load_from_disk(str(folder))
