"""The Dataset pane's search, genre filter and sort: one search in flight, results in order."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

from textual.widgets import Input
from textual.worker import get_current_worker

from core.data.query import SearchError, SearchQuery, SortKey
from core.data.search_marks import search_marks
from core.data.search_rounds import SearchRounds
from tui.messages.dataset import SearchFailed, SearchFinished
from tui.widgets.record_table import RecordTable
from tui.workers import background

if TYPE_CHECKING:
    from textual.screen import Screen

    from core.data.browse import RecordSet

    _ScreenBase = Screen[None]
else:
    _ScreenBase = object


class DatasetSearching(_ScreenBase):
    """Mixed into the Dataset pane: turns the search box, regex switch, genre and sort into the
    table's rows, through a worker that never runs twice at once."""

    records: RecordSet | None
    sort: SortKey
    regex: bool
    genre: int | None
    searches: SearchRounds
    last_search_ms: float | None

    if TYPE_CHECKING:  # the pane defines these
        def _show_message(self, text: str, *, error: bool = False) -> None: ...
        def _update_status(self) -> None: ...

    def _current_query(self) -> SearchQuery:
        text = self.query_one("#ds-search", Input).value
        return SearchQuery(text=text, regex=self.regex, genre=self.genre)

    def _request_search(self) -> None:
        """Coalescing debounce: one search in flight; keys typed meanwhile become one more."""
        if self.records is not None and self.searches.request():
            self._start_search()

    def _start_search(self) -> None:
        assert self.records is not None
        self._search_worker(self.records, self._current_query(), self.sort,
                            self.searches.start())

    @background("dataset-search", exclusive=True)
    def _search_worker(self, records: RecordSet, query: SearchQuery, sort: SortKey,
                       seq: int) -> None:
        worker = get_current_worker()
        started = time.perf_counter()
        try:
            order = records.view(query, sort, cancelled=lambda: worker.is_cancelled)
        except SearchError as exc:  # the query's own mistake (a bad regex): shown inline
            self.post_message(SearchFailed(seq, query, str(exc)))
            return
        millis = (time.perf_counter() - started) * 1000
        self.post_message(SearchFinished(seq, query, sort, order, millis))

    def _search_done(self) -> None:
        if self.searches.finish() and self.records is not None:
            self._start_search()

    def on_search_finished(self, message: SearchFinished) -> None:
        if self.searches.is_current(message.seq):
            self.last_search_ms = message.millis
            self.query_one("#ds-search", Input).remove_class("-invalid")
            self._show_message("")
            table = self.query_one(RecordTable)
            table.set_highlight(search_marks(message.query.text, message.query.regex))
            table.set_order(message.order, keep_index=False)
            self._update_status()
        self._search_done()

    def on_search_failed(self, message: SearchFailed) -> None:
        if self.searches.is_current(message.seq):
            self.query_one("#ds-search", Input).add_class("-invalid")
            self._show_message(message.error, error=True)
        self._search_done()

    def set_sort(self, key: SortKey) -> None:
        self.sort = key
        self._update_status()
        self._request_search()

    def action_cycle_sort(self) -> None:
        self.set_sort(self.sort.next())

    def action_toggle_regex(self) -> None:
        self.regex = not self.regex
        self._update_status()
        self._request_search()
