"""RunCompare: the marked runs' curves on shared charts (loss, eval loss, chrF, learning rate),
one colour per run, and beneath them the table of the config fields that differ and the scores."""

from __future__ import annotations

from typing import Any

import numpy as np
from rich.table import Table
from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Grid, VerticalScroll
from textual.widgets import Static

from core.runs.compare import X_AXES, X_LABELS, ComparedRun, Comparison, RunCache, compare
from core.runs.series import ChartData, ChartSeries
from tui.context import app_state
from tui.messages.train import RunsCompared
from tui.widgets.line_chart import LineChart
from tui.widgets.run_list import mark_style
from tui.workers import ForwardWorkerFailures, background

# (chart id, title, what it plots: a train column or an eval/quality key)
COMPARE_CHARTS: tuple[tuple[str, str, str], ...] = (
    ("loss", "loss (ema)", "ema"), ("eval", "eval loss", "eval_loss"),
    ("chrf", "chrF", "chrf"), ("lr", "learning rate", "lr"),
)


class RunCompare(ForwardWorkerFailures, VerticalScroll):
    """`compare(run_ids)` reads the runs and shows them (or `show(comparison)`); `cycle_axis()`
    switches step → samples seen → hours."""

    DEFAULT_CSS = """
    RunCompare #compare-status { height: 1; padding: 0 1; color: $text-muted; }
    RunCompare #compare-grid { grid-size: 2; grid-gutter: 0 1; grid-rows: 9; height: auto; }
    RunCompare #compare-grid LineChart { height: 9; }
    RunCompare #compare-table { height: auto; padding: 0 1; }
    """

    def __init__(self, cache: RunCache, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.axis = X_AXES[0]
        self.comparison: Comparison | None = None
        self.cache = cache  # runs re-read only when their files change (shared with the list)
        self._asked: list[str] | None = None  # the runs of the latest comparison asked for

    def compose(self) -> ComposeResult:
        yield Static("", id="compare-status")
        with Grid(id="compare-grid"):
            for cid, title, _key in COMPARE_CHARTS:
                yield LineChart(title, id=f"compare-{cid}")
        yield Static("", id="compare-table")

    def compare(self, run_ids: list[str]) -> None:
        """Read and show these runs (fewer than two: forget any comparison on its way)."""
        self._asked = list(run_ids) if len(run_ids) >= 2 else None
        if self._asked is not None:
            self._compare_runs(self._asked)

    @background("run-compare", exclusive=True)
    def _compare_runs(self, run_ids: list[str]) -> None:
        paths = app_state(self).paths
        self.post_message(RunsCompared(compare([self.cache.get(paths.run(r)) for r in run_ids])))

    def on_runs_compared(self, message: RunsCompared) -> None:
        cmp = message.comparison
        if cmp is not None and [r.run_id for r in cmp.runs] == self._asked:  # not a stale read
            self.show(cmp)

    def show(self, comparison: Comparison | None) -> None:
        self.comparison = comparison
        self.redraw()

    def cycle_axis(self) -> None:
        self.axis = X_AXES[(X_AXES.index(self.axis) + 1) % len(X_AXES)]
        self.redraw()

    def redraw(self) -> None:
        cmp = self.comparison
        runs = cmp.runs if cmp is not None else []
        # The legend is the letters: in the charts, the table's header and the run list.
        status = f"{len(runs)} runs · x: {X_LABELS[self.axis]}  (x: {' / '.join(X_AXES)})"
        self.query_one("#compare-status", Static).update(status)
        for cid, _title, key in COMPARE_CHARTS:
            series = [s for i, run in enumerate(runs) if (s := self._series(run, i, key))]
            self.query_one(f"#compare-{cid}", LineChart).set_data(self._data(series, key))
        self.query_one("#compare-table", Static).update(self._table(cmp) if cmp else "")

    def _x(self, run: ComparedRun, steps: np.ndarray | None = None) -> np.ndarray:
        x = run.train_x(self.axis) if steps is None else run.x_of(self.axis, steps)
        return x * 3600.0 if self.axis == "hours" else x  # the chart labels hours from seconds

    def _series(self, run: ComparedRun, index: int, key: str) -> ChartSeries | None:
        letter, colour = mark_style(index)
        h = run.history
        if key in ("ema", "lr"):
            x, y, pyramid = self._x(run), h.train[key], h.pyramids[key]
        else:
            steps, y = run.series(key)
            x, pyramid = self._x(run, steps), None
        if len(x) == 0 or not np.isfinite(x).all():  # nothing logged, or an unknown batch size
            return None
        return ChartSeries(letter, x, y, colour, pyramid=pyramid)

    def _data(self, series: list[ChartSeries], key: str) -> ChartData:
        empty = {"chrf": "no quality lines in these runs",
                 "eval_loss": "no evaluations yet"}.get(key, "no logged steps yet")
        if self.axis == "samples" and not series:
            empty = "samples seen unknown (no batch size in the runs)"
        x0 = min((float(s.x[0]) for s in series), default=None)
        x1 = max((float(s.x[-1]) for s in series), default=None)
        return ChartData(series, x0, x1, "hours" if self.axis == "hours" else "step", empty)

    def _table(self, cmp: Comparison) -> Table:
        table = Table(box=None, padding=(0, 2, 0, 0), show_edge=False, header_style="bold")
        table.add_column("", style="dim", no_wrap=True)
        for i, run in enumerate(cmp.runs):
            letter, colour = mark_style(i)
            head = Text(letter, style=f"bold {colour}")
            head.append(f" {run.run_id}")
            table.add_column(head, no_wrap=True, overflow="ellipsis")
        for label, values in cmp.rows():
            table.add_row(label, *values)
        if not cmp.differing:
            table.add_row("config", *["same" for _ in cmp.runs])
        return table
