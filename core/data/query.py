"""Value types of dataset browsing (queries, sort keys, split records): no numpy or Arrow."""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum

from core.data.fields import Record
from core.data.genres import genre_label


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


@dataclass(slots=True)
class SplitRecord(Record):
    """A record of a built split at row `index` over all splits (what the detail view shows);
    its `where` is "<split> row <index>"."""

    index: int = 0
    split: str = ""

    @property
    def story_chars(self) -> int:
        return len(self.story)

    @property
    def title_chars(self) -> int:
        return len(self.title)
