"""Messages of the Train pane's queue list."""

from __future__ import annotations

from dataclasses import dataclass

from textual.message import Message

from core.training.queue.estimate import QueueRow


@dataclass
class QueueListed(Message):
    """A fresh read of the queue (order, waits, start estimates); `note`: the runner was restarted."""

    rows: list[QueueRow]
    note: str | None = None
