"""Dataset pane (placeholder until its issue lands)."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.screen import Screen
from textual.widgets import Footer, Header, Static


class DatasetScreen(Screen[None]):
    """Placeholder screen for the Dataset pane."""

    def compose(self) -> ComposeResult:
        yield Header()
        yield Static("Dataset pane: not built yet.", classes="muted")
        yield Footer()
