"""TrainCharts: the watched run's loss, learning-rate, quality and GPU charts, redrawn at most
every few seconds while new lines arrive."""

from __future__ import annotations

import math
import time
from typing import TYPE_CHECKING, Any

from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Grid, VerticalScroll
from textual.widgets import Static

from core.runs.train_charts import ChartView, train_chart_data
from tui.redraw import show_text
from tui.widgets.line_chart import Y_LABEL_W, LineChart

if TYPE_CHECKING:
    from textual.timer import Timer

    from core.runs.history import RunHistory

# Live data redraws the charts at most this often: redrawing the eight charts is the most
# expensive thing a watching TUI does (measured with bench/reattach.py --only-watch-cost).
CHART_PERIOD_S = 4.0
# ...and, on the whole-run view, only once the new rows could move the loss chart by a dot
# column (a long run adds one every few minutes) or this long has passed: the newest value
# still moves the line's end, so the charts never lag by more.
CHART_MAX_WAIT_S = 30.0
CHARTS: tuple[tuple[str, str], ...] = (
    ("chrf", "chrF"), ("distinct", "distinct-1"),
    ("lr", "learning rate"), ("grad", "grad norm"), ("sps", "samples/s"),
    ("gpu-util", "GPU util / VRAM %"), ("gpu-mem", "VRAM GiB"), ("gpu-temp", "GPU °C"),
    ("gpu-power", "GPU W"),
)


class TrainCharts(VerticalScroll):
    """The loss chart above a grid of the others; `show(history, view)` redraws them all."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.history: RunHistory | None = None
        self.options = ChartView()
        self.stale = True  # the history changed since the last redraw
        self._drawn_at = -math.inf  # time.monotonic() of the last redraw
        self._timer: Timer | None = None
        self._cards = 0  # cards in the shown run: the pane's `d` key shows only when several
        self._drawn_rows = 0  # train rows and (evaluation, quality) lines at the last redraw
        self._drawn_marks = (0, 0)

    def compose(self) -> ComposeResult:
        yield Static("b: runs, progress, GPU and events", classes="muted narrow-only")
        yield Static("", id="chart-status")
        yield LineChart("loss", id="chart-loss")
        with Grid(id="chart-grid"):
            for cid, title in CHARTS:
                yield LineChart(title, id=f"chart-{cid}")

    def follow(self, history: RunHistory | None) -> None:
        """Draw `history` from the next redraw on (another run was attached)."""
        self.history = history
        self.stale = True

    def show(self, history: RunHistory | None, view: ChartView) -> None:
        """Rebuild every chart's data from the history now (O(points / BLOCK + width) each)."""
        self.history, self.options = history, view
        self.stale = False
        self._drawn_at = time.monotonic()
        if history is None:
            return
        self._drawn_rows, self._drawn_marks = history.n_train, _marks(history)
        shown = train_chart_data(history, view)
        self.query_one("#chart-loss", LineChart).set_data(shown.charts["loss"])
        for cid, _title in CHARTS:
            self.query_one(f"#chart-{cid}", LineChart).set_data(shown.charts[cid])
        if shown.cards != self._cards:  # another run, or a first sample of another card
            self._cards = shown.cards
            self.refresh_bindings()
        show_text(self.query_one("#chart-status", Static), Text(shown.status))

    def show_soon(self, history: RunHistory | None, view: ChartView) -> None:
        """Show now, or once `period` has passed since the last redraw."""
        self.history, self.options = history, view
        wait = self._drawn_at + self.period(history, view) - time.monotonic()
        if wait <= 0:
            if self._timer is not None:
                self._timer.stop()
                self._timer = None
            self.show(history, view)
        elif self._timer is None:
            self._timer = self.set_timer(wait, self._due)

    def period(self, history: RunHistory | None, view: ChartView) -> float:
        """Seconds between redraws while lines arrive: CHART_PERIOD_S, or CHART_MAX_WAIT_S on the
        whole-run view while the rows since the last redraw are fewer than one dot column
        holds and no evaluation or quality line came."""
        if history is None or view.window() is not None or _marks(history) != self._drawn_marks:
            return CHART_PERIOD_S
        columns = 2 * max(1, self.query_one("#chart-loss", LineChart).content_size.width - Y_LABEL_W)
        if (history.n_train - self._drawn_rows) * columns >= history.n_train:
            return CHART_PERIOD_S
        return CHART_MAX_WAIT_S

    def _due(self) -> None:
        self._timer = None
        if self.stale and self.display:  # hidden: the view switch redraws
            self.show(self.history, self.options)


def _marks(history: RunHistory) -> tuple[int, int]:
    return len(history.evals), len(history.qualities)
