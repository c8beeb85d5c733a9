"""Headless model behind the Dataset pane: loaded Arrow tables, vectorised search, sort orders."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import dataclass
from enum import Enum
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from core.data.arrow_io import LayoutError, read_save_to_disk
from core.data.errors import DatasetError
from core.data.genres import genre_label
from core.paths import Paths

SPLITS: tuple[str, ...] = ("train", "validation", "test")
SPLIT_SHORT: dict[str, str] = {"train": "train", "validation": "valid", "test": "test"}

# Preview cells never need more than this many characters of a synopsis.
_PREVIEW_CHARS = 80
_CONTROL = re.compile(r"[\r\n\t\u2028\u2029]+")


def genre_name(code: int | None) -> str:
    """Display name of a Narou genre code ("—" when unknown; arrays use -1 for null)."""
    return genre_label(None if code is None or code < 0 else code)


class DatasetLoadError(Exception):
    """A dataset folder that cannot be shown; the message names the folder and the problem."""


class SearchError(ValueError):
    """A search the user typed that cannot run (e.g. an invalid regular expression)."""


class SortKey(Enum):
    """Row orders offered by the pane; value is the label shown in the status line."""

    ORIGINAL = "original order"
    STORY_DESC = "synopsis length ↓"
    STORY_ASC = "synopsis length ↑"
    TITLE_DESC = "title length ↓"
    TITLE_ASC = "title length ↑"

    def next(self) -> SortKey:
        members = list(SortKey)
        return members[(members.index(self) + 1) % len(members)]


@dataclass(frozen=True)
class SearchQuery:
    """What the user asked for.

    text: substring (or pattern when `regex`) matched against title and synopsis; "" = all.
    regex: treat `text` as an RE2 regular expression.
    genre: keep only this genre code; None = every genre.
    """

    text: str = ""
    regex: bool = False
    genre: int | None = None

    def narrows(self, previous: SearchQuery) -> bool:
        """True when every match of self is also a match of `previous` (typing more letters)."""
        return (
            not self.regex
            and not previous.regex
            and previous.genre == self.genre
            and previous.text.casefold() in self.text.casefold()
        )


@dataclass(frozen=True)
class DatasetEntry:
    """One dataset folder as listed in the side bar."""

    name: str
    counts: dict[str, int]
    error: str | None = None

    @property
    def total(self) -> int:
        return sum(self.counts.values())


@dataclass(frozen=True)
class Record:
    """Every field of one record, for the detail view."""

    index: int
    split: str
    title: str
    story: str
    ncode: str
    keyword: str
    genre: int | None
    biggenre: int | None

    @property
    def story_chars(self) -> int:
        return len(self.story)

    @property
    def title_chars(self) -> int:
        return len(self.title)


# --------------------------------------------------------------------------- listing / loading


def list_entries(paths: Paths) -> list[DatasetEntry]:
    """Datasets under paths.datasets_dir with their split counts; `sample` first, then by name."""
    root = paths.datasets_dir
    entries: list[DatasetEntry] = []
    if not root.is_dir():
        return entries
    for folder in sorted(p for p in root.iterdir() if p.is_dir() and not p.name.startswith(".")):
        if not ((folder / "meta.json").exists() or (folder / "dataset_dict.json").exists()):
            continue
        try:
            counts = _counts_from_meta(folder)
            entries.append(DatasetEntry(folder.name, counts))
        except DatasetLoadError as exc:
            entries.append(DatasetEntry(folder.name, {}, error=str(exc)))
    entries.sort(key=lambda e: (e.name != "sample", e.name))
    return entries


def _counts_from_meta(folder: Path) -> dict[str, int]:
    meta_path = folder / "meta.json"
    if meta_path.exists():
        try:
            meta = json.loads(meta_path.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise DatasetLoadError(f"{meta_path}: unreadable meta.json ({exc})") from exc
        counts = meta.get("counts") if isinstance(meta, dict) else None
        if isinstance(counts, dict):
            return {str(k): int(v) for k, v in counts.items() if isinstance(v, int)}
        raise DatasetLoadError(f"{meta_path}: field 'counts' missing or not an object")
    # No meta.json (a bare save_to_disk folder): count rows from the Arrow files.
    return _arrow_rows(folder)


def _arrow_rows(folder: Path) -> dict[str, int]:
    try:
        return {split: t.num_rows for split, t in read_save_to_disk(folder).items()}
    except LayoutError as exc:
        raise DatasetLoadError(str(exc)) from exc


def load_split_tables(paths: Paths, name: str) -> dict[str, pa.Table]:
    """split -> memory-mapped Arrow table, without importing `datasets`."""
    try:
        from core.data.store import load_tables
    except ImportError:
        load_tables = None
    if load_tables is not None:
        try:
            return load_tables(paths, name)
        except (DatasetError, LayoutError, OSError, ValueError) as exc:
            raise DatasetLoadError(str(exc)) from exc
    folder = paths.dataset(name)
    if not folder.is_dir():
        raise DatasetLoadError(f"dataset {name!r} not found in {paths.datasets_dir}")
    if (folder / "meta.json").exists():
        _counts_from_meta(folder)  # a broken meta.json is reported, not ignored
    try:
        return read_save_to_disk(folder)
    except LayoutError as exc:
        raise DatasetLoadError(str(exc)) from exc


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

    def record(self, i: int) -> Record:
        g, bg = int(self.genre[i]), int(self.biggenre[i])
        return Record(
            index=i,
            split=self.split_names[self.split_code[i]],
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
            if self._last is not None and query.narrows(self._last[0]):
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


def stats_text_lengths(values: np.ndarray, bins: int = 12) -> tuple[list[int], list[int]]:
    """Histogram (bin edges, counts) of character lengths with round-number bin widths."""
    if values.size == 0:
        return [0, 1], [0]
    top = int(np.percentile(values, 99)) + 1
    width = max(1, _nice(top / bins))
    edges = list(range(0, width * bins + 1, width))
    clipped = np.minimum(values, edges[-1] - 1)
    counts = np.bincount(clipped // width, minlength=bins)[:bins]
    return edges, [int(c) for c in counts]


def _nice(x: float) -> int:
    for step in (1, 2, 5, 10, 20, 25, 50, 100, 200, 250, 500, 1000, 2000, 5000):
        if step >= x:
            return step
    return int(x) + 1


def entry_label(entry: DatasetEntry) -> str:
    """Side-bar text for one dataset."""
    if entry.error:
        return f"{entry.name}  (unreadable)"
    return f"{entry.name}  {entry.total:,}"


# --------------------------------------------------------------------------- statistics


def _summary(values: np.ndarray) -> dict[str, float]:
    if values.size == 0:
        return {"min": 0, "median": 0, "mean": 0.0, "max": 0}
    return {"min": int(values.min()), "median": float(np.median(values)),
            "mean": float(values.mean()), "max": int(values.max())}


def _distinct(values: pa.ChunkedArray) -> int:
    return int(pc.count_distinct(values).as_py())


def compute_stats(records: RecordSet, top: int = 15) -> dict[str, object]:
    """Counts, length histograms, duplicates, empties and top keywords/genres, vectorised.

    Shape: {"counts": {split: n}, "total", "story_len"/"title_len": {min, median, mean, max},
    "story_hist"/"title_hist": {"edges", "counts"}, "duplicates": {pairs, titles, stories,
    ncodes}, "empties": {title, story}, "top_keywords"/"top_genres": [[label, n], ...]}.
    """
    n = records.n
    pairs = pc.binary_join_element_wise(records.title, records.story, "\x00")
    ncodes = records.ncode.filter(pc.not_equal(records.ncode, ""))
    words = pc.list_flatten(pc.split_pattern(records.keyword, " "))
    words = words.filter(pc.not_equal(words, ""))
    kw_counts = pc.value_counts(words) if len(words) else pa.array([], pa.struct(
        [("values", pa.string()), ("counts", pa.int64())]))
    kw = sorted(((str(v["values"]), int(v["counts"])) for v in kw_counts.to_pylist()),
                key=lambda kv: -kv[1])[:top]
    edges_s, counts_s = stats_text_lengths(records.story_len)
    edges_t, counts_t = stats_text_lengths(records.title_len)
    return {
        "counts": records.split_counts(),
        "total": n,
        "story_len": _summary(records.story_len),
        "title_len": _summary(records.title_len),
        "story_hist": {"edges": edges_s, "counts": counts_s},
        "title_hist": {"edges": edges_t, "counts": counts_t},
        "duplicates": {
            "pairs": n - _distinct(pairs),
            "titles": n - _distinct(records.title),
            "stories": n - _distinct(records.story),
            "ncodes": len(ncodes) - _distinct(ncodes),
        },
        "empties": {"title": int((records.title_len == 0).sum()),
                    "story": int((records.story_len == 0).sum())},
        "top_keywords": [list(kv) for kv in kw],
        "top_genres": [[name, count] for _code, name, count in records.genres()[:top]],
    }
