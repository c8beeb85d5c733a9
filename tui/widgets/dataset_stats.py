"""DatasetStatsView: split counts, length histograms, duplicates, empties and top labels."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, ClassVar

from rich.table import Table
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, VerticalScroll
from textual.widgets import Static

from tui.widgets.histogram import Histogram


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


class DatasetStatsView(VerticalScroll, can_focus=True):
    """Renders the stats dict of `tui.dataset_view.compute_stats`."""

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

    def compose(self) -> ComposeResult:
        yield Static("Computing statistics…", id="stats-summary")
        with Horizontal(classes="stats-row"):
            yield Histogram("Synopsis length (chars)", id="stats-story-hist")
            yield Histogram("Title length (chars)", id="stats-title-hist")
        with Horizontal(classes="stats-row"):
            yield Static(id="stats-genres")
            yield Static(id="stats-keywords")

    def show(self, name: str, stats: Mapping[str, Any]) -> None:
        """Replace the shown statistics with those of dataset `name`."""
        summary = Table.grid(padding=(0, 3))
        summary.add_column(style="bold")
        summary.add_column()
        counts = stats["counts"]
        split_text = "  ".join(f"{k} {v:,}" for k, v in counts.items())
        summary.add_row("dataset", f"{name}  ·  {stats['total']:,} records")
        summary.add_row("splits", split_text)
        for key, label in (("story_len", "synopsis chars"), ("title_len", "title chars")):
            s = stats[key]
            summary.add_row(label, f"min {s['min']:,}  median {s['median']:,.0f}  "
                                   f"mean {s['mean']:,.1f}  max {s['max']:,}")
        d, e = stats["duplicates"], stats["empties"]
        summary.add_row("duplicates", f"pairs {d['pairs']:,}  titles {d['titles']:,}  "
                                      f"synopses {d['stories']:,}  ncodes {d['ncodes']:,}")
        summary.add_row("empty", f"titles {e['title']:,}  synopses {e['story']:,}")
        self.query_one("#stats-summary", Static).update(summary)
        self.query_one("#stats-story-hist", Histogram).set_data(
            stats["story_hist"]["edges"], stats["story_hist"]["counts"])
        self.query_one("#stats-title-hist", Histogram).set_data(
            stats["title_hist"]["edges"], stats["title_hist"]["counts"])
        self.query_one("#stats-genres", Static).update(_ranked("Top genres", stats["top_genres"]))
        self.query_one("#stats-keywords", Static).update(
            _ranked("Top keywords", stats["top_keywords"]))

    def show_error(self, message: str) -> None:
        self.query_one("#stats-summary", Static).update(Text(message, style="bold red"))
