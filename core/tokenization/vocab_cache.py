"""Scratch WordPiece vocabularies cached per dataset content and size: runs share one."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
from pathlib import Path

from core.durable import replace
from core.paths import Paths
from core.tokenization.dataset_cache import CACHE_DIRNAME, COMPLETE_MARKER, dataset_fingerprint
from core.tokenization.scratch import ProgressFn

# Part of the cache key: bump it when train_wordpiece's recipe changes.
RECIPE = "wordpiece-mecab-v1"


def vocab_key(fingerprint: str, vocab_size: int, dictionary: str) -> str:
    raw = json.dumps([fingerprint, vocab_size, dictionary, RECIPE])
    return hashlib.sha256(raw.encode()).hexdigest()[:16]


def scratch_vocab(
    paths: Paths,
    name: str,
    vocab_size: int,
    dictionary: str = "unidic_lite",
    progress: ProgressFn | None = None,
) -> tuple[Path, bool]:
    """(folder, reused): a vocabulary trained on dataset `name`'s train split, trained once.

    The tokenizers library's WordPiece trainer breaks count ties in hash-map order, so two
    trainings on the same text can differ (huggingface/tokenizers#1794). Training once per
    (dataset content, size, dictionary) makes runs on the same data share one vocabulary,
    and a new run skips the MeCab pass over the whole train split.
    """
    from core.data.store import load_dataset_dict
    from core.tokenization.scratch import train_wordpiece

    key = vocab_key(dataset_fingerprint(paths, name), vocab_size, dictionary)
    folder = paths.dataset(name) / CACHE_DIRNAME / f"vocab-{key}"
    if (folder / COMPLETE_MARKER).is_file():
        return folder, True
    shutil.rmtree(folder, ignore_errors=True)  # never complete: only a rename publishes one
    train = load_dataset_dict(paths, name)["train"]
    texts = (t for row in train.select_columns(["story", "title"]) for t in (row["story"], row["title"]))
    tmp = folder.with_name(f"{folder.name}.tmp-{os.getpid()}")
    shutil.rmtree(tmp, ignore_errors=True)
    train_wordpiece(texts, vocab_size, tmp, dictionary=dictionary, progress=progress, total=2 * len(train))
    (tmp / COMPLETE_MARKER).write_text("ok\n", encoding="utf-8")
    try:
        replace(tmp, folder)
    except OSError:
        # Another job finished the same vocabulary first: use that one, so both runs agree.
        shutil.rmtree(tmp, ignore_errors=True)
        if not (folder / COMPLETE_MARKER).is_file():
            raise
        return folder, True
    return folder, False


def copy_vocab(cached: Path, dest: Path) -> Path:
    """Copy a cached vocabulary into a run (its own copy: the run stays self-contained)."""
    tmp = dest.with_name(f".{dest.name}.tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    shutil.copytree(cached, tmp, ignore=shutil.ignore_patterns(COMPLETE_MARKER))
    replace(tmp, dest)
    return dest
