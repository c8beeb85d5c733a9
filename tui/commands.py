"""Command palette provider: every pane switch and pane action is reachable by name."""

from __future__ import annotations

from functools import partial

from textual.command import DiscoveryHit, Hit, Hits, Provider

PANES: tuple[tuple[str, str, str], ...] = (
    ("dataset", "Pane: Dataset", "Browse and search datasets"),
    ("tokenizer", "Pane: Tokenizer", "See how MeCab and WordPiece cut text"),
    ("train", "Pane: Train", "Launch and watch training runs"),
    ("generate", "Pane: Generate", "Titles from saved checkpoints"),
)


class PaneCommands(Provider):
    """Offers the panes by name; panes add their own actions through Screen.COMMANDS."""

    async def discover(self) -> Hits:
        for mode, name, help_text in PANES:
            yield DiscoveryHit(name, partial(self.app.action_pane, mode), help=help_text)

    async def search(self, query: str) -> Hits:
        matcher = self.matcher(query)
        for mode, name, help_text in PANES:
            score = matcher.match(name)
            if score > 0:
                yield Hit(score, matcher.highlight(name), partial(self.app.action_pane, mode),
                          help=help_text)
