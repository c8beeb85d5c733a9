"""`narou-tui generate`: one synopsis, JSON output, and batch files with bad lines."""

from __future__ import annotations

import hashlib
import json
import shutil
from pathlib import Path

import pytest

from core.cli.main import main
from core.paths import Paths
from tests.generation_tiny import sample_pairs


def test_generate_one_synopsis_json(run_paths: Paths, capsys: pytest.CaptureFixture[str]) -> None:
    story = sample_pairs()[0]["story"]
    assert main(["generate", "--checkpoint", "tiny-run", story, "--json",
                 "--num-beams", "3", "--num-return-sequences", "2", "--device", "cpu"]) == 0
    out = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert out["checkpoint"] == "tiny-run/checkpoint-150" and out["device"] == "cpu"
    assert len(out["titles"]) == 2 and all(t["title"] for t in out["titles"])


def test_generate_table_output(run_paths: Paths, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["generate", "--checkpoint", "tiny-run/checkpoint-150", "魔王を倒した勇者が村に帰る。",
                 "--preset", "greedy", "--device", "cpu"]) == 0
    lines = capsys.readouterr().out.strip().splitlines()
    assert lines[0].startswith("tiny-run/checkpoint-150 on CPU")
    assert lines[1].startswith(" 1. ")


def test_batch_mode_reports_bad_lines_and_keeps_input(
    run_paths: Paths, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    rows = sample_pairs()[:3]
    src = tmp_path / "in.jsonl"
    lines = [json.dumps(rows[0], ensure_ascii=False), "{not json", json.dumps({"title": "x"}),
             "", json.dumps(rows[1], ensure_ascii=False), json.dumps({"story": "話", "title": 5}),
             json.dumps({"story": rows[2]["story"]}, ensure_ascii=False)]
    src.write_text("\n".join(lines) + "\n", encoding="utf-8")
    before = hashlib.sha256(src.read_bytes()).hexdigest()
    dst = tmp_path / "out" / "titles.jsonl"
    code = main(["generate", "--checkpoint", "tiny-run", "--input", str(src), "--output", str(dst),
                 "--device", "cpu", "--batch-size", "2"])
    err = capsys.readouterr().err
    assert code == 0
    assert f"{src}:2: not JSON" in err
    assert f"{src}:3: field 'story' missing" in err
    assert f"{src}:6: field 'title' must be a string" in err
    assert hashlib.sha256(src.read_bytes()).hexdigest() == before
    out = [json.loads(x) for x in dst.read_text(encoding="utf-8").splitlines()]
    assert [o["line"] for o in out] == [1, 5, 7]
    assert out[0]["reference"] == rows[0]["title"] and out[0]["ncode"] == rows[0]["ncode"]
    assert "reference" not in out[2]
    assert all(o["titles"] and o["titles"][0]["title"] for o in out)


def test_cli_errors_are_messages_not_tracebacks(
    run_paths: Paths, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["generate", "--checkpoint", "missing-run", "あらすじ"]) == 2
    assert "no run 'missing-run'; runs: tiny-run" in capsys.readouterr().err
    assert main(["generate", "--checkpoint", "tiny-run", "あ", "--num-beams", "1"]) == 2
    assert "num_return_sequences (3) must be ≤ num_beams (1)" in capsys.readouterr().err
    src = tmp_path / "same.jsonl"
    src.write_text('{"story": "あ"}\n', encoding="utf-8")
    assert main(["generate", "--checkpoint", "tiny-run", "--input", str(src),
                 "--output", str(src)]) == 2
    assert "never modified" in capsys.readouterr().err
    bad = tmp_path / "latin1.jsonl"
    bad.write_bytes('{"story": "caf\xe9"}\n'.encode("latin-1"))
    assert main(["generate", "--checkpoint", "tiny-run", "--input", str(bad),
                 "--output", str(tmp_path / "o.jsonl")]) == 2
    assert "not UTF-8" in capsys.readouterr().err


def _damage(run_dir: Path) -> dict[str, str]:
    """checkpoint-150 truncated, -120 with a broken config.json, -90 without vocab.txt, -60 intact."""
    from tests.core.cli_helpers import break_config, drop_vocab, truncate_weights

    ck = run_dir / "checkpoint-150"
    for step in (120, 90, 60):
        shutil.copytree(ck, run_dir / f"checkpoint-{step}")
    truncate_weights(ck)
    break_config(run_dir / "checkpoint-120")
    drop_vocab(run_dir / "checkpoint-90")
    return {"150": "model.safetensors is truncated", "120": "config.json is damaged",
            "90": "vocab.txt is missing (the tokenizer cannot be loaded)"}


def test_damaged_checkpoints_fall_back_or_name_the_file(
    run_paths: Paths, capsys: pytest.CaptureFixture[str]
) -> None:
    problems = _damage(run_paths.run("tiny-run"))
    story = sample_pairs()[0]["story"]
    assert main(["generate", "--checkpoint", "tiny-run", story, "--device", "cpu", "--preset", "greedy"]) == 0
    captured = capsys.readouterr()
    warning = [line for line in captured.err.splitlines() if line.startswith("narou-tui: warning:")]
    assert len(warning) == 1 and warning[0].endswith("using tiny-run/checkpoint-60")
    for step, problem in problems.items():
        assert f"tiny-run/checkpoint-{step} ({problem}" in warning[0]
    assert captured.out.startswith("tiny-run/checkpoint-60 on CPU")
    for step, problem in problems.items():
        # It exists but cannot be used: data, not a bad argument (1, as `export` says it too).
        assert main(["generate", "--checkpoint", f"tiny-run/checkpoint-{step}", story]) == 1
        err = capsys.readouterr().err
        assert err.startswith(f"narou-tui: tiny-run/checkpoint-{step} cannot be loaded: {problem}")
        assert err.endswith("; intact: tiny-run/checkpoint-60\n") and err.count("\n") == 1


def test_eval_passes_over_a_damaged_checkpoint(run_paths: Paths, capsys: pytest.CaptureFixture[str]) -> None:
    from tests.generation_tiny import write_sample_dataset

    write_sample_dataset(run_paths.datasets_dir)
    _damage(run_paths.run("tiny-run"))
    assert main(["eval", "--checkpoint", "tiny-run", "--limit", "2", "--device", "cpu",
                 "--num-beams", "1", "--num-return-sequences", "1", "--json"]) == 0
    captured = capsys.readouterr()
    assert "narou-tui: warning: skipped damaged tiny-run/checkpoint-150" in captured.err
    assert json.loads(captured.out)["checkpoint"] == "tiny-run/checkpoint-60"


def test_output_folder_is_refused_before_generating(
    run_paths: Paths, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    src = tmp_path / "in.jsonl"
    src.write_text(json.dumps({"story": sample_pairs()[0]["story"]}, ensure_ascii=False) + "\n")
    folder = tmp_path / "out"
    folder.mkdir()
    assert main(["generate", "--checkpoint", "tiny-run", "--input", str(src), "--output", str(folder)]) == 2
    err = capsys.readouterr().err
    assert err == (f"narou-tui: --output {folder} is a folder; give a file name such as "
                   f"{folder / 'titles.jsonl'}\n")
    assert "checking tiny-run" not in err  # refused before any checkpoint was touched
    assert list(folder.iterdir()) == [] and not list(tmp_path.rglob("*.tmp"))
