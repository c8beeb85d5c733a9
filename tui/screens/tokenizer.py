"""Tokenizer pane (placeholder until its issue lands)."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.screen import Screen
from textual.widgets import Footer, Header, Static


class TokenizerScreen(Screen[None]):
    """Placeholder screen for the Tokenizer pane."""

    def compose(self) -> ComposeResult:
        yield Header()
        yield Static("Tokenizer pane: not built yet.", classes="muted")
        yield Footer()
