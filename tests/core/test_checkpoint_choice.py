"""What a run says of its checkpoints: the one offered when none is named, and their figures."""

from __future__ import annotations

import json
from pathlib import Path

from core.generation.checkpoints import best_checkpoint, describe_run
from core.runs.schema import COMPLETE_MARKER
from tests.synthetic_run import FakeRun


def _run(tmp_path: Path, best_by: str) -> Path:
    """Checkpoints 200 and 400 complete, 600 cut short; segment 0 evaluated 600 before the job
    died, and the resume from 400 (segment 1) has not reached 600 again."""
    run = FakeRun(tmp_path / f"by-{best_by}", total_steps=1000, eval_every=200).create(state="stopped")
    (run.run_dir / "config.json").write_text(json.dumps({"run_id": run.run_dir.name,
                                                         "train": {"best_by": best_by}}))
    figures = {200: (2.0, 20.0), 400: (2.5, 30.0), 600: (1.0, 90.0)}
    run.write_records([rec for step, (loss, chrf) in figures.items() for rec in (
        {"t": 1.0 * step, "step": step, "segment": 0, "eval_loss": loss},
        {"t": 1.0 * step, "step": step, "segment": 0, "quality": {"chrf": chrf}})])
    run.resume_from(400)
    for step in (200, 400, 600):
        (run.run_dir / f"checkpoint-{step}").mkdir()
    for step in (200, 400):
        (run.run_dir / f"checkpoint-{step}" / COMPLETE_MARKER).write_text("")
    return run.run_dir


def test_without_a_recorded_best_the_runs_own_measure_decides(tmp_path: Path) -> None:
    by_loss = describe_run(_run(tmp_path, "eval_loss"))
    by_chrf = describe_run(_run(tmp_path, "chrf"))
    assert by_loss.best is None and by_chrf.best is None  # status.json names no best
    assert best_checkpoint(by_loss).name == "checkpoint-200"  # lowest eval loss
    assert best_checkpoint(by_chrf).name == "checkpoint-400"  # highest chrF


def test_a_superseded_evaluation_is_not_the_checkpoints_figure(tmp_path: Path) -> None:
    info = {c.name: c for c in describe_run(_run(tmp_path, "chrf")).checkpoints}
    assert (info["checkpoint-400"].eval_loss, info["checkpoint-400"].chrf) == (2.5, 30.0)
    # The resume from 400 replaced everything segment 0 wrote after it.
    assert (info["checkpoint-600"].eval_loss, info["checkpoint-600"].chrf) == (None, None)
    assert not info["checkpoint-600"].complete


def test_the_model_card_quotes_no_superseded_quality(tmp_path: Path) -> None:
    from core.export.card import gather_facts

    info = {c.name: c for c in describe_run(_run(tmp_path, "chrf")).checkpoints}
    facts = gather_facts(info["checkpoint-600"], parameters=1, tokenizer={}, decoding={})
    assert facts.quality is not None
    assert (facts.quality["step"], facts.quality["chrf"]) == (400, 30.0)
