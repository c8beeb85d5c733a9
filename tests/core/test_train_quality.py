"""Title quality as a training metric: the job's quality lines equal `narou-tui eval` on the
same checkpoint and synopses, --best-by chrf picks and keeps the best, the cost bound
shrinks the set, and the history readers see the lines."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest

from core.generation.checkpoints import resolve_checkpoint
from core.runs.history import read_history
from core.runs.reader import read_status
from core.training.checkpoint import TrainerState, record_best
from core.training.config import ConfigError
from core.training.launch import launch
from core.training.quality import (
    MIN_SAMPLES,
    QUALITY_KEYS,
    QualityMonitor,
    QualitySet,
    next_sample_count,
)
from tests.core.cli_helpers import run_cli
from tests.core.train_helpers import make_paths, read_metrics, set_env, tiny_config


@pytest.fixture
def tpaths(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):  # type: ignore[no-untyped-def]
    set_env(monkeypatch)
    return make_paths(tmp_path)


def _eval_json(paths: Any, spec: str, n: int) -> dict[str, Any]:
    code, out, err = run_cli(["--datasets-dir", str(paths.datasets_dir), "--checkpoints-dir",
                              str(paths.checkpoints_dir), "eval", "--checkpoint", spec, "--preset", "greedy",
                              "--limit", str(n), "--device", "cpu", "--json"], timeout_s=300)
    assert code == 0, err
    return json.loads(out)


def test_quality_lines_equal_eval_on_the_same_checkpoint_and_best_by_chrf(tpaths) -> None:
    # 6 synopses: under the shrink floor, so every pass scores the same set.
    cfg = tiny_config(max_steps=15, eval_steps=5, save_steps=5, quality_samples=6,
                      best_by="chrf", save_total_limit=1, run_name="quality")
    run_id = launch(tpaths, cfg, foreground=True)
    run_dir = tpaths.run(run_id)
    recs = read_metrics(run_dir)
    quality = [r for r in recs if "quality" in r]
    assert [q["step"] for q in quality] == [5, 10, 15]
    assert all(q["quality_samples"] == 6 and q["quality_s"] > 0 for q in quality)
    assert all(set(q["quality"]) == set(QUALITY_KEYS) for q in quality)
    assert "baseline" in quality[0] and not any("baseline" in q for q in quality[1:])

    # best_by chrf: the highest chrF (the earliest on a tie) is the best, kept by rotation,
    # and what `RUN` alone resolves to.
    top = max(q["quality"]["chrf"] for q in quality)
    best = f"checkpoint-{next(q['step'] for q in quality if q['quality']['chrf'] == top)}"
    status = read_status(run_dir)
    assert status.best_checkpoint == best and status.extra["best_chrf"] == top
    assert (run_dir / best).is_dir() and (run_dir / "checkpoint-15").is_dir()
    assert resolve_checkpoint(tpaths, run_id).name == best
    assert json.loads((run_dir / "config.json").read_text())["train"]["best_by"] == "chrf"

    # `narou-tui eval --preset greedy --limit N` on a saved checkpoint prints the very figures
    # of the quality line of its step, and the baseline's for the first N characters.
    for q in quality:
        name = f"checkpoint-{q['step']}"
        if not (run_dir / name).is_dir():
            continue
        report = _eval_json(tpaths, f"{run_id}/{name}", q["quality_samples"])
        model = report["systems"]["model"]
        assert {k: model[k] for k in QUALITY_KEYS} == q["quality"], name
        if "baseline" in q:
            prefix = report["systems"]["first_n_chars"]
            assert {k: prefix[k] for k in QUALITY_KEYS} == q["baseline"]

    # Every reader of the run's history sees the lines as their own kind.
    h = read_history(run_dir)
    steps, _t, chrf = h.quality_series("chrf")
    assert steps.tolist() == [5, 10, 15]
    assert chrf.tolist() == [q["quality"]["chrf"] for q in quality]
    assert h.quality_baseline("chrf") == quality[0]["baseline"]["chrf"]
    assert len(h.evals) == 3  # the quality lines are not mistaken for evals


def test_record_best_follows_best_by() -> None:
    by_loss, by_chrf = TrainerState(), TrainerState()
    for name, loss, chrf in (("checkpoint-1", 3.0, 10.0), ("checkpoint-2", 2.5, 9.0),
                             ("checkpoint-3", 2.7, 12.0), ("checkpoint-4", 2.9, 12.0)):
        for st, by in ((by_loss, "eval_loss"), (by_chrf, "chrf")):
            st.last_eval_loss, st.last_chrf = loss, chrf
            record_best(st, name, by)
    assert (by_loss.best_checkpoint, by_loss.best_eval_loss, by_loss.best_chrf) == (
        "checkpoint-2", 2.5, 12.0)
    assert (by_chrf.best_checkpoint, by_chrf.best_eval_loss, by_chrf.best_chrf) == (
        "checkpoint-3", 2.5, 12.0)  # a tie keeps the earlier checkpoint


def test_best_by_chrf_needs_quality_and_unknown_metrics_are_refused() -> None:
    with pytest.raises(ConfigError, match="best_by: chrf needs"):
        tiny_config(best_by="chrf", quality_samples=0).validate()
    with pytest.raises(ConfigError, match=re.escape("best_by: eval_loss|chrf, got 'bleu'")):
        tiny_config(best_by="bleu").validate()


def test_next_sample_count_only_shrinks_to_fit_the_time_share() -> None:
    assert next_sample_count(128, 1.0, 100.0) == 128  # 1 % of the time: unchanged
    assert next_sample_count(128, 10.0, 100.0) == 128  # exactly 10 %: unchanged
    assert next_sample_count(128, 20.0, 100.0) == 64  # twice the budget: half the samples
    assert next_sample_count(128, 100.0, 10.0) == MIN_SAMPLES  # never under the floor
    assert next_sample_count(6, 100.0, 1.0) == 6  # already under the floor: kept


class Lines:
    """Collects what the monitor writes, in the MetricsWriter's two calls."""

    def __init__(self) -> None:
        self.records: list[dict[str, Any]] = []

    def write(self, record: dict[str, Any]) -> None:
        self.records.append(record)

    def event(self, step: int, event: str, **fields: Any) -> None:
        self.records.append({"step": step, "event": event, **fields})


def test_a_pass_over_its_time_share_shrinks_the_next_and_says_so(
        tpaths: Any, tiny_checkpoint: Path) -> None:
    from core.evaluation.data import load_split
    from core.generation.loading import load_for_generation

    rows = load_split(tpaths, "sample", "validation")[:12]
    data = QualitySet([r["story"] for r in rows], [r["title"] for r in rows], 10)
    model, tok = load_for_generation(tiny_checkpoint, "cpu")
    # A share no pass can meet: the set must shrink to the floor after the first pass.
    monitor = QualityMonitor(data, tiny_checkpoint.parent, share=1e-9)
    state, lines = TrainerState(step=7), Lines()
    monitor.measure(model, tok, "cpu", state, 0.5, lines)
    state.step = 14
    monitor.measure(model, tok, "cpu", state, 1.0, lines)
    quality = [r for r in lines.records if "quality" in r]
    reduced = [r for r in lines.records if r.get("event") == "quality_reduced"]
    assert [q["quality_samples"] for q in quality] == [12, MIN_SAMPLES]
    assert "baseline" in quality[0] and "baseline" in quality[1]  # a new set, a new baseline
    assert len(reduced) == 1 and reduced[0]["samples"] == MIN_SAMPLES
    assert reduced[0]["reason"].startswith(f"title quality: 12 → {MIN_SAMPLES} samples")
    assert state.extra["quality_samples"] == MIN_SAMPLES


def test_a_failing_pass_turns_quality_off_without_ending_the_run() -> None:
    monitor = QualityMonitor(QualitySet(["あらすじ"], ["題"], 5), Path("run"))
    state, lines = TrainerState(step=3), Lines()
    # An object without a model's config: building the pass fails before any title.
    assert monitor.measure(object(), None, "cpu", state, 0.1, lines) is None
    assert lines.records == [{"step": 3, "event": "warning", "reason": (
        "title quality is off for the rest of this job: its pass at step 3 failed "
        "(AttributeError: 'object' object has no attribute 'config')")}]
    assert monitor.measure(object(), None, "cpu", state, 0.2, lines) is None
    assert len(lines.records) == 1  # no second attempt, no second warning
