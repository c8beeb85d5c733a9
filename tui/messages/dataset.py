"""Messages the Dataset pane's workers post: listing, loading, searching and stats results."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from textual.message import Message

from core.data.query import SearchQuery, SortKey

if TYPE_CHECKING:  # numpy/Arrow load in the workers, never at TUI start-up
    import numpy as np

    from core.data.browse import RecordSet
    from core.data.stats import DatasetStats
    from core.data.store import DatasetInfo


@dataclass
class DatasetsListed(Message):
    """The datasets folder was scanned."""

    entries: list[DatasetInfo]


@dataclass
class DatasetLoaded(Message):
    """A dataset's tables are mapped and its length arrays computed."""

    records: RecordSet
    seconds: float


@dataclass
class DatasetLoadFailed(Message):
    """Opening dataset `name` failed; `error` says which file and why."""

    name: str
    error: str


@dataclass
class SearchFinished(Message):
    """Search number `seq` finished: `order` holds the source indices to show, in order."""

    seq: int
    query: SearchQuery
    sort: SortKey
    order: np.ndarray
    millis: float


@dataclass
class SearchFailed(Message):
    """Search number `seq` could not run (e.g. invalid regex); `error` is shown inline."""

    seq: int
    query: SearchQuery
    error: str


@dataclass
class StatsReady(Message):
    """Statistics for dataset `name`, over the rows described by `scope` (key: what was asked)."""

    name: str
    stats: DatasetStats
    scope: str = ""
    key: object = None
