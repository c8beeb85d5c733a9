"""Messages the Fetch screen's workers post: a fresh snapshot of the harvest, a finished build."""

from __future__ import annotations

from dataclasses import dataclass

from textual.message import Message

from core.fetch.launch import FetchSnapshot


@dataclass
class FetchPolled(Message):
    """The harvest's state, records size and log tail were read."""

    snapshot: FetchSnapshot


@dataclass
class FetchFinalized(Message):
    """Building dataset `name` from its harvest ended: `summary` when built, else `refused`
    says why there was nothing to build yet."""

    name: str
    summary: str = ""
    refused: str = ""
