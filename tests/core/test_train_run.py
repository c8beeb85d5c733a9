"""Real tiny training runs in this process: loss falls, run-dir contract, NaN, OOM, disk."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from core.runs.reader import complete_checkpoints, read_status
from core.runs.rule import effective_history
from core.runs.schema import COMPLETE_MARKER, RunStatus
from core.training.checkpoint import FREE_BYTES_ENV, read_trainer_state
from core.training.faults import NAN_ENV, OOM_ENV
from core.training.launch import LaunchError, launch, resume_run
from tests.core.train_helpers import make_paths, read_metrics, set_env, tiny_config, tokenizer_dir


@pytest.fixture
def tpaths(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    set_env(monkeypatch)
    return make_paths(tmp_path)


def test_tiny_model_trains_and_run_dir_matches_contract(tpaths) -> None:
    # Scratch without --tokenizer: the job trains its own WordPiece vocab in the run dir.
    cfg = tiny_config(tokenizer=None, vocab_size=1500, epochs=2, save_total_limit=2, run_name="contract",
                      eval_steps=8, save_steps=8, lr=3e-3)
    run_id = launch(tpaths, cfg, foreground=True)
    run_dir = tpaths.run(run_id)
    assert run_id.endswith("-contract")
    for name in ("config.json", "status.json", "metrics.jsonl", "gpu.jsonl", "tokenizer/vocab.txt"):
        assert (run_dir / name).exists(), name

    frozen = json.loads((run_dir / "config.json").read_text())
    assert frozen["train"]["scratch"] == "tiny" and frozen["train"]["epochs"] == 2
    assert frozen["dataset"]["fingerprint"] and frozen["dataset"]["name"] == "sample"
    assert {"python", "torch", "transformers", "fugashi"} <= set(frozen["versions"])
    assert frozen["command"].startswith("narou-tui train --dataset sample --scratch tiny")
    assert frozen["git_revision"] and len(frozen["git_revision"]) == 40
    assert frozen["tokenizer"]["scratch_vocab"] is True

    n_train = frozen["dataset"]["counts"]["train"]
    total = (n_train // 8) // 2 * 2  # batches of 8, 2 per step, 2 epochs (the sample grows)
    saves = list(range(8, total + 1, 8)) + ([total] if total % 8 else [])
    status = read_status(run_dir)
    assert isinstance(status, RunStatus)
    assert status.state == "finished" and status.exit_reason is None
    assert status.step == status.total_steps == total
    assert status.last_complete_checkpoint == f"checkpoint-{total}"
    assert status.best_eval_loss is not None and status.best_checkpoint

    recs = read_metrics(run_dir)
    assert all(r["segment"] == 0 for r in recs)
    train = [r for r in recs if "loss" in r]
    assert {"t", "step", "epoch", "loss", "lr", "grad_norm", "samples_per_s", "tokens_per_s",
            "mem_alloc", "mem_reserved"} <= set(train[0])
    assert [r["step"] for r in train] == list(range(1, total + 1))
    first = sum(r["loss"] for r in train[:4]) / 4
    last = sum(r["loss"] for r in train[-4:]) / 4
    assert last < first - 1.0, (first, last)
    evals = [r["eval_loss"] for r in recs if "eval_loss" in r]
    assert len(evals) == len(saves) and evals[-1] < evals[0]
    probes = [r for r in recs if "probe" in r]
    assert probes and len(probes[-1]["probe"]) == 3
    assert {"story_id", "ncode", "title", "reference"} <= set(probes[-1]["probe"][0])
    events = [r["event"] for r in recs if "event" in r]
    # Only preflight warnings may come before "started", and it comes once.
    assert events.count("started") == 1 and set(events[:events.index("started")]) <= {"warning"}
    assert events[-1] == "finished" and events.count("saved") == len(saves)

    # Retention: the last 2 plus the best, each complete with safetensors weights.
    kept = complete_checkpoints(run_dir)
    names = {p.name for p in kept}
    assert {f"checkpoint-{saves[-2]}", f"checkpoint-{total}", status.best_checkpoint} == names
    for ck in kept:
        for f in ("model.safetensors", "config.json", "generation_config.json", "vocab.txt",
                  "optimizer.pt", "scheduler.pt", "rng_state.pth", "trainer_state.json", COMPLETE_MARKER):
            assert (ck / f).exists(), (ck.name, f)
        assert not list(ck.glob("*.bin"))
    ts = read_trainer_state(run_dir / f"checkpoint-{total}")
    assert (ts.step, ts.total_steps, ts.batch_size, ts.grad_accum) == (total, total, 8, 2)

    # The checkpoint loads through the generation entry point and ids are wired.
    from core.model import check_ids, load_checkpoint

    model, tok = load_checkpoint(run_dir / f"checkpoint-{total}")
    assert check_ids(model, tok) == []
    assert model.generation_config.decoder_start_token_id == tok.cls_token_id
    assert model.generation_config.eos_token_id == tok.sep_token_id
    assert not list(run_dir.glob(".tmp-*")) and not list(run_dir.glob(".trash-*"))
    with pytest.raises(LaunchError, match="finished"):
        resume_run(tpaths, run_id)


def test_nan_loss_stops_with_reason(tpaths, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(NAN_ENV, "3")
    cfg = tiny_config(nan_patience=2, max_steps=20, eval_steps=100, save_steps=100)
    with pytest.raises(LaunchError, match="NaN/inf"):
        launch(tpaths, cfg, foreground=True)
    run_dir = next(p for p in tpaths.checkpoints_dir.iterdir() if not p.name.startswith("."))
    st = read_status(run_dir)
    assert st.state == "failed" and "patience 2" in st.exit_reason
    assert st.step == 4  # NaN from step 3, two consecutive bad steps
    assert any(r.get("event") == "nan" for r in read_metrics(run_dir))
    assert complete_checkpoints(run_dir) == []  # poisoned weights are never saved


def test_nan_between_log_steps_is_never_saved_nor_rotates_out_a_good_checkpoint(
        tpaths, monkeypatch: pytest.MonkeyPatch) -> None:
    # Saves every 3 steps, logs every 10: the loss turns NaN at step 5, a step no log line
    # looks at, and the interval save at step 6 comes first.
    monkeypatch.setenv(NAN_ENV, "5")
    cfg = tiny_config(log_steps=10, save_steps=3, save_total_limit=1, max_steps=20,
                      eval_steps=100, nan_patience=100)
    with pytest.raises(LaunchError, match="not saving checkpoint-6"):
        launch(tpaths, cfg, foreground=True)
    run_dir = next(p for p in tpaths.checkpoints_dir.iterdir() if not p.name.startswith("."))
    assert [p.name for p in complete_checkpoints(run_dir)] == ["checkpoint-3"]
    assert not list(run_dir.glob("checkpoint-6*")) and not list(run_dir.glob(".tmp-*"))
    st = read_status(run_dir)
    assert st.state == "failed" and st.step == 6
    assert st.exit_reason == (
        "not saving checkpoint-6: the loss or gradient norm was NaN/inf on 2 step(s) since the "
        "save at step 3 and the weights hold NaN/inf; checkpoint-3 is the last good one and was "
        "kept; lower --lr or check the data")
    assert st.last_complete_checkpoint == "checkpoint-3"
    nan = [r for r in read_metrics(run_dir) if r.get("event") == "nan"]
    assert len(nan) == 1 and nan[0]["phase"] == "save" and nan[0]["step"] == 6
    from core.model import load_checkpoint

    model, _ = load_checkpoint(run_dir / "checkpoint-3")
    assert all(p.isfinite().all() for p in model.parameters())


def test_oom_without_auto_oom_explains_and_fails(tpaths, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(OOM_ENV, "3:4")
    with pytest.raises(LaunchError, match="out of memory during forward at step 3"):
        launch(tpaths, tiny_config(max_steps=6), foreground=True)
    run_dir = next(p for p in tpaths.checkpoints_dir.iterdir() if not p.name.startswith("."))
    st = read_status(run_dir)
    assert st.state == "failed"
    assert "peak" in st.exit_reason and "--batch-size 4 --grad-accum 4" in st.exit_reason
    assert any(r.get("event") == "oom" and r["phase"] == "forward" for r in read_metrics(run_dir))


def test_auto_oom_relaunches_with_half_micro_batch(tpaths, monkeypatch: pytest.MonkeyPatch) -> None:
    # OOM at step 7 while the micro-batch is > 4: the relaunch resumes from checkpoint-5 with
    # micro-batch 4 × accumulation 4 (same effective batch 16) and finishes the same 10 steps.
    monkeypatch.setenv(OOM_ENV, "7:4")
    run_id = launch(tpaths, tiny_config(max_steps=10, auto_oom=True), foreground=True)
    run_dir = tpaths.run(run_id)
    st = read_status(run_dir)
    assert st.state == "finished" and st.step == 10
    recs = read_metrics(run_dir)
    events = [(r["event"], r.get("segment")) for r in recs if "event" in r]
    assert ("oom", 0) in events and ("auto_oom_relaunch", 0) in events and ("resumed", 1) in events
    resumed = next(r for r in recs if r.get("event") == "resumed")
    assert (resumed["step"], resumed["batch_size"], resumed["grad_accum"]) == (5, 4, 4)
    ts = read_trainer_state(run_dir / "checkpoint-10")
    assert (ts.batch_size, ts.grad_accum, ts.plan_batch) == (4, 4, 8)
    steps = [r["step"] for r in effective_history(recs) if "loss" in r]
    assert steps == list(range(1, 11))


def test_disk_forecast_refuses_saves_that_would_not_fit(tpaths, monkeypatch: pytest.MonkeyPatch) -> None:
    from core.model import SCRATCH_PRESETS
    from core.training.checkpoint import checkpoint_bytes
    from core.training.preflight import estimate_params
    from tests.core.train_helpers import tokenizer_dir

    vocab = sum(1 for _ in (tokenizer_dir() / "vocab.txt").open(encoding="utf-8"))
    p = SCRATCH_PRESETS["tiny"]
    one = checkpoint_bytes(estimate_params(p.hidden, p.layers, p.intermediate, vocab, p.max_positions))
    # Nowhere near enough: refused before anything is created.
    monkeypatch.setenv(FREE_BYTES_ENV, "1000")
    with pytest.raises(LaunchError, match="free"):
        launch(tpaths, tiny_config(max_steps=5), foreground=True)
    assert list(tpaths.checkpoints_dir.iterdir()) == []
    # Enough to start (with a warning) but not for a save with margin: every save is refused,
    # nothing half-written appears, training itself goes on to the end.
    monkeypatch.setenv(FREE_BYTES_ENV, str(int(one * 1.15)))
    run_id = launch(tpaths, tiny_config(max_steps=5), foreground=True)
    run_dir = tpaths.run(run_id)
    recs = read_metrics(run_dir)
    assert any(r.get("event") == "warning" and "free" in r["reason"] for r in recs)
    assert any(r.get("event") == "save_refused" and "not enough disk" in r["reason"] for r in recs)
    assert not list(run_dir.glob("checkpoint-*")) and not list(run_dir.glob(".tmp-*"))
    st = read_status(run_dir)
    assert st.state == "finished" and "not enough disk" in st.extra["disk_warning"]


def test_scratch_vocabulary_is_trained_once_per_dataset_and_size(tpaths, capsys) -> None:
    import filecmp

    from core.tokenization.vocab_cache import copy_vocab, scratch_vocab

    first, reused = scratch_vocab(tpaths, "sample", 1700)
    again, reused_again = scratch_vocab(tpaths, "sample", 1700)
    assert (reused, reused_again) == (False, True) and again == first
    other, _ = scratch_vocab(tpaths, "sample", 1800)
    assert other != first  # another size is another vocabulary
    # A run gets its own copy (no cache marker), byte for byte the cached vocabulary.
    dest = copy_vocab(first, tpaths.checkpoints_dir / "run" / "tokenizer")
    assert filecmp.cmp(first / "vocab.txt", dest / "vocab.txt", shallow=False)
    assert not (dest / "COMPLETE").exists() and (dest / "tokenizer_config.json").exists()
    # Two scratch runs on the same data and size train with the same vocabulary.
    cfg = dict(tokenizer=None, vocab_size=1700, max_steps=2, eval_steps=2, save_steps=2, probe_size=0)
    runs = [launch(tpaths, tiny_config(run_name=f"v{i}", **cfg), foreground=True) for i in (1, 2)]
    vocabs = [(tpaths.run(r) / "tokenizer" / "vocab.txt").read_bytes() for r in runs]
    assert vocabs[0] == vocabs[1] == (first / "vocab.txt").read_bytes()
    assert capsys.readouterr().out.count("reusing") == 2  # the job's log says where it came from


def test_foreground_cli_prints_to_the_terminal_and_keeps_train_log(tpaths, capfd: pytest.CaptureFixture[str]) -> None:
    from core.cli.main import main

    code = main(["train", "--dataset", "sample", "--scratch", "tiny", "--tokenizer", str(tokenizer_dir()),
                 "--max-steps", "3", "--batch-size", "8", "--grad-accum", "1", "--eval-steps", "3",
                 "--save-steps", "3", "--threads", "1", "--max-source-len", "128", "--run-name", "fg",
                 "--foreground", "--datasets-dir", str(tpaths.datasets_dir),
                 "--checkpoints-dir", str(tpaths.checkpoints_dir)])
    out, err = capfd.readouterr()
    assert code == 0, err
    run_id = out.splitlines()[-1]
    # The job's own lines reach the terminal and train.log alike, as a detached job's log holds them.
    log = (tpaths.run(run_id) / "train.log").read_text(encoding="utf-8").splitlines()
    assert any(line.endswith("finished at step 3") for line in log)
    assert set(log) <= set((out + err).splitlines())
