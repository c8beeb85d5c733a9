"""Messages the Fetch screen's workers post: a fresh snapshot of the harvest, a finished build."""

from __future__ import annotations

from textual.message import Message

from core.fetch.launch import FetchSnapshot


class FetchPolled(Message):
    """The harvest's state, records size and log tail were read."""

    def __init__(self, snapshot: FetchSnapshot) -> None:
        self.snapshot = snapshot
        super().__init__()


class FetchFinalized(Message):
    """Building dataset `name` from its harvest ended: `summary` when built, else `refused`
    says why there was nothing to build yet."""

    def __init__(self, name: str, summary: str = "", refused: str = "") -> None:
        self.name = name
        self.summary = summary
        self.refused = refused
        super().__init__()
