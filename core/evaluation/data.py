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


def rows_dataset(paths: Paths, run_spec: str | None) -> str | None:
    """The dataset whose rows go with checkpoint `run_spec` ("<run>/<checkpoint>" or a run id):
    its run's own, else the bundled sample, else the first readable one; None when none exists."""
    if run_spec:
        from core.runs.reader import read_config

        name = run_dataset_name(read_config(paths.run(run_spec.split("/")[0])))
        if name is not None:
            return name
    from core.data.store import list_datasets

    names = [d.name for d in list_datasets(paths) if getattr(d, "ok", True)]
    return "sample" if "sample" in names else (names[0] if names else None)


@dataclass
class SplitRows:
    """One split of a dataset, read once and stepped through by position (wrapping at the end).

    dataset: whose rows `rows` holds (None: nothing read yet).
    index: the row shown last (-1: none), set by whoever shows it.
    """

    split: str = "validation"
    dataset: str | None = None
    rows: list[dict[str, str]] = field(default_factory=list)
    index: int = -1

    def row(self, paths: Paths, dataset: str, index: int) -> tuple[int, dict[str, str]]:
        """(wrapped index, row) of row `index` of `dataset`, reading the split when it changed."""
        if self.dataset != dataset:
            self.rows = load_split(paths, dataset, self.split)
            self.dataset = dataset
        if not self.rows:
            raise EvalDataError(f"{dataset}/{self.split} is empty")
        index %= len(self.rows)
        return index, self.rows[index]

    def shown_story_is(self, synopsis: str) -> bool:
        """True while `synopsis` is the shown row's story, unedited (its title is the reference)."""
        return (0 <= self.index < len(self.rows)
                and self.rows[self.index]["story"].strip() == synopsis)


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
