"""Dataset browsing without a screen: loaded Arrow tables, vectorised search, sort orders."""

from __future__ import annotations

import re
from collections.abc import Callable

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from core.data.errors import DatasetError
from core.data.query import (
    DatasetLoadError,
    SearchError,
    SearchQuery,
    SortKey,
    SplitRecord,
    genre_name,
)
from core.data.store import DatasetInfo, list_datasets, load_tables
from core.paths import PathError, Paths

SPLIT_SHORT: dict[str, str] = {"train": "train", "validation": "valid", "test": "test"}

# Preview cells never need more than this many characters of a synopsis.
_PREVIEW_CHARS = 80
# Search within the previous matches only when they are a small part of the data: copying
# many matched synopses out of the memory map costs more than scanning every row again.
_NARROW_FRACTION = 4
_CONTROL = re.compile(r"[\r\n\t\u2028\u2029]+")


# --------------------------------------------------------------------------- listing / loading


def list_entries(paths: Paths) -> list[DatasetInfo]:
    """Datasets under paths.datasets_dir; the bundled `sample` first, then by name."""
    return sorted(list_datasets(paths), key=lambda e: (e.name != "sample", e.name))


def entry_counts(entry: DatasetInfo) -> str:
    """Side-bar count text for one dataset."""
    if entry.pending_source is not None:
        return "not built"
    return "unreadable" if not entry.ok else f"{entry.total:,}"


def open_records(paths: Paths, name: str) -> RecordSet:
    """Memory-map dataset `name` and index it; every failure is a DatasetLoadError."""
    try:
        tables = load_tables(paths, name)
    except (DatasetError, PathError, OSError) as exc:
        raise DatasetLoadError(str(exc)) from exc
    return RecordSet(name, tables)


# --------------------------------------------------------------------------- the record set


def _string_column(table: pa.Table, name: str) -> pa.ChunkedArray:
    if name not in table.column_names:
        return pa.chunked_array([pa.nulls(table.num_rows, pa.string())]).fill_null("")
    col = table.column(name)
    if pa.types.is_large_string(col.type) or not pa.types.is_string(col.type):
        col = col.cast(pa.string())
    return col.fill_null("")


def _int_column(table: pa.Table, name: str) -> pa.ChunkedArray:
    if name not in table.column_names:
        return pa.chunked_array([pa.nulls(table.num_rows, pa.int64())])
    try:
        return table.column(name).cast(pa.int64())
    except pa.ArrowInvalid:
        return pa.chunked_array([pa.nulls(table.num_rows, pa.int64())])


class RecordSet:
    """All splits of one dataset as flat columns plus numpy arrays for filtering and sorting.

    Rows are addressed by a source index 0..n-1 (splits concatenated in order); views are
    numpy int arrays of source indices, so no widget ever holds the rows themselves.
    """

    def __init__(self, name: str, tables: dict[str, pa.Table]) -> None:
        self.name = name
        self.tables = tables
        self.split_names: list[str] = list(tables)
        for split, table in tables.items():
            for required in ("title", "story"):
                if required not in table.column_names:
                    raise DatasetLoadError(
                        f"dataset {name!r}, split {split!r}: column {required!r} missing "
                        f"(has {', '.join(table.column_names) or 'none'})"
                    )
        parts = list(tables.values())
        self.title = pa.chunked_array(
            [c for t in parts for c in _string_column(t, "title").chunks], pa.string())
        self.story = pa.chunked_array(
            [c for t in parts for c in _string_column(t, "story").chunks], pa.string())
        self.ncode = pa.chunked_array(
            [c for t in parts for c in _string_column(t, "ncode").chunks], pa.string())
        self.keyword = pa.chunked_array(
            [c for t in parts for c in _string_column(t, "keyword").chunks], pa.string())
        genre = pa.chunked_array([c for t in parts for c in _int_column(t, "genre").chunks],
                                 pa.int64())
        biggenre = pa.chunked_array(
            [c for t in parts for c in _int_column(t, "biggenre").chunks], pa.int64())
        self.n = len(self.title)
        self.genre = genre.fill_null(-1).to_numpy()
        self.biggenre = biggenre.fill_null(-1).to_numpy()
        self.split_code = np.repeat(
            np.arange(len(parts), dtype=np.int8), [t.num_rows for t in parts])
        self.story_len = pc.utf8_length(self.story).to_numpy().astype(np.int32)
        self.title_len = pc.utf8_length(self.title).to_numpy().astype(np.int32)
        self._orders: dict[SortKey, np.ndarray] = {}
        self._last: tuple[SearchQuery, np.ndarray] | None = None

    # -- counts and labels

    def split_counts(self) -> dict[str, int]:
        counts = np.bincount(self.split_code, minlength=len(self.split_names))
        return {s: int(c) for s, c in zip(self.split_names, counts, strict=True)}

    def genres(self) -> list[tuple[int, str, int]]:
        """(code, name, count) for every genre present, most frequent first."""
        codes, counts = np.unique(self.genre, return_counts=True)
        rows = [(int(c), genre_name(int(c)), int(n)) for c, n in zip(codes, counts, strict=True)
                if c >= 0]
        return sorted(rows, key=lambda r: -r[2])

    def subset_tables(self, indices: np.ndarray) -> dict[str, pa.Table]:
        """The split tables cut down to the given source indices (for statistics of a view)."""
        out: dict[str, pa.Table] = {}
        rows = np.sort(np.asarray(indices, dtype=np.int64))
        start = 0
        for split, table in self.tables.items():
            end = start + table.num_rows
            lo, hi = np.searchsorted(rows, [start, end])
            out[split] = table.take(pa.array(rows[lo:hi] - start))
            start = end
        return out

    # -- rows

    def cells(self, i: int) -> tuple[str, str, str, str, str, str]:
        """Display cells of row i: split, title, synopsis preview, genre, synopsis/title chars."""
        title = _CONTROL.sub(" ", self.title[i].as_py())
        preview = _CONTROL.sub(" ", self.story[i].as_py()[:_PREVIEW_CHARS])
        return (
            SPLIT_SHORT.get(self.split_names[self.split_code[i]], self.split_names[self.split_code[i]]),
            title,
            preview,
            genre_name(int(self.genre[i])),
            f"{self.story_len[i]:,}",
            f"{self.title_len[i]:,}",
        )

    def record(self, i: int) -> SplitRecord:
        g, bg = int(self.genre[i]), int(self.biggenre[i])
        split = self.split_names[self.split_code[i]]
        return SplitRecord(
            index=i,
            split=split,
            where=f"{split} row {i}",
            title=self.title[i].as_py(),
            story=self.story[i].as_py(),
            ncode=self.ncode[i].as_py(),
            keyword=self.keyword[i].as_py(),
            genre=g if g >= 0 else None,
            biggenre=bg if bg >= 0 else None,
        )

    # -- sort and search

    def order(self, key: SortKey) -> np.ndarray:
        """Source indices in `key` order (stable, so ties keep the original order)."""
        cached = self._orders.get(key)
        if cached is not None:
            return cached
        if key is SortKey.ORIGINAL:
            result = np.arange(self.n, dtype=np.int64)
        else:
            values = self.story_len if key in (SortKey.STORY_ASC, SortKey.STORY_DESC) else self.title_len
            if key in (SortKey.STORY_DESC, SortKey.TITLE_DESC):
                values = -values.astype(np.int64)
            result = np.argsort(values, kind="stable")
        self._orders[key] = result
        return result

    def match(self, query: SearchQuery, cancelled: Callable[[], bool] = lambda: False
              ) -> np.ndarray | None:
        """Ascending source indices matching `query`; None means every row (no filter).

        Substring search is case-insensitive and vectorised in Arrow; a query that only adds
        letters to the previous one searches within the previous matches.
        """
        if not query.text and query.genre is None:
            return None
        candidates: np.ndarray | None = None
        if query.genre is not None:
            candidates = np.flatnonzero(self.genre == query.genre)
        if query.text:
            if (self._last is not None and query.narrows(self._last[0])
                    and self._last[1].size * _NARROW_FRACTION < self.n):
                candidates = self._last[1]
            if candidates is None:
                title, story = self.title, self.story
            else:
                take = pa.array(candidates)
                title, story = self.title.take(take), self.story.take(take)
            hit = self._match_columns(query, title, story, cancelled)
            if hit is None:
                return np.empty(0, dtype=np.int64)
            candidates = np.flatnonzero(hit) if candidates is None else candidates[hit]
            self._last = (query, candidates)
        assert candidates is not None
        return candidates.astype(np.int64, copy=False)

    @staticmethod
    def _match_columns(query: SearchQuery, title: pa.ChunkedArray, story: pa.ChunkedArray,
                       cancelled: Callable[[], bool]) -> np.ndarray | None:
        try:
            if query.regex:
                hit_t = pc.match_substring_regex(title, query.text)
            else:
                # ignore_case routes through RE2, which is ~4x faster than the plain kernel on
                # multi-byte text here, and makes Latin words case-insensitive.
                hit_t = pc.match_substring(title, query.text, ignore_case=True)
            if cancelled():
                return None
            if query.regex:
                hit_s = pc.match_substring_regex(story, query.text)
            else:
                hit_s = pc.match_substring(story, query.text, ignore_case=True)
        except pa.ArrowInvalid as exc:
            raise SearchError(_regex_message(str(exc))) from exc
        return pc.or_(hit_t, hit_s).to_numpy(zero_copy_only=False)

    def view(self, query: SearchQuery, key: SortKey,
             cancelled: Callable[[], bool] = lambda: False) -> np.ndarray:
        """Source indices to show, in display order."""
        base = self.order(key)
        matches = self.match(query, cancelled)
        if matches is None:
            return base
        if key is SortKey.ORIGINAL:
            return matches
        keep = np.zeros(self.n, dtype=bool)
        keep[matches] = True
        return base[keep[base]]


def _regex_message(arrow_message: str) -> str:
    # Arrow prefixes RE2's text with "Invalid: Invalid regular expression: "; keep RE2's part.
    text = arrow_message.split("regular expression:", 1)[-1].strip()
    return f"invalid regular expression: {text}"
