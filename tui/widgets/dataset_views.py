"""DatasetViews: the Dataset pane's table, record detail and statistics, one shown at a time."""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

from textual.widget import Widget
from textual.widgets import ContentSwitcher

from core.data.query import SplitRecord
from core.data.search_marks import SearchMarks
from tui.widgets.dataset_stats import DatasetStatsView
from tui.widgets.record_detail import RecordDetail
from tui.widgets.record_table import ColumnSpec, RecordTable

COLUMNS: tuple[ColumnSpec, ...] = (
    ColumnSpec("split", width=5),
    ColumnSpec("title", flex=1.0, min_width=10, searchable=True),
    ColumnSpec("synopsis", flex=1.5, min_width=10, searchable=True),
    ColumnSpec("genre", width=16),
    ColumnSpec("syn.ch", width=6, align="right"),
    ColumnSpec("ttl.ch", width=6, align="right"),
)

_V = TypeVar("_V", bound=Widget)


class DatasetViews(ContentSwitcher):
    """The record table (#ds-table); the detail (#ds-detail) and statistics (#ds-stats) views
    are mounted on first use, for a lighter first frame."""

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(RecordTable(COLUMNS, id="ds-table"), initial="ds-table", id=id)

    async def _view(self, view_id: str, factory: Callable[..., _V]) -> _V:
        """Child `view_id`, mounted on first use."""
        found = self.query(f"#{view_id}")
        if found:
            return found.first()  # type: ignore[return-value]
        widget = factory(id=view_id)
        await self.mount(widget)
        return widget

    async def show_detail(self, record: SplitRecord, marks: SearchMarks | None) -> None:
        """Show every field of `record`, its matches marked, and focus it."""
        detail = await self._view("ds-detail", RecordDetail)
        detail.show(record, marks)
        self.current = "ds-detail"
        detail.focus()

    async def show_stats(self) -> DatasetStatsView:
        """Show (and focus) the statistics view; the caller asks it for statistics."""
        stats_view = await self._view("ds-stats", DatasetStatsView)
        self.current = "ds-stats"
        stats_view.focus()
        return stats_view

    def show_table(self) -> None:
        self.current = "ds-table"
