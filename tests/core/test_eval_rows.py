"""Rows for the Generate pane's input: which dataset goes with a checkpoint, and stepping through it."""

from __future__ import annotations

import json

import pytest

from core.evaluation.data import EvalDataError, SplitRows, rows_dataset
from core.paths import Paths
from tests.generation_tiny import DATASET, sample_pairs, write_sample_dataset


def test_rows_dataset_prefers_the_runs_own_then_the_sample(paths: Paths) -> None:
    assert rows_dataset(paths, None) is None  # nothing on disk yet
    write_sample_dataset(paths.datasets_dir)
    assert rows_dataset(paths, None) == DATASET  # the only one
    write_sample_dataset(paths.datasets_dir, "sample")
    assert rows_dataset(paths, None) == "sample"  # the bundled one wins
    run = paths.checkpoints_dir / "some-run"
    run.mkdir()
    (run / "config.json").write_text(json.dumps({"data": {"dataset": DATASET}}), encoding="utf-8")
    assert rows_dataset(paths, "some-run/checkpoint-5") == DATASET
    assert rows_dataset(paths, "no-such-run") == "sample"  # no config: the default again


def test_split_rows_wrap_and_know_the_shown_story(paths: Paths) -> None:
    write_sample_dataset(paths.datasets_dir)
    rows = SplitRows("validation")
    n = 20  # the fixture's validation split
    index, row = rows.row(paths, DATASET, n + 2)
    assert index == 2 and row["story"] == sample_pairs()[2]["story"]
    assert not rows.shown_story_is(row["story"])  # nothing shown yet
    rows.index = index
    assert rows.shown_story_is(row["story"].strip())
    assert not rows.shown_story_is(row["story"] + "。")  # edited: not that row's text any more
    with pytest.raises(EvalDataError, match="has no split 'nope'"):
        SplitRows("nope").row(paths, DATASET, 0)
