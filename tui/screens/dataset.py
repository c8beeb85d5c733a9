"""Dataset pane: pick a dataset, browse 100k records virtually, search, filter, sort, stats."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, ClassVar

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical
from textual.screen import Screen
from textual.widgets import Footer, Header, Input, OptionList, Select, Static
from textual.worker import Worker, get_current_worker

from core.data.browse_text import browse_status, stats_scope
from core.data.query import DatasetLoadError, SortKey
from core.data.search_rounds import SearchRounds
from tui.commands import DatasetCommands
from tui.context import app_state
from tui.messages.dataset import DatasetLoaded, DatasetLoadFailed, DatasetsListed
from tui.screens.dataset_search import DatasetSearching
from tui.widgets.dataset_list import DatasetList
from tui.widgets.dataset_stats import DatasetStatsView
from tui.widgets.dataset_views import DatasetViews
from tui.widgets.pane_message import PaneMessage
from tui.widgets.record_table import RecordTable
from tui.workers import ForwardWorkerFailures, background

if TYPE_CHECKING:  # numpy/Arrow (core.data.browse) load in workers, after the first frame
    import numpy as np

    from core.data.browse import RecordSet
    from core.data.store import DatasetInfo

# Name of the dataset opened automatically on first show (the bundled one).
AUTO_OPEN = "sample"


class DatasetScreen(ForwardWorkerFailures, DatasetSearching, Screen[None]):
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
        self.searches = SearchRounds()

    # ------------------------------------------------------------------ layout

    def compose(self) -> ComposeResult:
        yield Header()
        with Horizontal(id="ds-body"):
            with Vertical(id="ds-sidebar"):
                yield Static("Datasets", classes="ds-heading")
                yield DatasetList(id="ds-list")
            with Vertical(id="ds-main"):
                with Horizontal(id="ds-toolbar"):
                    yield Input(placeholder="/ search title + synopsis", id="ds-search")
                    yield Select[int]([], prompt="All genres", id="ds-genre")
                yield PaneMessage("", id="ds-message")
                yield DatasetViews(id="ds-views")
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
        self.query_one(DatasetList).show(self.entries, self._open_name)
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
        self.query_one(DatasetViews).show_table()
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
        for stats_view in self.query(DatasetStatsView):
            stats_view.forget()
        self.searches.invalidate()  # results of searches over the previous dataset are stale
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
        self.query_one(DatasetList).highlight_name(self._open_name)
        self._update_status()
        table.focus()

    @property
    def _open_name(self) -> str | None:
        return None if self.records is None else self.records.name

    def on_dataset_load_failed(self, message: DatasetLoadFailed) -> None:
        self._load_failed(message.name, f"Cannot open {message.name}: {message.error}")

    def _load_failed(self, name: str, text: str) -> None:
        if name != self._loading:
            return
        self._loading = None
        self.query_one(RecordTable).loading = False
        self._show_message(text, error=True)
        self._update_status()

    # ------------------------------------------------------------------ search / filter / sort

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

    def action_focus_search(self) -> None:
        self.query_one(DatasetViews).show_table()
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

    async def show_detail(self, index: int) -> None:
        if self.records is None:
            return
        await self.query_one(DatasetViews).show_detail(self.records.record(index),
                                                       self.query_one(RecordTable).marks)
        self.refresh_bindings()

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "step_record":
            # Only in the detail view; hidden from the footer elsewhere.
            return self.query_one(DatasetViews).current == "ds-detail"
        return True

    async def action_step_record(self, delta: int) -> None:
        table = self.query_one(RecordTable)
        table.cursor_row += delta
        if table.current_index is not None:
            await self.show_detail(table.current_index)

    async def action_toggle_stats(self) -> None:
        if self.query_one(DatasetViews).current == "ds-stats":
            self._back_to_table()
            return
        if self.records is None:
            self.notify("Open a dataset first", severity="warning")
            return
        stats_view = await self.query_one(DatasetViews).show_stats()
        # Statistics follow what the table lists: a search or genre filter narrows them.
        query = self._current_query()
        shown = self.shown_order
        filtered = shown is not None and len(shown) < self.records.n
        scope = stats_scope(len(shown), self.records.n, query) if filtered else ""
        stats_view.request(self.records, shown.copy() if filtered else None, scope,
                           (self.records.name, query if filtered else None))

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

    def action_back(self) -> None:
        views = self.query_one(DatasetViews)
        if views.current != "ds-table" or self.focused is not self.query_one(RecordTable):
            self._back_to_table()

    def _back_to_table(self) -> None:
        self.query_one(DatasetViews).show_table()
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
        self.query_one(PaneMessage).say(text, error=error)

    def _update_status(self) -> None:
        text = browse_status(loading=self._loading, name=self._open_name,
                             shown=self.query_one(RecordTable).row_count,
                             total=0 if self.records is None else self.records.n,
                             sort=self.sort, regex=self.regex)
        # Fixed one-line bar: no layout pass needed when its text changes.
        self.query_one("#ds-status", Static).update(text, layout=False)

    @property
    def shown_order(self) -> np.ndarray | None:
        """Source indices currently listed in the table, in display order."""
        return self.query_one(RecordTable).order
