"""torch.compile in the training loop: auto is eager, one graph for every bucket, eager fallback."""

from __future__ import annotations

from pathlib import Path

import pytest

from core.runs.reader import read_status
from core.training.config import ConfigError, TrainConfig, resolve_compile
from core.training.faults import COMPILE_BACKEND_ENV
from core.training.launch import launch
from tests.core.train_helpers import make_paths, read_metrics, set_env, tiny_config


@pytest.fixture
def tpaths(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    set_env(monkeypatch)
    return make_paths(tmp_path)


@pytest.fixture
def fresh_dynamo():
    import torch._dynamo
    from torch._dynamo.utils import counters

    torch._dynamo.reset()
    counters.clear()
    yield counters
    torch._dynamo.reset()


def test_auto_is_eager_until_a_gpu_benchmark_says_otherwise() -> None:
    # Neither the device nor the run's length turns it on: that default needs a GPU measurement.
    assert resolve_compile("auto") == "off"
    for mode in ("on", "off", "static", "dynamic"):
        assert resolve_compile(mode) == mode
    with pytest.raises(ConfigError, match="compile: auto|on|off|static|dynamic, got 'fast'"):
        TrainConfig(dataset="d", scratch="tiny", compile="fast").validate()


def _train_losses(run_dir: Path) -> list[float]:
    return [r["loss"] for r in read_metrics(run_dir) if "loss" in r]


def _record_train_shapes(monkeypatch: pytest.MonkeyPatch, batch_size: int) -> set[tuple[int, int]]:
    """Padded (source, target) shapes of the training micro-batches, seen at the real collator."""
    from core.training.batching import Collator

    seen: set[tuple[int, int]] = set()
    real = Collator.__call__

    def recording(self: Collator, data, rows):  # noqa: ANN001, ANN202
        out = real(self, data, rows)
        if len(rows) == batch_size:  # eval batches are twice as large
            seen.add((out["input_ids"].shape[1], out["labels"].shape[1]))
        return out

    monkeypatch.setattr(Collator, "__call__", recording)
    return seen


def test_compiled_run_traces_once_for_every_bucket(tpaths, monkeypatch, fresh_dynamo) -> None:
    # aot_eager: dynamo's real trace and AOT autograd's real joint graph, without generating
    # kernels (inductor's C++ build takes minutes on this CPU; on CUDA it emits Triton).
    monkeypatch.setenv(COMPILE_BACKEND_ENV, "aot_eager")
    cfg = tiny_config(compile="on", max_steps=12, eval_steps=12, save_steps=12, run_name="compiled")
    shapes = _record_train_shapes(monkeypatch, cfg.batch_size)
    run_id = launch(tpaths, cfg, foreground=True)
    run_dir = tpaths.run(run_id)
    assert read_status(run_dir).state == "finished"
    assert len(shapes) >= 3, shapes  # several padded buckets went through the compiled model
    # One graph served all of them: no recompile per shape.
    assert fresh_dynamo["stats"]["unique_graphs"] == 1, dict(fresh_dynamo["stats"])
    assert not fresh_dynamo["graph_break"], dict(fresh_dynamo["graph_break"])
    recs = read_metrics(run_dir)
    started = next(r for r in recs if r.get("event") == "started")
    assert started["compile"] == "on" and started["compiled"] is True
    compiled = [r for r in recs if r.get("event") == "compiled"]
    assert len(compiled) == 1 and compiled[0]["mode"] == "on" and compiled[0]["seconds"] >= 0
    names = [r["event"] for r in recs if "event" in r]
    assert names.index("started") < names.index("compiling") < names.index("compiled")
    losses = _train_losses(run_dir)
    assert len(losses) == 12 and losses[-1] < losses[0]
    # The checkpoint is a plain HF one: no torch.compile wrapper prefixes in its weights.
    from safetensors import safe_open

    from core.model import check_ids, load_checkpoint

    ck = run_dir / "checkpoint-12"
    with safe_open(str(ck / "model.safetensors"), "pt") as f:
        keys = list(f.keys())
    assert keys and not any("_orig_mod" in k for k in keys)
    model, tok = load_checkpoint(ck)
    assert check_ids(model, tok) == []


def test_compile_failure_falls_back_to_eager_with_the_same_losses(tpaths, monkeypatch, fresh_dynamo) -> None:
    cfg = dict(max_steps=6, eval_steps=6, save_steps=6)
    eager = launch(tpaths, tiny_config(compile="off", run_name="eager", **cfg), foreground=True)
    monkeypatch.setenv(COMPILE_BACKEND_ENV, "fail")
    failed = launch(tpaths, tiny_config(compile="on", run_name="fallback", **cfg), foreground=True)
    run_dir = tpaths.run(failed)
    st = read_status(run_dir)
    assert st.state == "finished" and st.step == 6
    recs = read_metrics(run_dir)
    events = [r for r in recs if "event" in r]
    fail = [e for e in events if e["event"] == "compile_failed"]
    assert len(fail) == 1 and fail[0]["step"] == 0 and "injected" in fail[0]["reason"]
    assert not any(e["event"] == "compiled" for e in events)
    # Tracing draws no random numbers and the failed attempt's gradients are dropped, so the
    # eager replay is exactly the eager run.
    assert _train_losses(run_dir) == pytest.approx(_train_losses(tpaths.run(eager)), abs=1e-6)
