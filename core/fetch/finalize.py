"""Turning a harvest's records.jsonl into dataset <name> through the dataset layer's importer."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from core.durable import atomic_write_json, read_json_object
from core.fetch.launch import lock_held
from core.fetch.store import FetchLayout
from core.paths import Paths


class ImportUnavailable(Exception):
    """The records could not become a dataset (nothing fetched, running, name taken, importer error)."""


def _owned_by_harvest(paths: Paths, name: str, records: Path) -> bool:
    meta = read_json_object(paths.dataset(name) / "meta.json")
    return bool(meta) and Path(str(meta.get("source", ""))).resolve() == records.resolve()


def import_harvest(paths: Paths, name: str) -> str:
    """Build (or rebuild) dataset `name` from the harvest's records; a one-line summary.

    A dataset of that name built from this harvest's own file is replaced (a later, larger
    harvest supersedes it); any other dataset of that name is left alone and reported.
    """
    from core.data.errors import DatasetError
    from core.data.importer import ImportOptions, import_dataset

    try:  # the Arrow writer's tqdm bars would flood fetch.log and the CLI's stderr
        import datasets

        datasets.disable_progress_bars()
    except ImportError:
        pass

    layout = FetchLayout.of(paths, name)
    if not layout.records.exists() or layout.records.stat().st_size == 0:
        raise ImportUnavailable(f"nothing fetched yet for {name!r} ({layout.records} is empty or missing)")
    if lock_held(layout):
        raise ImportUnavailable(f"harvest {name!r} is still running; stop it or let it finish first")
    force = _owned_by_harvest(paths, name, layout.records)
    try:
        report = import_dataset(layout.records, name, paths, ImportOptions(force=force))
    except DatasetError as exc:
        raise ImportUnavailable(
            f"importing {layout.records} as dataset {name!r} failed: {exc}"
            + ("" if force else " (a dataset of that name not built from this harvest is never replaced)")
        ) from None
    state = read_json_object(layout.state)
    if state is not None:
        state["dataset"] = name
        state["imported_at"] = dt.datetime.now(dt.UTC).isoformat(timespec="seconds")
        state["dataset_counts"] = report.counts
        atomic_write_json(layout.state, state)
    counts = ", ".join(f"{k} {v:,}" for k, v in report.counts.items())
    removed = report.loaded - sum(report.counts.values())
    return (
        f"dataset {name!r} built from {report.loaded:,} records ({removed:,} removed by cleaning, "
        f"{report.skipped_total:,} unreadable): {counts} -> {report.target}"
    )
