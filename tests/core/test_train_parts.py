"""Training building blocks: config/TOML/CLI string, batching, preflight, writers, the CLI."""

from __future__ import annotations

import json
import os
import shlex
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from core.cli.main import build_parser, main
from core.model import SCRATCH_PRESETS
from core.runs.rule import effective_history
from core.runs.schema import RunStatus
from core.runs.writers import (
    GpuLogger,
    MetricsWriter,
    heal_torn_tail,
    last_segment,
)
from core.telemetry.nvml import GpuSample
from core.training.batching import Collator, PairData, TokenColumn, epoch_batches, split_batches
from core.training.config import ConfigError, TrainConfig, pick_batch_split
from core.training.preflight import check_ids, check_lengths, run_preflight
from core.training.tee import tee_output
from tests.core.train_helpers import make_paths, tiny_config


# ---------------------------------------------------------------- config
def test_toml_then_cli_overrides_and_equivalent_command(tmp_path: Path) -> None:
    toml = tmp_path / "run.toml"
    toml.write_text('dataset = "sample"\nscratch = "small"\nepochs = 3\nlr = 1e-4\n', encoding="utf-8")
    args = build_parser().parse_args(["train", "--config", str(toml), "--lr", "3e-5", "--run-name", "x"])
    from core.cli.train_cmd import config_from_args

    cfg = config_from_args(args)
    assert (cfg.dataset, cfg.scratch, cfg.epochs, cfg.lr, cfg.run_name) == ("sample", "small", 3, 3e-5, "x")
    cmd = shlex.split(cfg.cli_command())
    assert cmd[:2] == ["narou-tui", "train"]
    again = config_from_args(build_parser().parse_args(cmd[1:]))
    assert again == cfg  # the printed command reproduces the config exactly
    # --model on the command line replaces the file's scratch preset.
    cfg2 = config_from_args(build_parser().parse_args(["train", "--config", str(toml), "--model", "m"]))
    assert (cfg2.model, cfg2.scratch) == ("m", None)


def test_every_field_round_trips_through_the_equivalent_command() -> None:
    from dataclasses import fields

    from core.cli.train_cmd import config_from_args
    from core.training.config import TrainConfig

    changed = dict(
        dataset="d", scratch="base", tokenizer="tok", vocab_size=9000, epochs=2.5, max_steps=77,
        batch_size=8, grad_accum=8, lr=1e-4, warmup=0.1, weight_decay=0.02, max_grad_norm=0.5,
        max_source_len=384, max_target_len=48, pad_multiple_source=64, pad_multiple_target=16,
        bucket_chunk=50, bucket_by="source", log_steps=5, eval_steps=100, save_steps=200,
        eval_samples=500, save_total_limit=5, probe_size=4, quality_samples=32, best_by="chrf",
        early_stop=3, early_stop_metric="chrf", early_stop_min_delta=0.5,
        seed=7, precision="bf16",
        compile="static", nan_patience=5, auto_oom=True, run_name="r", gpus=2, nnodes=2,
        node_rank=1, master_addr="10.0.0.2", master_port=29600, device="cuda", threads=4,
        workers=3,
    )
    cfg = TrainConfig(**changed)
    left = {f.name for f in fields(TrainConfig)} - set(changed) - {"model", "extra", "tie_encoder_decoder"}
    assert not left, f"add these fields to the test (and the CLI): {sorted(left)}"
    again = config_from_args(build_parser().parse_args(shlex.split(cfg.cli_command())[1:]))
    assert again == cfg


def test_config_errors_name_file_and_field(tmp_path: Path) -> None:
    bad = tmp_path / "bad.toml"
    bad.write_text('dataset = "s"\nscratch = "tiny"\nlearning_rate = 1\n', encoding="utf-8")
    with pytest.raises(ConfigError, match=r"bad\.toml: unknown field\(s\) learning_rate"):
        TrainConfig.from_toml(bad)
    bad.write_text('dataset = "s"\nscratch = "tiny"\nepochs = "many"\n', encoding="utf-8")
    with pytest.raises(ConfigError, match="epochs has the wrong type"):
        TrainConfig.from_toml(bad)
    bad.write_text("dataset = [", encoding="utf-8")
    with pytest.raises(ConfigError, match="not valid TOML"):
        TrainConfig.from_toml(bad)
    with pytest.raises(ConfigError, match="exactly one"):
        TrainConfig(dataset="s").validate()
    with pytest.raises(ConfigError, match="warmup"):
        TrainConfig(dataset="s", scratch="tiny", warmup=1.5).validate()


def test_batch_split_follows_memory_and_keeps_effective_64() -> None:
    assert pick_batch_split(8.0, None) == (4, 16)  # the seed's 8 GB card
    assert pick_batch_split(80.0, None) == (64, 1)
    assert pick_batch_split(24.0, "base") == (32, 2)
    assert pick_batch_split(None, "tiny") == (16, 4)
    assert pick_batch_split(80.0, None, world_size=2) == (32, 1)
    for mem in (6, 8, 12, 16, 24, 40, 80, None):
        b, a = pick_batch_split(mem, "base")
        assert b * a == 64


# ---------------------------------------------------------------- batching
def _pairs(src_lens: list[int], tgt_lens: list[int]) -> PairData:
    def col(lens: list[int], base: int) -> TokenColumn:
        off = np.zeros(len(lens) + 1, dtype=np.int64)
        np.cumsum(lens, out=off[1:])
        return TokenColumn(np.arange(off[-1], dtype=np.int64) % 50 + base, off)

    return PairData(col(src_lens, 10), col(tgt_lens, 100))


def test_epoch_batches_are_deterministic_bucketed_and_cover_rows() -> None:
    rng = np.random.default_rng(0)
    lengths = rng.integers(5, 500, 1000)
    a = epoch_batches(lengths, 16, seed=1, epoch=3, chunk_batches=10)
    b = epoch_batches(lengths, 16, seed=1, epoch=3, chunk_batches=10)
    c = epoch_batches(lengths, 16, seed=1, epoch=4, chunk_batches=10)
    assert all(np.array_equal(x, y) for x, y in zip(a, b, strict=True))
    assert not all(np.array_equal(x, y) for x, y in zip(a, c, strict=True))
    assert len(a) == 62 and all(len(x) == 16 for x in a)  # the tail under a batch is dropped
    rows = np.concatenate(a)
    assert len(set(rows.tolist())) == len(rows)
    # Bucketing: padding waste far below a random batching of the same rows.
    waste = sum(lengths[x].max() - lengths[x].mean() for x in a)
    rand = np.random.default_rng(1).permutation(1000)[:992].reshape(62, 16)
    assert waste < 0.3 * sum(lengths[x].max() - lengths[x].mean() for x in rand)
    halves = split_batches(a, 2)
    assert len(halves) == 124 and np.array_equal(np.concatenate(halves), rows)


def _padded_tokens(batches: list[np.ndarray], src: np.ndarray, tgt: np.ndarray, ms: int, mt: int) -> int:
    return int(sum((-(-src[b].max() // ms) * ms + -(-tgt[b].max() // mt) * mt) * len(b) for b in batches))


def test_source_target_bucketing_pads_titles_less_with_the_same_source_padding() -> None:
    # Narou-like lengths: synopses ~N(220, 90), titles ~N(28, 10), uncorrelated.
    rng = np.random.default_rng(0)
    src = np.clip(rng.normal(220, 90, 20_000), 24, 512).astype(np.int64)
    tgt = np.clip(rng.normal(28, 10, 20_000), 6, 64).astype(np.int64)
    by_src = epoch_batches(src, 64, seed=1, epoch=0, chunk_batches=100)
    both = epoch_batches(src, 64, seed=1, epoch=0, chunk_batches=100, target_lengths=tgt, bucket_width=32)
    again = epoch_batches(src, 64, seed=1, epoch=0, chunk_batches=100, target_lengths=tgt, bucket_width=32)
    assert all(np.array_equal(x, y) for x, y in zip(both, again, strict=True))
    assert len(both) == len(by_src) == 312 and sorted(np.concatenate(both).tolist()) == sorted(
        np.concatenate(by_src).tolist())
    # Titles: padded positions fall by a quarter or more; sources stay as tightly bucketed.
    t_src = sum(-(-tgt[b].max() // 8) * 8 * 64 for b in by_src)
    t_both = sum(-(-tgt[b].max() // 8) * 8 * 64 for b in both)
    assert t_both < 0.75 * t_src, (t_both, t_src)
    s_src = sum(-(-src[b].max() // 32) * 32 * 64 for b in by_src)
    s_both = sum(-(-src[b].max() // 32) * 32 * 64 for b in both)
    assert s_both < 1.03 * s_src, (s_both, s_src)
    real = int(src[np.concatenate(both)].sum() + tgt[np.concatenate(both)].sum())
    assert real / _padded_tokens(both, src, tgt, 32, 8) > real / _padded_tokens(by_src, src, tgt, 64, 16) + 0.1


def test_frozen_configs_without_bucket_by_resume_with_what_they_used() -> None:
    from core.training.config import TrainConfig

    old = TrainConfig(dataset="d", scratch="tiny").to_json()
    for name in ("bucket_by", "pad_multiple_source", "pad_multiple_target", "bucket_chunk"):
        del old[name]
    cfg = TrainConfig.from_frozen(old)
    assert (cfg.bucket_by, cfg.pad_multiple_source, cfg.pad_multiple_target, cfg.bucket_chunk) == (
        "source", 64, 16, 50)
    new = TrainConfig.from_frozen(TrainConfig(dataset="d", scratch="tiny").to_json())
    assert (new.bucket_by, new.pad_multiple_source, new.pad_multiple_target, new.bucket_chunk) == (
        "source_target", 32, 8, 100)


def test_collator_pads_to_multiples_masks_labels_and_shifts_once() -> None:
    data = _pairs([70, 10, 3], [5, 20, 2])
    coll = Collator(pad_id=0, decoder_start_id=2, max_source_len=128, max_target_len=32,
                    pad_source=64, pad_target=16)
    out = coll(data, np.array([0, 1, 2]))
    assert out["input_ids"].shape == (3, 128) and out["labels"].shape == (3, 32)
    assert out["attention_mask"].sum(1).tolist() == [70, 10, 3]
    assert (out["labels"][0, 5:] == -100).all() and (out["labels"][0, :5] != -100).all()
    # Decoder input = [CLS] + labels[:-1]; labels themselves never start with [CLS].
    assert (out["decoder_input_ids"][:, 0] == 2).all()
    assert out["decoder_input_ids"][1, 1:20].tolist() == out["labels"][1, :19].tolist()
    assert (out["labels"][:, 0] != 2).all()
    assert out["decoder_input_ids"][0, 6:].tolist() == [0] * 26
    capped = Collator(0, 2, max_source_len=100, max_target_len=32)(data, np.array([0]))
    assert capped["input_ids"].shape[1] == 100


# ---------------------------------------------------------------- preflight
def test_preflight_catches_planted_misconfigurations(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from core.data.importer import ImportOptions, import_dataset
    from core.tokenization import load_tokenizer
    from tests.core.train_helpers import SAMPLE_JSONL, tokenizer_dir

    paths = make_paths(tmp_path)
    tok = load_tokenizer(str(tokenizer_dir())).tokenizer
    assert not [f for f in run_preflight(paths, tiny_config(), tok) if f.level == "error"]

    def errors(cfg: TrainConfig) -> str:
        return " | ".join(f.message for f in run_preflight(paths, cfg, tok) if f.level == "error")

    assert "not found" in errors(tiny_config(dataset="nope"))
    assert "max_source_len=1024 exceeds the model's max_position_embeddings=512" in errors(
        tiny_config(max_source_len=1024))
    # A tiny dataset (a few pairs) is refused, with the count.
    small = tmp_path / "small.jsonl"
    small.write_text("".join(SAMPLE_JSONL.read_text(encoding="utf-8").splitlines(True)[:12]), encoding="utf-8")
    own = type(paths)(tmp_path / "ds", paths.checkpoints_dir, paths.config_dir)
    import_dataset(small, "small", own, ImportOptions())
    msg = " | ".join(f.message for f in run_preflight(own, tiny_config(dataset="small"), tok))
    # 12 lines split 10 / 1 / 1 (the split is seeded): too few to train on.
    assert "dataset 'small' has only 10 training pairs (need ≥ 16)" in msg
    # Bad ids: a model whose vocabulary is smaller than the tokenizer's.
    cfg = type("C", (), {"vocab_size": 100, "pad_token_id": 5})()
    found = check_ids(cfg, tok)
    assert any(f.level == "error" and "vocab_size=100" in f.message for f in found)
    assert any(f.level == "warning" and "pad_token_id=5" in f.message for f in found)
    assert check_lengths(tiny_config(max_target_len=2), SCRATCH_PRESETS["tiny"].max_positions)
    # Disk: far too little room for one checkpoint.
    monkeypatch.setenv("NAROU_TUI_FAULT_FREE_BYTES", "1000")
    assert "one checkpoint needs" in errors(tiny_config())


# ---------------------------------------------------------------- writers
def test_metrics_segments_torn_tail_and_effective_history(tmp_path: Path) -> None:
    w = MetricsWriter(tmp_path, 0)
    for s in range(1, 7):
        w.write({"step": s, "loss": 10 - s})
    w.close()
    with open(tmp_path / "metrics.jsonl", "a") as fh:
        fh.write('{"step": 7, "lo')  # killed mid-line
    assert heal_torn_tail(tmp_path / "metrics.jsonl") is True
    assert last_segment(tmp_path / "metrics.jsonl") == 0
    w = MetricsWriter(tmp_path, 1)
    w.event(4, "resumed", checkpoint="checkpoint-4")
    for s in range(5, 9):
        w.write({"step": s, "loss": 1.0})
    w.close()
    recs = [json.loads(x) for x in (tmp_path / "metrics.jsonl").read_text().splitlines()
            if x.startswith("{") and x.endswith("}")]
    hist = effective_history(recs)
    steps = [(r["step"], r["segment"]) for r in hist if "loss" in r]
    assert steps == [(1, 0), (2, 0), (3, 0), (4, 0), (5, 1), (6, 1), (7, 1), (8, 1)]


def test_tee_keeps_every_writer_in_the_log_and_streams_apart_on_the_terminal(
        tmp_path: Path, capfd: pytest.CaptureFixture[str]) -> None:
    log = tmp_path / "train.log"
    log.write_bytes(b"earlier segment\n")
    with tee_output(log):
        print("python stdout", flush=True)
        print("python stderr", file=sys.stderr, flush=True)
        os.write(1, b"fd 1 (what C libraries write)\n")
        os.write(2, b"fd 2\n")
        subprocess.run([sys.executable, "-c", "import sys; print('child out'); print('child err', file=sys.stderr)"],
                       check=True)
    print("after the block")
    out, err = capfd.readouterr()
    assert out.splitlines() == ["python stdout", "fd 1 (what C libraries write)", "child out", "after the block"]
    assert err.splitlines() == ["python stderr", "fd 2", "child err"]
    lines = log.read_text(encoding="utf-8").splitlines()
    assert lines[0] == "earlier segment"  # appended, like a resumed detached job
    assert sorted(lines[1:]) == sorted(["python stdout", "fd 1 (what C libraries write)", "child out",
                                        "python stderr", "fd 2", "child err"])


def test_tee_keeps_logging_when_the_terminal_goes_away(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # An SSH drop: descriptor 1 (as in a plain CLI, where sys.stdout writes to it) stops
    # being read; the job and its log go on.
    read_end, write_end = os.pipe()
    saved = os.dup(1)
    os.dup2(write_end, 1)
    os.close(write_end)
    os.close(read_end)
    monkeypatch.setattr(sys, "stdout", open(1, "w", encoding="utf-8", closefd=False))  # noqa: SIM115
    log = tmp_path / "train.log"
    try:
        with tee_output(log):
            for n in range(3):
                print(f"step {n}", flush=True)
    finally:
        os.dup2(saved, 1)
        os.close(saved)
    assert log.read_text(encoding="utf-8").splitlines() == ["step 0", "step 1", "step 2"]


def test_gpu_logger_keeps_changes_and_minute_aggregates(tmp_path: Path) -> None:
    from core.runs.writers import JsonlWriter

    g = GpuLogger(tmp_path)
    g._writer = JsonlWriter(tmp_path / "gpu.jsonl")
    t0 = 1000.0
    g._bucket_start = t0
    for i in range(90):  # 3 minutes at 2 s, steady except a jump at sample 40
        t = t0 + 2 * i
        util = 95.0 if i < 40 else 30.0
        g.tick([GpuSample(t, 0, "GPU", util, 7000.0, 8192.0, 70.0, 200.0)], t)
    g._flush_aggregates()
    g._writer.close()
    lines = [json.loads(x) for x in (tmp_path / "gpu.jsonl").read_text().splitlines()]
    raw = [r for r in lines if r["res"] == 2.0]
    agg = [r for r in lines if r["res"] == 60.0]
    assert len(raw) < 15  # 90 samples → the first, the jump, and 30-s keepalives
    assert any(r["util"] == 30.0 for r in raw) and raw[0]["util"] == 95.0
    assert len(agg) == 3 and all({"util", "util_min", "util_max", "n"} <= set(r) for r in agg)
    assert sum(r["n"] for r in agg) == 90


# ---------------------------------------------------------------- CLI
def test_cli_runs_status_and_errors_without_traceback(tmp_path: Path, capsys, monkeypatch) -> None:
    from core.runs.writers import StatusWriter

    paths = make_paths(tmp_path)
    monkeypatch.setenv("NAROU_TUI_CHECKPOINTS_DIR", str(paths.checkpoints_dir))
    monkeypatch.setenv("NAROU_TUI_DATASETS_DIR", str(paths.datasets_dir))
    run = paths.checkpoints_dir / "20261127-1200-demo"
    run.mkdir()
    (run / "config.json").write_text("{}")
    st = RunStatus(state="finished", step=40, total_steps=40, best_eval_loss=2.5, started_at=1.0e9)
    StatusWriter(run, st, pid=1).write()
    assert main(["runs", "--json"]) == 0
    row = json.loads(capsys.readouterr().out.splitlines()[0])
    assert (row["id"], row["state"], row["step"], row["total_steps"], row["best_eval_loss"]) == (
        "20261127-1200-demo", "finished", 40, 40, 2.5)
    assert main(["runs"]) == 0 and "finished" in capsys.readouterr().out
    assert main(["status", "20261127-1200-demo", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["step"] == 40
    assert main(["status", "nope"]) == 2 and "no run 'nope'" in capsys.readouterr().err
    assert main(["stop", "20261127-1200-demo"]) == 2 and "not running" in capsys.readouterr().err
    assert main(["train", "--dataset", "nope", "--scratch", "tiny"]) == 2
    err = capsys.readouterr().err
    assert "dataset 'nope'" in err and "Traceback" not in err
    with pytest.raises(SystemExit) as refused:  # argparse refuses the number itself
        main(["train", "--dataset", "sample", "--scratch", "tiny", "--warmup", "2"])
    assert refused.value.code == 2
    assert "argument --warmup: must be from 0 to 1, got '2'" in capsys.readouterr().err
    assert main(["train", "--dataset", "sample", "--scratch", "tiny", "--epochs", "2", "--dry-run"]) == 0
    out = capsys.readouterr().out
    assert "warning: dataset 'sample' has only" in out
    assert out.strip().splitlines()[-1] == "narou-tui train --dataset sample --scratch tiny --epochs 2.0"
    assert main(["train", "--dataset", "sample", "--scratch", "tiny", "--max-source-len", "900",
                 "--dry-run"]) == 2
    assert "max_position_embeddings=512" in capsys.readouterr().out
