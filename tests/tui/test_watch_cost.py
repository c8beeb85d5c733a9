"""What keeps watching a run cheap: quiet runs polled less, unchanged text and charts not
redrawn, a long run's charts redrawn when a dot column could move, the run list updated cell
by cell, and the chart's dot grid drawn without a loop."""

from __future__ import annotations

import asyncio
import math
import time

import numpy as np
from rich.text import Text
from textual.app import App, ComposeResult
from textual.widgets import Static

from core.paths import Paths
from core.runs.history import read_history
from core.runs.reader import list_runs
from core.runs.train_charts import ChartView
from tests.synthetic_run import FakeRun
from tui.redraw import show_text
from tui.run_watch import QUIET_AFTER, RunWatch
from tui.widgets.line_chart import Y_LABEL_W, _dots
from tui.widgets.run_list import RunList
from tui.widgets.train_charts import CHART_MAX_WAIT_S, CHART_PERIOD_S, TrainCharts


def _poll(watch: RunWatch) -> object:
    msg, error = watch.poll()
    assert error is None
    watch.apply(msg)
    return msg


def test_a_quiet_run_is_polled_half_as_often_until_it_writes_again(paths: Paths) -> None:
    fr = FakeRun(paths.run("r"), total_steps=100, t0=time.time() - 50).create()
    fr.advance(10)
    fr.write_status("running")
    fr.log("step 10")
    watch = RunWatch(paths, "r", 1)
    first = _poll(watch)
    assert first.log_tail == ["step 10"]  # type: ignore[attr-defined]
    assert watch.next_poll_s(1.0) == 1.0
    for _ in range(QUIET_AFTER):
        again = _poll(watch)
        assert again.log_tail is None  # type: ignore[attr-defined]  # train.log unchanged: not re-read
    assert watch.next_poll_s(1.0) == 2.0
    fr.write_status("running", updated_at=time.time() + 1)  # a heartbeat alone is no news
    _poll(watch)
    assert watch.next_poll_s(1.0) == 2.0
    fr.advance(1)
    _poll(watch)
    assert watch.next_poll_s(1.0) == 1.0
    assert watch.history.n_train == 11
    fr.log("step 11")
    assert _poll(watch).log_tail == ["step 10", "step 11"]  # type: ignore[attr-defined]


def _reference_dots(lo: np.ndarray, hi: np.ndarray, last: np.ndarray, y0: float, y1: float,
                    nrow: int, connect: bool) -> np.ndarray:
    """The dot grid column by column, as its definition reads."""
    grid = np.zeros((nrow, len(lo)), bool)
    scale = (nrow - 1) / (y1 - y0)
    prev = math.nan
    for c in range(len(lo)):
        top, bottom, end = ((y1 - v) * scale for v in (hi[c], lo[c], last[c]))
        if not (math.isfinite(top) and math.isfinite(bottom)):
            continue
        top, bottom = round(top), round(bottom)
        if connect and math.isfinite(prev):
            top, bottom = min(top, prev), max(bottom, prev)
        grid[int(max(top, 0)): int(min(bottom, nrow - 1)) + 1, c] = True
        prev = round(end) if math.isfinite(end) else (round((y1 - lo[c]) * scale)
                                                      + round((y1 - hi[c]) * scale)) / 2
    return grid


def test_the_dot_grid_matches_its_column_by_column_definition() -> None:
    rng = np.random.default_rng(7)
    for _ in range(300):
        n = int(rng.integers(1, 80))
        lo = rng.uniform(0, 10, n)
        hi = lo + rng.uniform(0, 3, n)
        last = rng.uniform(lo, hi)
        for arr in (lo, hi, last):
            arr[rng.random(n) < 0.2] = np.nan  # empty buckets, and buckets without a last value
        finite = np.concatenate([lo[np.isfinite(lo)], hi[np.isfinite(hi)]])
        y0, y1 = (float(finite.min()), float(finite.max()) + 1e-3) if len(finite) else (0.0, 1.0)
        nrow = int(rng.integers(4, 60))
        for connect in (True, False):
            got = _dots(lo, hi, last, y0, y1, nrow, connect)
            assert (got == _reference_dots(lo, hi, last, y0, y1, nrow, connect)).all()


class _Texts(App[None]):
    def compose(self) -> ComposeResult:
        yield Static("", id="s")
        yield RunList(id="runs")


def test_text_is_redrawn_only_when_it_changes() -> None:
    async def run() -> None:
        app = _Texts()
        async with app.run_test() as pilot:
            s = app.query_one("#s", Static)
            assert show_text(s, Text("step 1\nloss 2.0", no_wrap=True))
            assert not show_text(s, Text("step 1\nloss 2.0", no_wrap=True))
            assert not show_text(s, Text("step 1\nloss 2.0", no_wrap=True))
            assert show_text(s, Text("step 2\nloss 2.0", no_wrap=True))
            assert not show_text(s, Text("step 2\nloss 2.0", no_wrap=True))
            assert show_text(s, Text("step 2\nloss 2.0", style="red", no_wrap=True))
            await pilot.pause()
            assert "step 2" in str(s.render())

    asyncio.run(run())


def test_the_run_list_updates_changed_cells_and_rebuilds_for_new_runs(paths: Paths) -> None:
    now = time.time()
    a = FakeRun(paths.run("a"), total_steps=100, t0=now - 60).create()
    a.advance(10)
    a.write_status("running")

    async def run() -> None:
        app = _Texts()
        async with app.run_test() as pilot:
            table = app.query_one(RunList)
            table.update_runs(list_runs(paths), now, "a")
            await pilot.pause()
            assert table.row_count == 1 and table.get_cell("a", "progress") == "10% 10/100"
            a.advance(5)
            a.write_status("running")
            table.update_runs(list_runs(paths), now, "a")
            assert table.row_count == 1 and table.get_cell("a", "progress") == "15% 15/100"
            FakeRun(paths.run("b"), total_steps=50, t0=now - 10).create()
            table.update_runs(list_runs(paths), now, "a")
            assert table.row_count == 2 and {r.run_id for r in table.runs} == {"a", "b"}
            assert table.selected_run == "a"  # the watched run keeps the cursor

    asyncio.run(run())


class _Charts(App[None]):
    def compose(self) -> ComposeResult:
        yield TrainCharts()


def test_a_long_run_redraws_its_whole_run_charts_when_a_dot_column_could_move(paths: Paths) -> None:
    fr = FakeRun(paths.run("long"), total_steps=40_000, eval_every=10**9, save_every=10**9,
                 t0=time.time() - 20_000).create()
    fr.advance(20_000)

    async def run() -> None:
        async with _Charts().run_test(size=(120, 40)) as pilot:
            charts = pilot.app.query_one(TrainCharts)
            view = ChartView()
            charts.show(read_history(fr.run_dir), view)
            await pilot.pause()
            columns = 2 * (charts.query_one("#chart-loss").content_size.width - Y_LABEL_W)
            fr.advance(1)  # one step of a 20,000-step history moves no dot column
            assert charts.period(read_history(fr.run_dir), view) == CHART_MAX_WAIT_S
            assert charts.period(read_history(fr.run_dir), ChartView(window_index=1)) == CHART_PERIOD_S
            fr.advance(20_001 // columns + 1)
            assert charts.period(read_history(fr.run_dir), view) == CHART_PERIOD_S
            charts.show(read_history(fr.run_dir), view)
            fr.write_records([{"t": fr.now(), "step": fr.step, "segment": 0, "eval_loss": 2.0}])
            assert charts.period(read_history(fr.run_dir), view) == CHART_PERIOD_S  # an evaluation

    asyncio.run(run())
