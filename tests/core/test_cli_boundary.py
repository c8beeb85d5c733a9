"""The CLI's error boundary: bad numbers, names, paths and damaged run files end in one line."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from core.paths import REPO_ROOT, Paths
from tests.core.cli_helpers import damaged_statuses, run_cli, write_status


def _one_line(err: str) -> str:
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1 and "Traceback" not in err, err
    return lines[0]


def test_unexpected_exception_is_one_line_with_a_saved_traceback(
    paths: Paths, monkeypatch: pytest.MonkeyPatch
) -> None:
    import core.runs.reader as reader

    def broken(_paths: Paths) -> list[object]:
        return [1 / 0]  # a bug in a command, as the boundary meets it

    monkeypatch.setattr(reader, "list_runs", broken)
    code, _out, err = run_cli(["runs"])
    line = _one_line(err)
    assert code == 70
    assert line.startswith("narou-tui: internal error in `narou-tui runs`: ZeroDivisionError: "
                           "division by zero at test_cli_boundary.py:")
    log = Path(line.split("full traceback in ")[1].split(";")[0])
    assert log.parent == paths.config_dir / "logs"
    assert "Traceback (most recent call last)" in log.read_text() and "['runs']" in log.read_text()


def test_usage_errors_are_one_line(paths: Paths) -> None:
    code, _out, err = run_cli(["train", "--no-such-flag"])
    assert code == 2
    assert _one_line(err) == ("narou-tui: error: unrecognized arguments: --no-such-flag "
                              "(see `narou-tui --help`)")
    code, _out, err = run_cli(["train", "--epochs"])
    assert code == 2
    assert _one_line(err) == ("narou-tui train: error: argument --epochs: expected one argument "
                              "(see `narou-tui train --help`)")


@pytest.mark.parametrize(("argv", "message"), [
    (["generate", "--checkpoint", "r", "x", "--temperature", "nan"],
     "narou-tui generate: error: argument --temperature: must be a finite number, got 'nan'"),
    (["fetch", "--name", "f", "--delay", "inf"],
     "narou-tui fetch: error: argument --delay: must be a finite number, got 'inf'"),
    (["fetch", "--name", "f", "--timeout", "nan"],
     "narou-tui fetch: error: argument --timeout: must be a finite number, got 'nan'"),
    (["tokenizer", "train", "--dataset", "d", "--out", "o", "--vocab-size", "1e10"],
     "narou-tui tokenizer train: error: argument --vocab-size: expected a whole number, got '1e10'"),
    (["tokenizer", "train", "--dataset", "d", "--out", "o", "--vocab-size", "10000000000"],
     "narou-tui tokenizer train: error: argument --vocab-size: must be from 100 to 1,000,000, "
     "got '10000000000'"),
    (["tokenizer", "train", "--dataset", "d", "--out", "o", "--min-frequency", "-1"],
     "narou-tui tokenizer train: error: argument --min-frequency: must be from 1 to 2,147,483,648, "
     "got '-1'"),
    (["eval", "--checkpoint", "r", "--limit", "0"],
     "narou-tui eval: error: argument --limit: must be ≥ 1, got '0'"),
    (["generate", "--checkpoint", "r", "x", "--top-p", "1.5"],
     "narou-tui generate: error: argument --top-p: must be above 0 up to 1, got '1.5'"),
])
def test_numbers_are_refused_by_argparse(paths: Paths, argv: list[str], message: str) -> None:
    code, _out, err = run_cli(argv)
    assert code == 2
    assert _one_line(err).startswith(message)


def test_split_of_nans_is_refused(paths: Paths, tmp_path: Path) -> None:
    src = tmp_path / "x.jsonl"
    src.write_text(json.dumps({"story": "物語" * 20, "title": "題"}) + "\n")
    code, _out, err = run_cli(["dataset", "import", str(src), "--name", "x", "--split", "nan,nan,nan"])
    assert code == 2
    assert _one_line(err) == ("narou-tui: split ratios (nan, nan, nan): need three finite, "
                              "non-negative numbers")
    assert not paths.dataset("x").exists()


@pytest.mark.parametrize(("flags", "message"), [
    (["--lr", "nan"], "narou-tui train: error: argument --lr: must be a finite number, got 'nan'"),
    (["--epochs", "nan"], "narou-tui train: error: argument --epochs: must be a finite number, got 'nan'"),
    (["--seed", "-1"], "narou-tui train: error: argument --seed: must be from 0 to 4,294,967,295, got '-1'"),
    (["--vocab-size", "5"], "narou-tui train: error: argument --vocab-size: must be from 100 to 1,000,000, got '5'"),
    (["--threads", "-1"], "narou-tui train: error: argument --threads: must be from 0 to 4,096, got '-1'"),
    (["--dataset", "../x"], "narou-tui: dataset: invalid dataset name '../x': use letters, digits, '-', '_' or '.'"),
    (["--dataset", "d" * 256], "narou-tui: dataset: dataset name too long (256 bytes; at most 200)"),
    (["--run-name", "名" * 60], "narou-tui: run_name: at most 150 bytes (it is part of a folder name)"),
])
def test_train_refuses_before_creating_a_run(paths: Paths, flags: list[str], message: str) -> None:
    argv = ["train", "--dataset", "sample", "--scratch", "tiny", *flags]
    code, _out, err = run_cli(argv)
    assert code == 2
    assert _one_line(err).startswith(message)
    assert list(paths.checkpoints_dir.iterdir()) == []


def test_train_config_file_values_get_the_same_checks(paths: Paths, tmp_path: Path) -> None:
    toml = tmp_path / "run.toml"
    toml.write_text("dataset = 'sample'\nscratch = 'tiny'\nlr = nan\n")  # TOML has nan and inf
    code, _out, err = run_cli(["train", "--config", str(toml)])
    assert code == 2 and _one_line(err) == "narou-tui: lr: must be a finite number, got nan"
    code, _out, err = run_cli(["train", "--config", str(tmp_path)])
    assert code == 2
    assert _one_line(err) == f"narou-tui: {tmp_path}: cannot read the config file (Is a directory)"
    assert list(paths.checkpoints_dir.iterdir()) == []


def test_train_device_cuda_without_a_gpu_is_refused_up_front(paths: Paths, tmp_path: Path) -> None:
    import torch

    if torch.cuda.is_available():
        pytest.skip("a CUDA GPU is visible here")
    code, _out, err = run_cli(["train", "--dataset", "sample", "--scratch", "tiny", "--device", "cuda"])
    assert code == 2
    line = _one_line(err)
    assert line.startswith("narou-tui: preflight refused to start: ")
    assert "--device cuda but no CUDA GPU is visible (torch " in line
    assert list(paths.checkpoints_dir.iterdir()) == []


def test_folders_that_are_files_are_refused(paths: Paths, tmp_path: Path) -> None:
    a_file = tmp_path / "f.txt"
    a_file.write_text("x")
    code, _out, err = run_cli(["--datasets-dir", str(a_file), "dataset", "list"])
    assert code == 2 and _one_line(err) == f"narou-tui: --datasets-dir {a_file} is a file, not a folder"


@pytest.mark.parametrize("argv", [
    ["stop", "r" * 300], ["status", "r" * 300], ["dataset", "stats", "d" * 300],
    ["fetch", "--name", "n" * 300, "--status"], ["attach", "r" * 300],
])
def test_names_over_255_bytes_are_one_line(paths: Paths, argv: list[str]) -> None:
    code, _out, err = run_cli(argv)
    assert code != 0 and "name too long (300 bytes; at most 200)" in _one_line(err)


def test_one_malformed_status_does_not_hide_the_other_runs(paths: Paths) -> None:
    sentinel = subprocess.Popen(["sleep", "60"])
    try:
        for run_id, content in damaged_statuses(sentinel.pid).items():
            write_status(paths.run(run_id), content, raw=isinstance(content, str))
        write_status(paths.run("good"), {"state": "stopped", "step": 7, "total_steps": 9})
        code, out, err = run_cli(["runs"])
        assert code == 0 and err == ""
        lines = out.splitlines()
        assert any(line.startswith("good") and "stopped" in line and "7/9" in line for line in lines)
        by_id = {line.split()[0]: line for line in lines[1:]}
        assert by_id["st-array"].endswith("unreadable: status.json holds a JSON list, not an object")
        assert by_id["st-unknown-state"].endswith("unreadable: status.json has an unknown state 'sprinting'")
        assert by_id["st-wrong-type"].endswith(
            "unreadable: status.json field 'step' has the wrong type (str: 'ten')")
        assert "unreadable: status.json is not valid JSON" in by_id["st-torn"]
        code, out, _err = run_cli(["runs", "--json"])
        rows = {r["id"]: r for r in map(json.loads, out.splitlines())}
        assert rows["st-array"]["state"] == "unreadable" and rows["good"]["state"] == "stopped"
        code, _out, err = run_cli(["status", "st-unknown-state"])
        assert code == 1 and _one_line(err) == (
            "narou-tui: run st-unknown-state: status.json has an unknown state 'sprinting'")
        for run_id in set(damaged_statuses(sentinel.pid)) - {"st-huge-pid"}:
            code, _out, err = run_cli(["stop", run_id])
            assert code != 0 and _one_line(err).endswith("; nothing was signalled")
        # A pid no process can have parses, and reads as died: stop names it and signals nothing.
        code, _out, err = run_cli(["stop", "st-huge-pid"])
        assert code == 2 and _one_line(err) == (
            f"narou-tui: run st-huge-pid says 'running' but pid {2**70} is gone; nothing was signalled")
        code, _out, err = run_cli(["stop", "st-pid-text"])
        assert _one_line(err) == (f"narou-tui: run st-pid-text: status.json field 'pid' has the wrong "
                                  f"type (str: '{sentinel.pid}'); nothing was signalled")
        assert sentinel.poll() is None  # never signalled
    finally:
        sentinel.kill()
        sentinel.wait()


def test_tiny_imports_read_back(paths: Paths, tmp_path: Path) -> None:
    src = tmp_path / "two.jsonl"
    rows = [{"story": f"物語その{i}。" * 10, "title": f"題{i}"} for i in range(2)]
    src.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")
    for n in (1, 2):
        part = tmp_path / f"{n}.jsonl"
        part.write_text("".join(src.read_text(encoding="utf-8").splitlines(True)[:n]), encoding="utf-8")
        assert run_cli(["dataset", "import", str(part), "--name", f"n{n}"])[0] == 0
        code, out, err = run_cli(["dataset", "stats", f"n{n}"])
        assert code == 0 and err == "", err
        assert f"total {n}" in out.splitlines()[1]
    code, out, _err = run_cli(["dataset", "list"])
    assert [line.split()[-1] for line in out.splitlines()[1:]] == ["ok", "ok"]


def test_a_subprocess_never_shows_a_traceback(paths: Paths) -> None:
    write_status(paths.run("broken"), [1, 2])
    run = subprocess.run([sys.executable, "-m", "core.cli.main", "status", "broken"],
                         cwd=REPO_ROOT, capture_output=True, text=True, timeout=60)
    assert run.returncode == 1
    assert run.stderr == "narou-tui: run broken: status.json holds a JSON list, not an object\n"


@pytest.fixture
def stopped_run(paths: Paths, tmp_path_factory: pytest.TempPathFactory) -> str:
    """The tiny trained run (micro-batch 8 × accumulation 1) copied in, marked stopped, with
    its dataset beside it in the current datasets folder."""
    import shutil

    from tests.generation_tiny import DATASET, build_tiny_run

    ck = build_tiny_run(tmp_path_factory.getbasetemp() / "tiny-gen")
    run_dir = paths.run("tiny-run")
    shutil.copytree(ck.parent, run_dir)
    shutil.copytree(ck.parent.parent / "tiny-run-work" / "datasets" / DATASET, paths.dataset(DATASET))
    status = json.loads((run_dir / "status.json").read_text())
    status["state"] = "stopped"
    (run_dir / "status.json").write_text(json.dumps(status))
    return "tiny-run"


def test_resume_refuses_a_split_that_changes_the_effective_batch(paths: Paths, stopped_run: str) -> None:
    before = (paths.run(stopped_run) / "status.json").read_text()
    for flags, message in [
        (["--batch-size", "3"], "narou-tui: --batch-size 3 must divide the run's batch size 8 (its "
                                "data order is cut in pieces of it): use one of 1, 2, 4, 8"),
        (["--batch-size", "8", "--grad-accum", "3"],
         "narou-tui: --batch-size 8 × --grad-accum 3 = 24 would change the run's effective batch of "
         "8 per process (8 × 1); resume keeps it: use --grad-accum 1 or leave --grad-accum out"),
        (["--grad-accum", "2"], "narou-tui: --batch-size 8 × --grad-accum 2 = 16 would change"),
    ]:
        code, _out, err = run_cli(["resume", stopped_run, *flags])
        assert code == 2 and _one_line(err).startswith(message)
    code, _out, err = run_cli(["resume", stopped_run, "--batch-size", "0"])
    assert code == 2 and "argument --batch-size: must be from 1 to 65,536, got '0'" in err
    assert (paths.run(stopped_run) / "status.json").read_text() == before  # nothing started


def test_train_model_refuses_a_bert2bert_checkpoint(paths: Paths, stopped_run: str) -> None:
    ck = paths.run(stopped_run) / "checkpoint-150"
    code, _out, err = run_cli(["train", "--dataset", "tiny-sample", "--model", str(ck)])
    assert code == 2
    assert _one_line(err) == (
        f"narou-tui: preflight refused to start: --model {ck} is a BERT2BERT checkpoint, not a "
        "pretrained BERT: continue its run with `narou-tui resume RUN`; --model takes the BERT both "
        "halves start from (hub id or folder)")
    # (.queue/ holds the device locks the stopped run's job took: not a run)
    assert sorted(p.name for p in paths.checkpoints_dir.iterdir() if not p.name.startswith(".")) == [stopped_run]


def test_a_moved_run_resumes_from_the_current_datasets_folder(paths: Paths, stopped_run: str) -> None:
    run_dir = paths.run(stopped_run)
    config = json.loads((run_dir / "config.json").read_text())
    # As on another machine: the folder frozen at launch does not exist here.
    config["paths"]["datasets_dir"] = "/nonexistent/elsewhere/datasets"
    config["paths"]["checkpoints_dir"] = "/nonexistent/elsewhere/checkpoints"
    (run_dir / "config.json").write_text(json.dumps(config))
    code, out, err = run_cli(["resume", stopped_run, "--foreground"], timeout_s=300)
    assert code == 0, err
    assert out.strip().splitlines()[-1] == stopped_run
    status = json.loads((run_dir / "status.json").read_text())
    assert status["state"] == "finished" and status["step"] == 150


@pytest.mark.parametrize("command", [["generate", "あらすじ"], ["eval"], ["export"]])
def test_checkpoint_commands_share_exit_codes(paths: Paths, command: list[str]) -> None:
    # The README's rule: 2 for a name that matches nothing, 1 for a checkpoint that exists
    # but cannot be used. generate/eval take --checkpoint; export takes it as its argument.
    (paths.checkpoints_dir / "r" / "checkpoint-5").mkdir(parents=True)  # never marked complete
    write_status(paths.checkpoints_dir / "r", {"state": "crashed", "step": 5})

    def argv(spec: str) -> list[str]:
        if command[0] == "export":
            return ["export", spec, "--out", str(paths.config_dir / "out")]
        return [command[0], "--checkpoint", spec, *command[1:]]

    code, _out, err = run_cli(argv("nope"))
    assert (code, _one_line(err)) == (2, "narou-tui: no run 'nope'; runs: r")
    code, _out, err = run_cli(argv("r/checkpoint-9"))
    assert (code, _one_line(err)) == (2, "narou-tui: no checkpoint 'checkpoint-9' in run 'r'; "
                                         "complete: none")
    code, _out, err = run_cli(argv("r/checkpoint-5"))
    assert code == 1
    assert _one_line(err).startswith("narou-tui: r/checkpoint-5 is incomplete")
    assert not (paths.config_dir / "out").exists()
