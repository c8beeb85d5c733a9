"""Messages the Dataset pane's workers post: listing, loading, searching and stats results."""

from __future__ import annotations

from typing import TYPE_CHECKING

from textual.message import Message

from tui.dataset_query import SearchQuery, SortKey

if TYPE_CHECKING:  # numpy/Arrow load in the workers, never at TUI start-up
    import numpy as np

    from core.data.stats import DatasetStats
    from core.data.store import DatasetInfo
    from tui.dataset_view import RecordSet


class DatasetsListed(Message):
    """The datasets folder was scanned."""

    def __init__(self, entries: list[DatasetInfo]) -> None:
        self.entries = entries
        super().__init__()


class DatasetLoaded(Message):
    """A dataset's tables are mapped and its length arrays computed."""

    def __init__(self, records: RecordSet, seconds: float) -> None:
        self.records = records
        self.seconds = seconds
        super().__init__()


class DatasetLoadFailed(Message):
    """Opening dataset `name` failed; `error` says which file and why."""

    def __init__(self, name: str, error: str) -> None:
        self.name = name
        self.error = error
        super().__init__()


class SearchFinished(Message):
    """Search number `seq` finished: `order` holds the source indices to show, in order."""

    def __init__(self, seq: int, query: SearchQuery, sort: SortKey, order: np.ndarray,
                 millis: float) -> None:
        self.seq = seq
        self.query = query
        self.sort = sort
        self.order = order
        self.millis = millis
        super().__init__()


class SearchFailed(Message):
    """Search number `seq` could not run (e.g. invalid regex); `error` is shown inline."""

    def __init__(self, seq: int, query: SearchQuery, error: str) -> None:
        self.seq = seq
        self.query = query
        self.error = error
        super().__init__()


class StatsReady(Message):
    """Statistics for dataset `name`, over the rows described by `scope` (key: what was asked)."""

    def __init__(self, name: str, stats: DatasetStats, scope: str = "", key: object = None) -> None:
        self.name = name
        self.stats = stats
        self.scope = scope
        self.key = key
        super().__init__()
