"""DatasetStatsView: split counts, length histograms, duplicates, empties and top labels."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, ClassVar

from rich.table import Table
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, VerticalScroll
from textual.widgets import Static
from textual.worker import Worker

from tui.messages.dataset import StatsReady
from tui.widgets.histogram import Histogram
from tui.workers import ForwardWorkerFailures, background

if TYPE_CHECKING:  # core.data.stats pulls in pyarrow.compute: keep it out of start-up
    import numpy as np

    from core.data.browse import RecordSet
    from core.data.stats import DatasetStats


def _ranked(title: str, rows: Sequence[Sequence[Any]]) -> Table:
    table = Table(title=title, title_justify="left", title_style="bold", box=None,
                  show_header=False, pad_edge=False, padding=(0, 1))
    table.add_column(justify="right", style="dim")
    table.add_column(no_wrap=True, overflow="ellipsis")
    table.add_column(justify="right")
    if not rows:
        table.add_row("", Text("(none)", style="dim"), "")
    for rank, (label, count) in enumerate(rows, 1):
        table.add_row(str(rank), str(label), f"{int(count):,}")
    return table


class DatasetStatsView(ForwardWorkerFailures, VerticalScroll, can_focus=True):
    """Computes `core.data.stats.DatasetStats` in a worker and renders them."""

    DEFAULT_CSS = """
    DatasetStatsView {
        padding: 0 1;
        & > .stats-row { height: auto; margin-bottom: 1; }
        & > .stats-row > * { width: 1fr; margin-right: 2; }
        & > #stats-summary { margin-bottom: 1; }
    }
    """

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("up,k", "scroll_up", "Up", show=False, id="stats.up", tooltip="Scroll up"),
        Binding("down,j", "scroll_down", "Down", show=False, id="stats.down",
                tooltip="Scroll down"),
    ]

    def __init__(self, *, id: str | None = None, classes: str | None = None) -> None:
        super().__init__(id=id, classes=classes)
        self.stats: DatasetStats | None = None
        # What the shown statistics answer (dataset, filter), and what was asked last.
        self.shown_for: object = None
        self._asked: object = None

    def compose(self) -> ComposeResult:
        yield Static("Computing statistics…", id="stats-summary")
        with Horizontal(classes="stats-row"):
            yield Histogram("Synopsis length (chars)", id="stats-story-hist")
            yield Histogram("Title length (chars)", id="stats-title-hist")
        with Horizontal(classes="stats-row"):
            yield Static(id="stats-genres")
            yield Static(id="stats-keywords")

    def request(self, records: RecordSet, rows: np.ndarray | None, scope: str,
                key: object) -> None:
        """Compute statistics of `rows` of `records` (None: all) unless `key` is already shown."""
        if self.shown_for == key:
            return
        self._asked = key
        self.loading = True
        self._stats_worker(records, rows, scope, key)

    def forget(self) -> None:
        """Another dataset was opened: what is shown answers nothing asked any more."""
        self.shown_for = self._asked = None

    @background("dataset-stats", exclusive=True)
    def _stats_worker(self, records: RecordSet, rows: np.ndarray | None, scope: str,
                      key: object) -> None:
        from core.data.stats import compute_stats

        tables = records.tables if rows is None else records.subset_tables(rows)
        self.post_message(StatsReady(records.name, compute_stats(tables), scope, key))

    def on_stats_ready(self, message: StatsReady) -> None:
        message.stop()
        self.loading = False
        if message.key == self._asked:
            self.shown_for = message.key
            self.show(message.name, message.stats, message.scope)

    def worker_failed(self, worker: Worker[object], line: str) -> None:
        """Statistics failed (the App has notified): say so where they would have been."""
        self.loading = False
        self.show_error(line)

    def show(self, name: str, stats: DatasetStats, scope: str = "") -> None:
        """Replace the shown statistics with those of dataset `name` (`scope`: which rows)."""
        self.stats = stats
        summary = Table.grid(padding=(0, 3))
        summary.add_column(style="bold")
        summary.add_column()
        split_text = "  ".join(f"{k} {v:,}" for k, v in stats.counts.items())
        summary.add_row("dataset", f"{name}  ·  {scope or f'{stats.total:,} records'}")
        summary.add_row("splits", split_text)
        for label, s in (("synopsis chars", stats.story_length),
                         ("title chars", stats.title_length)):
            summary.add_row(label, f"min {s.min:,}  median {s.median:,.0f}  mean {s.mean:,.1f}  "
                                   f"p95 {s.p95:,.0f}  max {s.max:,}")
        summary.add_row("duplicates", f"pairs {stats.duplicate_pairs:,}  "
                                      f"titles {stats.duplicate_titles:,}  "
                                      f"synopses {stats.duplicate_stories:,}  "
                                      f"titles across splits {stats.titles_across_splits:,}")
        summary.add_row("empty", f"titles {stats.empty_titles:,}  "
                                 f"synopses {stats.empty_stories:,}")
        self.query_one("#stats-summary", Static).update(summary)
        self.query_one("#stats-story-hist", Histogram).set_data(
            stats.story_histogram.labels(), stats.story_histogram.counts)
        self.query_one("#stats-title-hist", Histogram).set_data(
            stats.title_histogram.labels(), stats.title_histogram.counts)
        self.query_one("#stats-genres", Static).update(
            _ranked("Top genres", [(label, n) for _code, label, n in stats.top_genres]))
        self.query_one("#stats-keywords", Static).update(
            _ranked("Top keywords", stats.top_keywords))

    def show_error(self, message: str) -> None:
        self.query_one("#stats-summary", Static).update(Text(message, style="bold red"))
