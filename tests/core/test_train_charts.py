"""What the Train pane's charts plot, without a terminal: series per chart, the window, the
x axis, one GPU card at a time, the quality baseline, and the status line above the charts."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from core.runs.history import RunHistory, read_history
from core.runs.reader import RunReader
from core.runs.train_charts import BASELINE_POINTS, GPU_CHARTS, ChartView, train_chart_data
from tests.synthetic_run import FakeRun

T0 = 1_750_000_000.0


def _history(run_dir: Path) -> RunHistory:
    """The run's metrics and gpu.jsonl, read as a reattaching pane reads them."""
    h = read_history(run_dir)
    reader = RunReader(run_dir)
    while (chunk := reader.poll_gpu_chunk(1 << 20)).lines:
        h.apply_gpu(chunk)
    return h


@pytest.fixture
def run(tmp_path: Path) -> FakeRun:
    fr = FakeRun(tmp_path / "r", total_steps=3000, eval_every=100, step_s=2.0, t0=T0).create()
    fr.advance(3000)
    return fr


def test_whole_run_by_step(run: FakeRun) -> None:
    h = _history(run.run_dir)
    shown = train_chart_data(h, ChartView())
    loss = shown.charts["loss"]
    assert [s.name for s in loss.series] == ["raw", "ema 0.90", "eval"]
    assert loss.series[0].x.tolist() == list(range(1, 3001))
    assert (loss.x0, loss.x1, loss.x_format, loss.x_origin) == (1.0, 3000.0, "step", 0.0)
    assert loss.series[2].points and loss.series[2].x.tolist() == list(range(100, 3001, 100))
    for cid, key in (("lr", "lr"), ("grad", "grad_norm"), ("sps", "samples_per_s")):
        (series,) = shown.charts[cid].series
        assert np.array_equal(series.y, h.train[key], equal_nan=True)
        assert series.pyramid is h.pyramids[key]
    assert shown.cards == 0
    assert shown.status == (f"x: step  window: whole run  smoothing 0.90  "
                            f"(3,000 points, {h.lines:,} lines)")


def test_window_and_wall_time_axis(run: FakeRun) -> None:
    h = _history(run.run_dir)
    by_step = train_chart_data(h, ChartView(window_index=1))
    assert (by_step.charts["loss"].x0, by_step.charts["loss"].x1) == (2000.0, 3000.0)
    assert "window: last 1,000 steps" in by_step.status
    by_time = train_chart_data(h, ChartView(x_mode="time", window_index=1))
    loss = by_time.charts["loss"]
    end = T0 + 3000 * 2.0
    assert (loss.x0, loss.x1, loss.x_format) == (end - 3600, end, "hours")
    assert loss.x_origin == T0 + 2.0  # the first logged step: labels read elapsed time
    assert by_time.status.startswith("x: wall time  window: last 1 h")
    # The windows cycle back to the whole run.
    assert ChartView(window_index=4).window() is None


def test_quality_charts_draw_the_baseline_flat_across_the_window(run: FakeRun) -> None:
    h = _history(run.run_dir)
    shown = train_chart_data(h, ChartView(window_index=1))
    model, base = shown.charts["chrf"].series
    assert model.points and model.x.tolist() == list(range(100, 3001, 100))
    assert len(base.x) == BASELINE_POINTS and set(base.y.tolist()) == {14.0}
    assert (base.x[0], base.x[-1]) == (2000.0, 3000.0)
    _model, base = shown.charts["distinct"].series
    assert set(base.y.tolist()) == {0.6}


def test_one_gpu_card_at_a_time(tmp_path: Path) -> None:
    fr = FakeRun(tmp_path / "ddp", total_steps=600, step_s=1.0, t0=T0).create()
    fr.advance(600)
    fr.append(fr.gpu_lines(T0, T0 + 600, gpus=3), "gpu.jsonl")
    h = _history(fr.run_dir)
    used = []
    for pick in range(4):
        view = ChartView(gpu_pick=pick)
        shown = train_chart_data(h, view)
        assert shown.cards == 3
        assert shown.status.startswith(f"GPU charts: card {pick % 3} of 3 (d: next)  x: step")
        used.append(round(float(np.nanmedian(shown.charts["gpu-mem"].series[0].y))))
        # By step, a sample sits at the step logged at its time.
        assert 0 <= shown.charts["gpu-util"].series[0].x[0] <= 600
    assert used == [60, 54, 48, 60]
    assert ChartView(gpu_pick=4).shown_gpu(h) == 1 and ChartView().shown_gpu(None) is None


def test_no_gpu_samples_or_no_telemetry_say_so(run: FakeRun) -> None:
    h = _history(run.run_dir)
    shown = train_chart_data(h, ChartView())
    for cid in GPU_CHARTS:
        assert shown.charts[cid].series == []
        assert shown.charts[cid].empty_text == "no GPU samples in gpu.jsonl"
    h.gpu_unavailable = "no NVIDIA GPU"
    assert train_chart_data(h, ChartView()).charts["gpu-temp"].empty_text == \
        "no GPU telemetry (no NVIDIA GPU)"


def test_an_empty_history_waits_for_the_first_step() -> None:
    shown = train_chart_data(RunHistory(), ChartView())
    loss = shown.charts["loss"]
    assert (loss.x0, loss.x1) == (None, None)
    assert loss.empty_text == "waiting for the first logged step…"
    assert all(len(s.x) == 0 for s in loss.series)
    assert shown.charts["chrf"].series == []
    assert shown.charts["chrf"].empty_text.startswith("no title quality yet")
    assert shown.status.endswith("(0 points, 0 lines)")
