"""Where a Dataset-pane search matches inside shown text: compiled once per search, spans per text."""

from __future__ import annotations

import re
from functools import lru_cache
from typing import Any

Span = tuple[int, int]

# Python regexes backtrack where RE2 (the filter) cannot; a text that takes longer than this
# is shown unmarked rather than freezing the table.
MATCH_TIMEOUT_S = 0.05


def _compile_regex(text: str) -> tuple[Any, dict[str, float]]:
    """Compile with the `regex` module when present: it knows RE2's \\p{Han} and [[:alpha:]]."""
    try:
        import regex
    except ImportError:
        return re.compile(text), {}
    return regex.compile(text), {"timeout": MATCH_TIMEOUT_S}


class SearchMarks:
    """One search, compiled once; `spans(text)` lists where it matches as [start, end) chars.

    A substring search ignores case, as the Arrow filter does; a regular expression is
    case-sensitive, as the filter is. The filter runs RE2 and this runs Python, so a pattern
    only RE2 accepts marks nothing (`error` says why) while rows are still filtered, and
    Python's Unicode \\d and \\w can mark a little more than RE2's ASCII classes matched.
    """

    def __init__(self, text: str, regex: bool) -> None:
        self.text = text
        self.regex = regex
        self.error = ""
        self._pattern: Any = None
        self._kwargs: dict[str, float] = {}
        try:
            if regex:
                self._pattern, self._kwargs = _compile_regex(text)
            else:
                self._pattern = re.compile(re.escape(text), re.IGNORECASE)
        except Exception as exc:  # noqa: BLE001 - re.error, regex.error: never fatal here
            self.error = str(exc)

    def spans(self, text: str) -> list[Span]:
        """Non-empty matches in `text`, left to right."""
        if self._pattern is None or not text:
            return []
        try:
            return [m.span() for m in self._pattern.finditer(text, **self._kwargs)
                    if m.end() > m.start()]
        except TimeoutError:
            return []

    def cut_spans(self, text: str, kept: int, offset: int = 0) -> tuple[Span, ...]:
        """Spans of `text` as drawn when only its first `kept` chars show, `offset` chars into
        the cell: found on the whole text (so a cut never changes what matches), then clipped."""
        return tuple((offset + start, offset + min(end, kept))
                     for start, end in self.spans(text) if start < kept)


@lru_cache(maxsize=16)
def search_marks(text: str, regex: bool) -> SearchMarks | None:
    """The marks of one search; the same object for the same search, so it compiles once.

    None when there is nothing to mark (an empty search box).
    """
    return SearchMarks(text, regex) if text else None
