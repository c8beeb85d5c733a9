"""Generate pane (placeholder until its issue lands)."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.screen import Screen
from textual.widgets import Footer, Header, Static


class GenerateScreen(Screen[None]):
    """Placeholder screen for the Generate pane."""

    def compose(self) -> ComposeResult:
        yield Header()
        yield Static("Generate pane: not built yet.", classes="muted")
        yield Footer()
