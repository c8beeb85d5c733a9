"""Comparing runs: two real tiny runs that differ in lr, resume-aware axes, the leaderboard."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from core.runs.compare import compare_dirs, load_run
from core.runs.compare_text import table_text
from core.runs.config_diff import differing_fields
from core.runs.run_scores import leaderboard
from tests.compare_runs import STEPS
from tests.core.cli_helpers import run_cli


def _cli(checkpoints: Path, *argv: str) -> tuple[int, str, str]:
    return run_cli(["--checkpoints-dir", str(checkpoints), *argv])


def _evals(run_dir: Path) -> list[float]:
    recs = [json.loads(x) for x in (run_dir / "metrics.jsonl").read_text().splitlines()]
    return [r["eval_loss"] for r in recs if "eval_loss" in r]


def _chrfs(run_dir: Path) -> list[float]:
    recs = [json.loads(x) for x in (run_dir / "metrics.jsonl").read_text().splitlines()]
    return [r["quality"]["chrf"] for r in recs if "quality" in r]


def test_two_real_runs_differ_only_in_lr_and_the_cli_prints_the_table(lr_pair: list[Path]) -> None:
    a, b = lr_pair
    cmp = compare_dirs([a, b])
    assert cmp.differing == {"lr": [0.002, 0.0005]}
    labels = [label for label, _ in cmp.rows()]
    assert labels == ["lr", "best eval loss", "best chrF", "samples/s", "wall time", "state"]
    for run, d in zip(cmp.runs, lr_pair, strict=True):
        assert run.scores.best_eval_loss == min(_evals(d))
        assert run.scores.state == "finished" and run.scores.step == STEPS
        assert run.scores.samples_seen == STEPS * 8 * 2  # micro-batch 8 × accumulation 2
        # The training job measured title quality at each eval: the best is the highest.
        assert _chrfs(d) and run.scores.best_chrf == max(_chrfs(d))

    code, out, err = _cli(a.parent, "runs", "compare", a.name, b.name)
    assert code == 0, err
    lines = out.splitlines()
    assert lines[:len(table_text(cmp))] == table_text(cmp)
    assert lines[0].split() == ["run", a.name, b.name]
    assert lines[1].split() == ["lr", "0.002", "0.0005"]
    assert lines[3].split()[:2] == ["best", "chrF"] and "—" not in lines[3]
    assert lines[6].split() == ["state", "finished", "finished"]
    assert "config fields are the same in every run" in lines[-1]

    code, out, err = _cli(a.parent, "runs", "compare", a.name, b.name, "--json")
    assert code == 0, err
    data = json.loads(out)
    assert data["runs"] == [a.name, b.name] and data["differing"] == {"lr": [0.002, 0.0005]}
    assert [s["best_eval_loss"] for s in data["scores"]] == [min(_evals(a)), min(_evals(b))]
    assert "paths.*" in data["ignored_fields"]


def test_leaderboard_ranks_by_eval_loss(lr_pair: list[Path]) -> None:
    a, b = lr_pair
    code, out, err = _cli(a.parent, "runs", "--sort", "eval_loss")
    assert code == 0, err
    ranked = sorted(lr_pair, key=lambda d: min(_evals(d)))
    rows = out.splitlines()[1:]
    assert [r.split()[1] for r in rows] == [d.name for d in ranked]
    assert [r.split()[0] for r in rows] == ["1", "2"]
    code, out, _ = _cli(a.parent, "runs", "--sort", "eval_loss", "--json")
    assert [json.loads(x)["run_id"] for x in out.splitlines()] == [d.name for d in ranked]


def test_compare_cli_refuses_bad_arguments_in_one_line(lr_pair: list[Path]) -> None:
    a, _ = lr_pair
    code, _, err = _cli(a.parent, "runs", "compare", a.name)
    assert code != 0 and err.strip() == "narou-tui: runs compare needs two or more runs (see `narou-tui runs`)"
    code, _, err = _cli(a.parent, "runs", "compare", a.name, a.name)
    assert code != 0 and err.strip() == f"narou-tui: runs compare: run {a.name!r} is given more than once"
    code, _, err = _cli(a.parent, "runs", "compare", a.name, "nope")
    assert code != 0 and "no run 'nope'" in err and len(err.strip().splitlines()) == 1


def test_a_run_with_a_damaged_config_is_compared_and_named(tmp_path: Path) -> None:
    lines = [_train(s, 100.0 + s, 0) for s in (1, 2)]
    _write_run(tmp_path / "good", lines, {"train": {"lr": 1e-4}})
    bad = _write_run(tmp_path / "bad", lines, {})
    (bad / "config.json").write_text("{not json")
    code, out, err = _cli(tmp_path, "runs", "compare", "good", "bad")
    assert code == 0
    assert err.strip() == "narou-tui: run bad: no readable config.json, its config fields show as —"
    assert out.splitlines()[1].split() == ["lr", "0.0001", "—"]
    assert (bad / "config.json").read_text() == "{not json"  # never rewritten


# ---------------------------------------------------------------------- written by hand
def _write_run(d: Path, lines: list[dict[str, Any]], config: dict[str, Any],
               state: str = "finished") -> Path:
    d.mkdir(parents=True)
    (d / "metrics.jsonl").write_text("".join(json.dumps(x) + "\n" for x in lines))
    (d / "config.json").write_text(json.dumps(config))
    (d / "status.json").write_text(json.dumps({"state": state, "step": 8}))
    return d


def _train(step: int, t: float, seg: int) -> dict[str, Any]:
    return {"t": t, "step": step, "loss": 5.0 - step / 10, "lr": 1e-4, "samples_per_s": 100.0 + step,
            "segment": seg}


def _quality(step: int, t: float, seg: int, chrf: float) -> dict[str, Any]:
    return {"t": t, "step": step, "segment": seg, "quality": {"chrf": chrf, "distinct_1": 0.5},
            "quality_samples": 8, "quality_s": 0.5}


def test_a_resumed_run_counts_samples_per_segment_and_leaves_the_gap_out(tmp_path: Path) -> None:
    # Segment 0: effective batch 16, steps 1..10 at t = 1000..1010, then it dies; segment 1
    # resumes at step 6 an hour later with effective batch 8.
    lines: list[dict[str, Any]] = [{"t": 1000.0, "step": 0, "event": "started", "batch_size": 8,
                                    "grad_accum": 2, "world_size": 1, "segment": 0}]
    for s in range(1, 11):
        lines.append(_train(s, 1000.0 + s, 0))
        if s == 5:
            lines.append({"t": 1005.0, "step": 5, "eval_loss": 3.0, "segment": 0})
            lines.append(_quality(5, 1005.0, 0, 20.0))
    lines.append(_quality(10, 1010.0, 0, 30.0))  # after the resume point: replaced
    lines.append({"t": 4600.0, "step": 6, "event": "resumed", "batch_size": 4, "grad_accum": 2,
                  "world_size": 1, "segment": 1})
    for s in (7, 8):
        lines.append(_train(s, 4600.0 + 2 * (s - 6), 1))
    lines.append({"t": 4604.0, "step": 8, "eval_loss": 2.5, "segment": 1})
    lines.append(_quality(8, 4604.0, 1, 25.0))
    run = load_run(_write_run(tmp_path / "r", lines, {"train": {"batch_size": 99}}))

    assert run.history.train["step"].tolist() == [1, 2, 3, 4, 5, 6, 7, 8]
    assert run.train_x("samples").tolist() == [16, 32, 48, 64, 80, 96, 104, 112]
    # Segment 0 counts up to step 6 (1000..1006: the steps after it were redone), then 2 and
    # 4 s into segment 1: the hour between the two is not training time.
    assert np.allclose(run.train_x("hours") * 3600, [1, 2, 3, 4, 5, 6, 8, 10])
    sc = run.scores
    assert (sc.best_chrf, sc.best_chrf_step) == (25.0, 8)  # 30.0 was logged by the replaced part
    assert (sc.best_eval_loss, sc.best_eval_step) == (2.5, 8)
    assert sc.wall_s == pytest.approx(10.0) and sc.samples_seen == 112
    steps, chrf = run.series("chrf")
    assert steps.tolist() == [5, 8] and chrf.tolist() == [20.0, 25.0]
    assert run.x_of("samples", steps).tolist() == [80, 112]


def test_without_batch_events_the_config_gives_the_effective_batch(tmp_path: Path) -> None:
    lines = [_train(s, 100.0 + s, 0) for s in (1, 2, 3)]
    cfg = {"train": {"batch_size": 4, "grad_accum": 4, "gpus": 2, "nnodes": 1}}
    run = load_run(_write_run(tmp_path / "r", lines, cfg))
    assert run.train_x("samples").tolist() == [32, 64, 96]
    assert run.scores.best_chrf is None and run.scores.best_eval_loss is None


def test_differing_fields_skip_ids_paths_and_timestamps() -> None:
    a = {"run_id": "a", "created": 1.0, "command": "x --lr 1", "paths": {"checkpoints_dir": "/a"},
         "train": {"lr": 1e-4, "epochs": 2, "run_name": "a", "compile": "auto"},
         "dataset": {"path": "/a/ds", "fingerprint": "f1"}, "model": {"preset": {"hidden": 64}}}
    b = {"run_id": "b", "created": 2.0, "command": "x --lr 2", "paths": {"checkpoints_dir": "/b"},
         "train": {"lr": 2e-4, "epochs": 2.0, "run_name": "b"},
         "dataset": {"path": "/b/ds", "fingerprint": "f2"}, "model": {"preset": {"hidden": 128}}}
    diff, same = differing_fields([a, b])
    assert diff == {"lr": [1e-4, 2e-4], "compile": ["auto", None],
                    "dataset.fingerprint": ["f1", "f2"], "model.preset.hidden": [64, 128]}
    assert same == 1  # epochs: 2 and 2.0 are the same number


def test_leaderboard_puts_runs_without_the_figure_last(tmp_path: Path) -> None:
    runs = []
    for name, chrf in (("none", None), ("low", 10.0), ("high", 30.0)):
        lines: list[dict[str, Any]] = [_train(1, 1.0, 0)]
        if chrf is not None:
            lines.append(_quality(1, 1.0, 0, chrf))
        runs.append(load_run(_write_run(tmp_path / name, lines, {})).scores)
    assert [s.run_id for s in leaderboard(runs, "chrf")] == ["high", "low", "none"]
    code, out, err = _cli(tmp_path, "runs", "--sort", "chrf")
    assert code == 0, err
    assert [r.split()[1] for r in out.splitlines()[1:]] == ["high", "low", "none"]
    assert out.splitlines()[1].split()[5:7] == ["30.0", "@1"]
