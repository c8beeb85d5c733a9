"""Messages the Fetch screen's poll worker posts: a fresh snapshot of the harvest's files."""

from __future__ import annotations

from textual.message import Message

from core.fetch.launch import FetchSnapshot


class FetchPolled(Message):
    """The harvest's state, records size and log tail were read (`error` if that failed)."""

    def __init__(self, snapshot: FetchSnapshot | None, error: str | None = None) -> None:
        self.snapshot = snapshot
        self.error = error
        super().__init__()
