"""ProbeList: the titles the watched run wrote for its probe synopses at each evaluation."""

from __future__ import annotations

from typing import Any

from rich.text import Text
from textual.widgets import Static

from core.runs.history import RunHistory
from core.runs.run_rows import probe_blocks


class ProbeList(Static):
    """Newest evaluation first; `show(history)` redraws only when the history has moved on."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._version = -1  # the history version on screen

    def forget(self) -> None:
        """Another run is watched: the next `show` redraws whatever its version."""
        self._version = -1

    def show(self, h: RunHistory) -> None:
        if self._version == h.version:
            return
        self._version = h.version
        t = Text()
        for block in probe_blocks(h):
            t.append(block.head + "\n", style="bold")
            for story_id, title in block.titles:
                t.append(f"  {story_id}  ", style="dim")
                t.append(f"{title}\n")
        if not h.probes:
            t.append("no probe generations yet (they come with each evaluation)", style="dim")
        self.update(t)
