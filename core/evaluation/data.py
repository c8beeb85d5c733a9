"""Evaluation inputs: a dataset split as (story, title) rows, and a references file."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from core.paths import Paths


class EvalDataError(ValueError):
    """A dataset split or references file that cannot be used; the message names it."""


def load_split(paths: Paths, dataset: str, split: str) -> list[dict[str, str]]:
    """Rows {story, title, ncode} of one split, read with pyarrow (no `datasets` import)."""
    from core.data.store import load_tables

    try:
        tables = load_tables(paths, dataset)
    except Exception as exc:  # DatasetNotFound, LayoutError, PathError: all user-facing
        raise EvalDataError(f"dataset {dataset!r}: {exc}") from exc
    if split not in tables:
        raise EvalDataError(
            f"dataset {dataset!r} has no split {split!r}; splits: {', '.join(tables)}"
        )
    table = tables[split]
    missing = [c for c in ("story", "title") if c not in table.column_names]
    if missing:
        raise EvalDataError(f"dataset {dataset!r}/{split} lacks column(s) {', '.join(missing)}")
    stories = table.column("story").to_pylist()
    titles = table.column("title").to_pylist()
    ncodes = (table.column("ncode").to_pylist() if "ncode" in table.column_names
              else [""] * len(stories))
    return [{"story": s or "", "title": t or "", "ncode": n or ""}
            for s, t, n in zip(stories, titles, ncodes, strict=True)]


def run_dataset_name(config: dict[str, Any]) -> str | None:
    """The dataset a run was trained on, from its frozen config.json (top level or one down)."""
    value = config.get("dataset")
    if isinstance(value, str) and value:
        return value
    if isinstance(value, dict) and isinstance(value.get("name"), str):
        return value["name"]
    for sub in config.values():
        if isinstance(sub, dict) and isinstance(sub.get("dataset"), str) and sub["dataset"]:
            return sub["dataset"]
    return None


@dataclass
class References:
    """A references file: rows with story, title and the other system's prediction.

    rows: {"story", "title", "pred"} for each usable line.
    problems: "line N: why" for every line that was skipped.
    """

    path: Path
    rows: list[dict[str, str]] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)


def load_references(path: Path, pred_field: str = "pred_title_t5") -> References:
    """Read a JSONL of {story, title, pred_field}; bad lines are reported, good ones kept."""
    from core.jsonl import JsonlError, read_objects

    try:
        lines = read_objects(path)
    except JsonlError as exc:
        raise EvalDataError(str(exc)) from exc
    refs = References(lines.path)
    problems = list(lines.problems)
    for number, rec in lines.objects:
        bad = [k for k in ("story", "title", pred_field)
               if not isinstance(rec.get(k), str) or not rec[k].strip()]
        if bad:
            problems.append((number, f"missing or empty {', '.join(bad)}"))
            continue
        refs.rows.append({"story": rec["story"], "title": rec["title"], "pred": rec[pred_field]})
    refs.problems.extend(f"line {number}: {why}" for number, why in sorted(problems))
    if not refs.rows:
        raise EvalDataError(f"{path}: no usable lines ({'; '.join(refs.problems[:3]) or 'empty'})")
    return refs
