"""RunEvents: the watched run's latest events (resumes, saves, OOMs, NaNs…), alarms in red."""

from __future__ import annotations

from typing import Any

from rich.text import Text
from textual.widgets import Static

from core.runs.run_rows import event_rows
from tui.redraw import show_text


class RunEvents(Static):
    """One line per event, newest last; `show(events)` redraws only when they changed."""

    def show(self, events: list[dict[str, Any]]) -> None:
        t = Text(no_wrap=True, overflow="ellipsis")
        for row in event_rows(events):
            t.append(f"{row.stamp} @{row.step} ", style="dim")
            t.append(f"{row.text}\n", style="red" if row.alarm else "")
        if not events:
            t.append("no events yet", style="dim")
        show_text(self, t)
