"""The dataset browser's one-line texts: its status bar and what a statistics view covers."""

from __future__ import annotations

from core.data.query import SearchQuery, SortKey, genre_name


def browse_status(*, loading: str | None, name: str | None, shown: int, total: int,
                  sort: SortKey, regex: bool) -> str:
    """'<name>: <shown> of <total> records · sort: … · substring' (name None: nothing open)."""
    parts: list[str] = []
    if loading:
        parts.append(f"opening {loading}…")
    if name is not None:
        parts.append(f"{name}: {shown:,} of {total:,} records")
    parts.append(f"sort: {sort.value}")
    parts.append("regex" if regex else "substring")
    return "  ·  ".join(parts)


def stats_scope(shown: int, total: int, query: SearchQuery) -> str:
    """Which rows statistics over a filtered table cover: '<n> of <total> records matching …'."""
    what = [f"matching {query.text!r}" if query.text else "",
            f"in {genre_name(query.genre)}" if query.genre is not None else ""]
    return (f"{shown:,} of {total:,} records " + " ".join(w for w in what if w)).strip()
