"""The early-stopping rule and its reading of eval_loss / quality lines from metrics.jsonl."""

from __future__ import annotations

import json
from pathlib import Path

from core.training.config import TrainConfig
from core.training.early_stop import EarlyStopper, EarlyStopRule


def test_rule_counts_evaluations_without_improvement() -> None:
    rule = EarlyStopRule(patience=2, min_delta=0.05)
    assert rule.observe(1, 3.0) is None
    assert rule.observe(2, 2.5) is None      # better: the count restarts
    assert rule.observe(3, 2.47) is None     # within min_delta: not an improvement (1)
    reason = rule.observe(4, 2.6)            # (2)
    assert reason == ("early stop: eval_loss has not improved by more than 0.05 for 2 evaluations "
                      "(best 2.5000 at step 2)")
    up = EarlyStopRule(patience=1, metric="chrf", higher=True)
    assert up.observe(1, 10.0) is None and up.observe(2, 12.0) is None
    assert up.observe(3, 11.0) is not None
    assert EarlyStopRule(patience=1).observe(1, float("nan")) is None


def _write(path: Path, records: list[dict]) -> None:
    with open(path, "a", encoding="utf-8") as fh:
        for r in records:
            fh.write(json.dumps(r) + "\n")


def test_stopper_reads_chrf_from_quality_lines_and_says_when_none_arrive(tmp_path: Path) -> None:
    metrics = tmp_path / "metrics.jsonl"
    metrics.touch()
    cfg = TrainConfig(dataset="d", scratch="tiny", early_stop=2, early_stop_metric="chrf")
    stopper = EarlyStopper(cfg, metrics)
    _write(metrics, [{"t": 1, "step": 5, "eval_loss": 3.0}])
    reason, note = stopper.reason_at(5)
    assert reason is None and note is not None and "no quality figures (chrF)" in note
    assert stopper.reason_at(5) == (None, None)  # said once
    _write(metrics, [{"t": 1, "step": 10, "quality": {"chrf": 20.0}},
                     {"t": 1, "step": 15, "quality": {"chrf": 19.0}},
                     {"t": 1, "step": 15, "event": "saved", "quality": {"chrf": 99.0}},  # not a quality line
                     {"t": 1, "step": 20, "quality": {"chrf": 18.5}}])
    assert stopper.reason_at(15)[0] is None
    reason, _ = stopper.reason_at(20)
    assert reason is not None and "chrf has not improved for 2 evaluations (best 20.0000 at step 10)" in reason


def test_stopper_counts_the_evaluations_before_a_resume(tmp_path: Path) -> None:
    metrics = tmp_path / "metrics.jsonl"
    _write(metrics, [{"t": 1, "step": s, "eval_loss": v} for s, v in ((5, 2.0), (10, 2.1))])
    # A fresh stopper (a resumed job) reads the history from the file.
    stopper = EarlyStopper(TrainConfig(dataset="d", scratch="tiny", early_stop=2), metrics)
    _write(metrics, [{"t": 1, "step": 15, "eval_loss": 2.2}])
    reason, _ = stopper.reason_at(15)
    assert reason is not None and "best 2.0000 at step 5" in reason
