"""`narou-tui eval`: model vs baselines on a split, collapse on a planted model, references."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from core.cli.main import main
from core.evaluation.data import EvalDataError, load_references
from core.evaluation.metrics import score_titles
from core.evaluation.runner import EvalConfig, latest_reports, run_eval, score_references
from core.generation.options import BUILTIN_PRESETS
from core.paths import Paths
from tests.conftest import shared_data
from tests.generation_tiny import build_collapsed_run, write_sample_dataset


@pytest.fixture(scope="session")
def collapsed_checkpoint(tmp_path_factory: pytest.TempPathFactory) -> Path:
    # A real model trained on one title for every synopsis: the classic BERT2BERT failure.
    return build_collapsed_run(tmp_path_factory.getbasetemp() / "tiny-gen", "竜の卵を拾った")


@pytest.fixture
def eval_paths(paths: Paths, tiny_checkpoint: Path, collapsed_checkpoint: Path) -> Paths:
    for ck in (tiny_checkpoint, collapsed_checkpoint):
        shutil.copytree(ck.parent, paths.checkpoints_dir / ck.parent.name)
    write_sample_dataset(paths.datasets_dir)
    return paths


def test_eval_cli_writes_report_with_baselines(
    eval_paths: Paths, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["eval", "--checkpoint", "tiny-run", "--split", "validation", "--limit", "12",
                 "--preset", "greedy", "--device", "cpu"]) == 0
    out = capsys.readouterr().out
    assert "first_n_chars" in out and "most_common_title" in out and "chrF" in out
    folder = eval_paths.checkpoints_dir / "tiny-run" / "eval"
    path = folder / "checkpoint-150-validation-limit12.json"
    assert f"written {path}" in out and "12 synopses (first 12 of the split: --limit)" in out
    report = json.loads(path.read_text(encoding="utf-8"))
    assert report["n"] == 12 and report["limit"] == 12 and report["dataset"] == "tiny-sample"
    assert set(report["systems"]) == {"model", "first_n_chars", "most_common_title"}
    model = report["systems"]["model"]
    assert not model["collapse"]["collapsed"]
    # the constant baseline is collapsed by construction
    assert report["systems"]["most_common_title"]["collapse"]["n_distinct"] == 1
    assert report["systems"]["most_common_title"]["collapse"]["collapsed"]
    assert len(report["samples"]) == 12 and report["samples"][0]["generated"]


def test_partial_eval_never_replaces_the_full_report(eval_paths: Paths, capsys) -> None:
    folder = eval_paths.checkpoints_dir / "tiny-run" / "eval"
    args = ["eval", "--checkpoint", "tiny-run", "--split", "test", "--preset", "greedy", "--device", "cpu"]
    assert main(args) == 0  # the whole split (20 rows)
    full = folder / "checkpoint-150-test.json"
    saved = full.read_bytes()
    assert json.loads(saved)["n"] == 20 and json.loads(saved)["limit"] is None
    assert main([*args, "--limit", "3"]) == 0
    assert full.read_bytes() == saved
    assert json.loads((folder / "checkpoint-150-test-limit3.json").read_text())["n"] == 3
    # What readers pick: the newest report overall is the partial one; the full one stays found.
    assert [r["n"] for r in latest_reports(full.parent.parent)] == [3, 20]
    assert [r["n"] for r in latest_reports(full.parent.parent, partial=False)] == [20]
    capsys.readouterr()


def test_collapse_detector_flags_planted_model(
    eval_paths: Paths, capsys: pytest.CaptureFixture[str]
) -> None:
    report = run_eval(eval_paths, EvalConfig("collapsed", split="test", limit=10,
                                             options=BUILTIN_PRESETS["greedy"]))
    c = report.systems["model"].collapse
    assert c.collapsed and c.n_distinct <= 2 and c.top_share >= 0.8
    assert main(["eval", "--checkpoint", "collapsed", "--split", "test", "--limit", "6",
                 "--preset", "greedy", "--device", "cpu"]) == 0
    assert "WARNING: collapse" in capsys.readouterr().out


def test_references_scored_beside_model(eval_paths: Paths, tmp_path: Path) -> None:
    refs = tmp_path / "refs.jsonl"
    lines = [
        {"story": "魔王の城に住む猫の話。", "title": "魔王城の猫", "pred_title_t5": "魔王城の猫"},
        {"story": "勇者が旅に出る。", "title": "勇者の旅", "pred_title_t5": "旅立ち"},
        {"story": "x", "title": "y"},
    ]
    refs.write_text("\n".join(json.dumps(x, ensure_ascii=False) for x in lines) + "\n{bad\n",
                    encoding="utf-8")
    report = run_eval(eval_paths, EvalConfig("tiny-run", limit=4, references=refs,
                                             options=BUILTIN_PRESETS["greedy"]))
    sec = report.references
    assert sec is not None and sec["n"] == 2
    assert sec["skipped"] == ["line 3: missing or empty pred_title_t5", "line 4: not JSON "
                              "(Expecting property name enclosed in double quotes)"]
    assert set(sec["systems"]) == {"t5", "model", "first_n_chars", "most_common_title"}
    assert sec["systems"]["t5"]["exact_match"] == pytest.approx(50.0)


def test_eval_errors(eval_paths: Paths, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["eval", "--checkpoint", "tiny-run", "--dataset", "nope"]) == 2
    assert "nope" in capsys.readouterr().err
    empty = tmp_path / "empty.jsonl"
    empty.write_text("\n")
    with pytest.raises(EvalDataError, match="no usable lines"):
        load_references(empty)


def test_real_t5_references_scored() -> None:
    path = shared_data("eval/t5_baseline_50.jsonl")
    refs = load_references(path)
    assert len(refs.rows) == 50 and not refs.problems
    sec = score_references(refs, None, prefix_n=10, common_title="")
    t5 = sec["systems"]["t5"]
    direct = score_titles([r["pred"] for r in refs.rows], [r["title"] for r in refs.rows],
                          [r["story"] for r in refs.rows])
    assert t5["chrf"] == pytest.approx(direct.chrf)
    # T5 beats copying the first characters of the synopsis on chrF
    assert 0 < sec["systems"]["first_n_chars"]["chrf"] < t5["chrf"] < 100
    assert not t5["collapse"]["collapsed"]
