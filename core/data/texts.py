"""A dataset's texts for tokenizer work: every synopsis and title, or one row by position."""

from __future__ import annotations

import random
from dataclasses import dataclass

from core.data import store
from core.data.errors import DatasetError
from core.jsonl import read_objects
from core.paths import Paths


def dataset_texts(paths: Paths, name: str) -> tuple[list[str], list[str]]:
    """Stories and titles of a dataset, all splits; the raw bundled sample when it is not built."""
    try:
        tables = store.load_tables(paths, name)
    except DatasetError:
        raw = paths.dataset(name) / f"{name}.jsonl"
        if not raw.is_file():
            raise
        rows = [rec for _, rec in read_objects(raw).objects]  # bad lines: not texts to show
        return [r.get("story", "") for r in rows], [r.get("title", "") for r in rows]
    stories: list[str] = []
    titles: list[str] = []
    for table in tables.values():
        stories += [s or "" for s in table.column("story").to_pylist()]
        titles += [t or "" for t in table.column("title").to_pylist()]
    return stories, titles


@dataclass(frozen=True)
class DatasetRow:
    """One row: `index` counts across all splits (train first), `row` within its split."""

    split: str
    index: int
    row: int
    story: str
    title: str


def dataset_row(paths: Paths, name: str, index: int, random_row: bool = False) -> DatasetRow:
    """Row `index` (wrapping at the end) or a random row of a built dataset, across its splits."""
    tables = store.load_tables(paths, name)
    splits = [(s, t) for s, t in tables.items() if t.num_rows]
    total = sum(t.num_rows for _, t in splits)
    if not total:
        raise ValueError(f"dataset {name!r} has no rows")
    flat = random.randrange(total) if random_row else index % total
    pos, split, table = flat, splits[0][0], splits[0][1]
    for split, table in splits:  # noqa: B007 - the loop finds the split holding `flat`
        if pos < table.num_rows:
            break
        pos -= table.num_rows
    return DatasetRow(split, flat, pos, table.column("story")[pos].as_py() or "",
                      table.column("title")[pos].as_py() or "")
