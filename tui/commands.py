"""Command palette providers: every pane switch and pane action is reachable by name."""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

from textual.command import DiscoveryHit, Hit, Hits, Provider

if TYPE_CHECKING:
    from core.data.query import SortKey
    from core.data.store import DatasetInfo

PANES: tuple[tuple[str, str, str], ...] = (
    ("dataset", "Pane: Dataset", "Browse and search datasets"),
    ("tokenizer", "Pane: Tokenizer", "See how MeCab and WordPiece cut text"),
    ("train", "Pane: Train", "Launch and watch training runs"),
    ("generate", "Pane: Generate", "Titles from saved checkpoints"),
)

# (name shown in the palette, what it runs, help line)
Command = tuple[str, Callable[[], Any], str]


class ListedCommands(Provider):
    """A provider over a list of commands: all of them on discovery, fuzzy matches on search."""

    def commands(self) -> list[Command]:
        raise NotImplementedError

    async def discover(self) -> Hits:
        for name, action, help_text in self.commands():
            yield DiscoveryHit(name, action, help=help_text)

    async def search(self, query: str) -> Hits:
        matcher = self.matcher(query)
        for name, action, help_text in self.commands():
            score = matcher.match(name)
            if score > 0:
                yield Hit(score, matcher.highlight(name), action, help=help_text)


class PaneCommands(ListedCommands):
    """Offers the panes by name; panes add their own actions through Screen.COMMANDS."""

    def commands(self) -> list[Command]:
        return [(name, partial(self.app.action_pane, mode), help_text)
                for mode, name, help_text in PANES]


@runtime_checkable
class DatasetActions(Protocol):
    """What the Dataset pane offers the palette (the screen implements it)."""

    entries: list[DatasetInfo]

    def action_focus_search(self) -> None: ...
    def action_toggle_regex(self) -> None: ...
    def action_focus_genre(self) -> None: ...
    async def action_toggle_stats(self) -> None: ...
    def action_fetch(self) -> None: ...
    def action_reload(self) -> None: ...
    def action_toggle_sidebar(self) -> None: ...
    def set_sort(self, key: SortKey) -> None: ...
    def open_dataset(self, name: str) -> None: ...


class DatasetCommands(ListedCommands):
    """Palette entries for the Dataset pane's actions and for opening each dataset."""

    def commands(self) -> list[Command]:
        from core.data.query import SortKey  # the pane has loaded it; start-up need not

        screen = self.screen
        if not isinstance(screen, DatasetActions):
            return []
        cmds: list[Command] = [
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
        cmds += [(f"Dataset: sort by {key.value}", partial(screen.set_sort, key),
                  "Reorder the table") for key in SortKey]
        cmds += [(f"Dataset: open {entry.name}", partial(screen.open_dataset, entry.name),
                  f"{entry.total:,} records") for entry in screen.entries]
        return cmds
