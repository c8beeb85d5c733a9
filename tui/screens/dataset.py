"""Dataset pane: pick a dataset, browse 100k records virtually, search, filter, sort, stats."""

from __future__ import annotations

import time
from collections.abc import Callable
from functools import partial
from typing import TYPE_CHECKING, ClassVar, TypeVar

from rich.table import Table
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.command import DiscoveryHit, Hit, Hits, Provider
from textual.containers import Horizontal, Vertical
from textual.screen import Screen
from textual.widget import Widget
from textual.widgets import ContentSwitcher, Footer, Header, Input, OptionList, Select, Static
from textual.widgets.option_list import Option
from textual.worker import Worker, get_current_worker

from core.data.query import DatasetLoadError, SearchError, SearchQuery, SortKey, genre_name
from core.data.search_marks import search_marks
from tui.context import app_state
from tui.messages.dataset import (
    DatasetLoaded,
    DatasetLoadFailed,
    DatasetsListed,
    SearchFailed,
    SearchFinished,
    StatsReady,
)
from tui.widgets.dataset_stats import DatasetStatsView
from tui.widgets.record_detail import RecordDetail
from tui.widgets.record_table import ColumnSpec, RecordTable
from tui.workers import ForwardWorkerFailures, background

if TYPE_CHECKING:  # numpy/Arrow (core.data.browse) load in workers, after the first frame
    import numpy as np

    from core.data.browse import RecordSet
    from core.data.store import DatasetInfo

COLUMNS: tuple[ColumnSpec, ...] = (
    ColumnSpec("split", width=5),
    ColumnSpec("title", flex=1.0, min_width=10, searchable=True),
    ColumnSpec("synopsis", flex=1.5, min_width=10, searchable=True),
    ColumnSpec("genre", width=16),
    ColumnSpec("syn.ch", width=6, align="right"),
    ColumnSpec("ttl.ch", width=6, align="right"),
)

_V = TypeVar("_V", bound=Widget)

# Name of the dataset opened automatically on first show (the bundled one).
AUTO_OPEN = "sample"


def _entry_row(entry: DatasetInfo) -> Table:
    from core.data.browse import entry_counts

    # Name left, count right-aligned, so counts line up down the list.
    row = Table.grid(expand=True)
    row.add_column(no_wrap=True, overflow="ellipsis", ratio=1)
    row.add_column(justify="right", style="dim" if entry.ok else "red")
    row.add_row(entry.name, entry_counts(entry))
    return row


class DatasetCommands(Provider):
    """Palette entries for the Dataset pane's actions and for opening each dataset."""

    def _commands(self) -> list[tuple[str, object, str]]:
        screen = self.screen
        if not isinstance(screen, DatasetScreen):
            return []
        cmds: list[tuple[str, object, str]] = [
            ("Dataset: search title + synopsis", screen.action_focus_search,
             "Move to the search box"),
            ("Dataset: toggle regex search", screen.action_toggle_regex,
             "Switch between substring and regular-expression search"),
            ("Dataset: filter by genre", screen.action_focus_genre, "Open the genre filter"),
            ("Dataset: statistics", screen.action_toggle_stats,
             "Counts, length histograms, duplicates, top keywords"),
            ("Dataset: fetch from the Narou API", screen.action_fetch,
             "Harvest a new dataset"),
            ("Dataset: reload the list", screen.action_reload, "Rescan the datasets folder"),
            ("Dataset: toggle the dataset list", screen.action_toggle_sidebar,
             "Give the table the full width"),
        ]
        for key in SortKey:
            cmds.append((f"Dataset: sort by {key.value}", partial(screen.set_sort, key),
                         "Reorder the table"))
        for entry in screen.entries:
            cmds.append((f"Dataset: open {entry.name}", partial(screen.open_dataset, entry.name),
                         f"{entry.total:,} records"))
        return cmds

    async def discover(self) -> Hits:
        for name, action, help_text in self._commands():
            yield DiscoveryHit(name, action, help=help_text)  # type: ignore[arg-type]

    async def search(self, query: str) -> Hits:
        matcher = self.matcher(query)
        for name, action, help_text in self._commands():
            score = matcher.match(name)
            if score > 0:
                yield Hit(score, matcher.highlight(name), action, help=help_text)  # type: ignore[arg-type]


class DatasetScreen(ForwardWorkerFailures, Screen[None]):
    """The Dataset pane. Rows live in Arrow/numpy; the table draws only what is visible."""

    CSS_PATH = "../styles/dataset.tcss"
    COMMANDS = {DatasetCommands}
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("slash", "focus_search", "Search", id="dataset.search",
                tooltip="Search titles and synopses as you type"),
        Binding("alt+r", "toggle_regex", "Regex", id="dataset.regex",
                tooltip="Toggle regular-expression search (RE2 syntax)"),
        Binding("o", "cycle_sort", "Sort", id="dataset.sort",
                tooltip="Cycle: original, synopsis length ↓/↑, title length ↓/↑"),
        Binding("e", "focus_genre", "Genre", id="dataset.genre",
                tooltip="Show only one genre"),
        Binding("s", "toggle_stats", "Stats", id="dataset.stats",
                tooltip="Counts, length histograms, duplicates, top keywords and genres"),
        Binding("f", "fetch", "Fetch", id="dataset.fetch",
                tooltip="Harvest a new dataset from the Narou API"),
        Binding("d", "focus_list", "Datasets", show=False, id="dataset.list",
                tooltip="Pick another dataset"),
        Binding("b", "toggle_sidebar", "List", show=False, id="dataset.sidebar",
                tooltip="Hide or show the dataset list"),
        Binding("f5", "reload", "Refresh", show=False, id="dataset.reload",
                tooltip="Rescan the datasets folder"),
        Binding("n", "step_record(1)", "Next", id="dataset.next",
                tooltip="Detail view: the next record in the table's order"),
        Binding("p", "step_record(-1)", "Prev", id="dataset.prev",
                tooltip="Detail view: the previous record in the table's order"),
        Binding("escape", "back", "Back", id="dataset.back",
                tooltip="Close the detail or stats view; leave the search box"),
    ]

    def __init__(self) -> None:
        super().__init__()
        self.entries: list[DatasetInfo] = []
        self.records: RecordSet | None = None
        self.sort = SortKey.ORIGINAL
        self.regex = False
        self.genre: int | None = None
        # Timings for the benchmark; kept out of the UI so snapshots are deterministic.
        self.last_search_ms: float | None = None
        self.load_seconds: float | None = None
        self._loading: str | None = None
        self._auto_opened = False
        self._listed = False
        self._search_seq = 0
        self._search_running = False
        self._search_pending = False
        self._stats_for: object = None  # (dataset, query or None) the stats view shows

    # ------------------------------------------------------------------ layout

    def compose(self) -> ComposeResult:
        yield Header()
        with Horizontal(id="ds-body"):
            with Vertical(id="ds-sidebar"):
                yield Static("Datasets", classes="ds-heading")
                yield OptionList(id="ds-list")
            with Vertical(id="ds-main"):
                with Horizontal(id="ds-toolbar"):
                    yield Input(placeholder="/ search title + synopsis", id="ds-search")
                    yield Select[int]([], prompt="All genres", id="ds-genre")
                yield Static("", id="ds-message")
                with ContentSwitcher(initial="ds-table", id="ds-views"):
                    yield RecordTable(COLUMNS, id="ds-table")
                    # Detail and stats views are mounted on first use: a lighter first frame.
                yield Static("", id="ds-status")
        yield Footer(compact=True)

    def on_mount(self) -> None:
        table = self.query_one(RecordTable)
        table.clear("No dataset open: pick one on the left (d, Enter) or fetch one (f).")
        self._update_status()
        # List after the first frame: the scan imports the Arrow stack in a thread, which
        # would otherwise compete with the first paint for the GIL.
        self.call_after_refresh(self.action_reload)

    def on_screen_resume(self) -> None:
        # A dataset may have been imported or fetched while another pane was showing.
        # (The first resume comes with the first show: on_mount lists after the first frame.)
        if self._listed:
            self.action_reload()

    # ------------------------------------------------------------------ listing

    def action_reload(self) -> None:
        self._list_worker()

    @background("dataset-list", exclusive=True)
    def _list_worker(self) -> None:
        from core.data.browse import list_entries

        self.post_message(DatasetsListed(list_entries(app_state(self).paths)))

    def on_datasets_listed(self, message: DatasetsListed) -> None:
        self._listed = True
        self.entries = message.entries
        option_list = self.query_one("#ds-list", OptionList)
        highlighted = option_list.highlighted
        option_list.clear_options()
        option_list.add_options([Option(_entry_row(e), id=e.name) for e in self.entries])
        if not self._highlight_open_dataset() and self.entries:
            option_list.highlighted = min(highlighted or 0, len(self.entries) - 1)
        if not self.entries:
            folder = app_state(self).paths.datasets_dir
            self._show_message(f"No datasets in {folder}: import one with "
                               "`narou-tui dataset import` or fetch one (f).")
        if not self._auto_opened and self.records is None and self._loading is None:
            self._auto_opened = True
            if any(e.name == AUTO_OPEN and e.ok for e in self.entries):
                self.open_dataset(AUTO_OPEN)

    @on(OptionList.OptionSelected, "#ds-list")
    def _on_dataset_chosen(self, event: OptionList.OptionSelected) -> None:
        if event.option.id is not None:
            self.open_dataset(event.option.id)

    # ------------------------------------------------------------------ loading

    def open_dataset(self, name: str) -> None:
        """Load `name` in a worker; the table shows a loading indicator meanwhile."""
        self._loading = name
        self._show_message("")
        self.query_one("#ds-views", ContentSwitcher).current = "ds-table"
        self.query_one(RecordTable).loading = True
        self._update_status()
        self._load_worker(name)

    @background("dataset-load", exclusive=True, subject=lambda name: name)
    def _load_worker(self, name: str) -> None:
        from core.data.browse import open_records

        started = time.perf_counter()
        try:
            records = open_records(app_state(self).paths, name)
            records.order(self.sort)
        except DatasetLoadError as exc:  # a bad file, named with its line: shown in the pane
            self.post_message(DatasetLoadFailed(name, str(exc)))
            return
        if not get_current_worker().is_cancelled:
            self.post_message(DatasetLoaded(records, time.perf_counter() - started))

    def on_dataset_loaded(self, message: DatasetLoaded) -> None:
        records = message.records
        if records.name != self._loading:
            return
        self._loading = None
        self.records = records
        self._stats_for = None
        self._search_seq += 1  # results of searches over the previous dataset are stale
        table = self.query_one(RecordTable)
        table.loading = False
        table.placeholder = "No record matches."
        genre_select = self.query_one("#ds-genre", Select)
        with genre_select.prevent(Select.Changed):
            genre_select.set_options(
                (f"{name} ({count:,})", code) for code, name, count in records.genres())
        self.genre = None
        table.set_source(records.cells, records.order(self.sort))
        if self._current_query().text:
            self._request_search()
        self.load_seconds = message.seconds
        self._highlight_open_dataset()
        self._update_status()
        table.focus()

    def _highlight_open_dataset(self) -> bool:
        """Put the list's highlight on the open dataset; False when it is not listed."""
        names = [e.name for e in self.entries]
        if self.records is None or self.records.name not in names:
            return False
        self.query_one("#ds-list", OptionList).highlighted = names.index(self.records.name)
        return True

    def on_dataset_load_failed(self, message: DatasetLoadFailed) -> None:
        self._load_failed(message.name, f"Cannot open {message.name}: {message.error}")

    def _load_failed(self, name: str, text: str) -> None:
        if name != self._loading:
            return
        self._loading = None
        table = self.query_one(RecordTable)
        table.loading = False
        self._show_message(text, error=True)
        self._update_status()

    # ------------------------------------------------------------------ search / filter / sort

    def _current_query(self) -> SearchQuery:
        text = self.query_one("#ds-search", Input).value
        return SearchQuery(text=text, regex=self.regex, genre=self.genre)

    @on(Input.Changed, "#ds-search")
    def _on_search_changed(self) -> None:
        self._request_search()

    @on(Input.Submitted, "#ds-search")
    def _on_search_submitted(self) -> None:
        self.query_one(RecordTable).focus()

    @on(Select.Changed, "#ds-genre")
    def _on_genre_changed(self, event: Select.Changed) -> None:
        self.genre = None if event.value is Select.NULL else int(event.value)  # type: ignore[arg-type]
        self._request_search()
        if self.focused is event.select:
            self.query_one(RecordTable).focus()

    def _request_search(self) -> None:
        """Coalescing debounce: one search in flight; keys typed meanwhile become one more."""
        if self.records is None:
            return
        self._search_seq += 1
        if self._search_running:
            self._search_pending = True
            return
        self._start_search()

    def _start_search(self) -> None:
        assert self.records is not None
        self._search_running = True
        self._search_pending = False
        self._search_worker(self.records, self._current_query(), self.sort, self._search_seq)

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
        self._search_running = False
        if self._search_pending and self.records is not None:
            self._start_search()

    def on_search_finished(self, message: SearchFinished) -> None:
        if message.seq == self._search_seq:
            self.last_search_ms = message.millis
            self.query_one("#ds-search", Input).remove_class("-invalid")
            self._show_message("")
            table = self.query_one(RecordTable)
            table.set_highlight(search_marks(message.query.text, message.query.regex))
            table.set_order(message.order, keep_index=False)
            self._update_status()
        self._search_done()

    def on_search_failed(self, message: SearchFailed) -> None:
        if message.seq == self._search_seq:
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

    def action_focus_search(self) -> None:
        self.query_one("#ds-views", ContentSwitcher).current = "ds-table"
        self.query_one("#ds-search", Input).focus()

    def action_focus_genre(self) -> None:
        select = self.query_one("#ds-genre", Select)
        select.focus()
        select.action_show_overlay()

    def action_focus_list(self) -> None:
        self.query_one("#ds-sidebar").display = True
        self.query_one("#ds-list", OptionList).focus()

    def action_toggle_sidebar(self) -> None:
        sidebar = self.query_one("#ds-sidebar")
        sidebar.display = not sidebar.display

    # ------------------------------------------------------------------ detail / stats / back

    @on(RecordTable.RowSelected, "#ds-table")
    async def _on_row_selected(self, event: RecordTable.RowSelected) -> None:
        await self.show_detail(event.index)

    async def _view(self, view_id: str, factory: Callable[..., _V]) -> _V:
        """The switcher's child `view_id`, mounted on first use."""
        switcher = self.query_one("#ds-views", ContentSwitcher)
        found = switcher.query(f"#{view_id}")
        if found:
            return found.first()  # type: ignore[return-value]
        widget = factory(id=view_id)
        await switcher.mount(widget)
        return widget

    async def show_detail(self, index: int) -> None:
        if self.records is None:
            return
        detail = await self._view("ds-detail", RecordDetail)
        detail.show(self.records.record(index), self.query_one(RecordTable).marks)
        self.query_one("#ds-views", ContentSwitcher).current = "ds-detail"
        detail.focus()
        self.refresh_bindings()

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "step_record":
            # Only in the detail view; hidden from the footer elsewhere.
            return self.query_one("#ds-views", ContentSwitcher).current == "ds-detail"
        return True

    async def action_step_record(self, delta: int) -> None:
        table = self.query_one(RecordTable)
        table.cursor_row += delta
        if table.current_index is not None:
            await self.show_detail(table.current_index)

    async def action_toggle_stats(self) -> None:
        switcher = self.query_one("#ds-views", ContentSwitcher)
        if switcher.current == "ds-stats":
            self._back_to_table()
            return
        if self.records is None:
            self.notify("Open a dataset first", severity="warning")
            return
        stats_view = await self._view("ds-stats", DatasetStatsView)
        switcher.current = "ds-stats"
        stats_view.focus()
        # Statistics follow what the table lists: a search or genre filter narrows them.
        query = self._current_query()
        shown = self.shown_order
        filtered = shown is not None and len(shown) < self.records.n
        key = (self.records.name, query if filtered else None)
        if self._stats_for != key:
            stats_view.loading = True
            scope = ""
            if filtered:
                what = [f"matching {query.text!r}" if query.text else "",
                        f"in {genre_name(self.genre)}" if self.genre is not None else ""]
                scope = (f"{len(shown):,} of {self.records.n:,} records "
                         + " ".join(w for w in what if w)).strip()
            self._stats_worker(self.records, shown.copy() if filtered else None, scope, key)

    @background("dataset-stats", exclusive=True)
    def _stats_worker(self, records: RecordSet, rows: np.ndarray | None, scope: str,
                      key: object) -> None:
        from core.data.stats import compute_stats

        tables = records.tables if rows is None else records.subset_tables(rows)
        self.post_message(StatsReady(records.name, compute_stats(tables), scope, key))

    def on_stats_ready(self, message: StatsReady) -> None:
        view = self.query_one(DatasetStatsView)
        view.loading = False
        if self.records is not None and message.name == self.records.name:
            self._stats_for = message.key
            view.show(message.name, message.stats, message.scope)

    def worker_failed(self, worker: Worker[object], line: str) -> None:
        """Put the pane back in order after a failed worker (the App has notified)."""
        if worker.group == "dataset-list":
            self._listed = True
            self._show_message(line, error=True)
        elif worker.group == "dataset-load":
            self._load_failed(worker.name, line)
        elif worker.group == "dataset-search":
            self._show_message(line, error=True)
            self._search_done()
        elif worker.group == "dataset-stats":
            view = self.query_one(DatasetStatsView)
            view.loading = False
            view.show_error(line)

    def action_back(self) -> None:
        switcher = self.query_one("#ds-views", ContentSwitcher)
        if switcher.current != "ds-table" or self.focused is not self.query_one(RecordTable):
            self._back_to_table()

    def _back_to_table(self) -> None:
        self.query_one("#ds-views", ContentSwitcher).current = "ds-table"
        self.refresh_bindings()
        self.query_one(RecordTable).focus()

    # ------------------------------------------------------------------ fetch

    def action_fetch(self) -> None:
        try:
            from tui.screens.fetch import FetchScreen
        except ImportError:
            self.notify("Fetch screen not available", severity="warning")
            return
        self.app.push_screen(FetchScreen(), callback=lambda _result: self.action_reload())

    # ------------------------------------------------------------------ status

    def _show_message(self, text: str, *, error: bool = False) -> None:
        message = self.query_one("#ds-message", Static)
        if message.display == bool(text) and str(message.content) == text \
                and message.has_class("error") == error:
            return  # unchanged: skip a layout pass on every keystroke
        message.update(text)
        message.set_class(error, "error")
        message.display = bool(text)

    def _update_status(self) -> None:
        parts: list[str] = []
        if self._loading:
            parts.append(f"opening {self._loading}…")
        if self.records is not None:
            table = self.query_one(RecordTable)
            shown = table.row_count
            parts.append(f"{self.records.name}: {shown:,} of {self.records.n:,} records")
        parts.append(f"sort: {self.sort.value}")
        parts.append("regex" if self.regex else "substring")
        # Fixed one-line bar: no layout pass needed when its text changes.
        self.query_one("#ds-status", Static).update("  ·  ".join(parts), layout=False)

    @property
    def shown_order(self) -> np.ndarray | None:
        """Source indices currently listed in the table, in display order."""
        return self.query_one(RecordTable).order
