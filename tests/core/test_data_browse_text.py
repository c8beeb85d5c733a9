"""The dataset browser's texts and search coalescing, without a terminal."""

from __future__ import annotations

from core.data.browse_text import browse_status, stats_scope
from core.data.query import SearchQuery, SortKey
from core.data.search_rounds import SearchRounds


def test_status_line_names_what_is_open_and_how_it_is_searched() -> None:
    assert browse_status(loading=None, name=None, shown=0, total=0, sort=SortKey.ORIGINAL,
                         regex=False) == "sort: original order  ·  substring"
    assert browse_status(loading="big", name="novels", shown=1234, total=100000,
                         sort=SortKey.TITLE_DESC, regex=True) == (
        "opening big…  ·  novels: 1,234 of 100,000 records  ·  sort: title length ↓  ·  regex")


def test_stats_scope_says_which_rows_are_counted() -> None:
    assert stats_scope(3, 7, SearchQuery("魔王")) == "3 of 7 records matching '魔王'"
    assert stats_scope(2, 7, SearchQuery("", genre=201)).startswith("2 of 7 records in ")
    both = stats_scope(1, 2000, SearchQuery("竜", genre=201))
    assert both.startswith("1 of 2,000 records matching '竜' in ") and "  " not in both
    assert stats_scope(5, 7, SearchQuery()) == "5 of 7 records"


def test_one_search_in_flight_and_keys_typed_meanwhile_become_one_more() -> None:
    rounds = SearchRounds()
    assert rounds.request()  # nothing running: start now
    first = rounds.start()
    assert rounds.running and rounds.is_current(first)
    # Three keys while it runs: none starts, one more is owed, the first result is stale.
    assert not rounds.request() and not rounds.request() and not rounds.request()
    assert rounds.pending and not rounds.is_current(first)
    assert rounds.finish()  # the owed search starts now, with the newest number
    second = rounds.start()
    assert rounds.is_current(second) and second == first + 3 and not rounds.pending
    assert not rounds.finish() and not rounds.running
    # Opening another dataset makes even the newest result stale.
    rounds.invalidate()
    assert not rounds.is_current(second)
