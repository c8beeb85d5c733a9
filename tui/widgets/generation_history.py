"""The generations made since the pane opened; selecting one shows its results again."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

from rich.text import Text
from textual.message import Message
from textual.widgets import OptionList
from textual.widgets.option_list import Option


@dataclass
class HistoryEntry:
    """One generation: the synopsis, the real title if known, {slot: GenerationResult}."""

    synopsis: str
    reference: str | None
    results: dict[str, Any]
    at: float = field(default_factory=time.time)


class GenerationHistory(OptionList):
    """Newest first; Enter recalls an entry into the result columns."""

    @dataclass
    class Recalled(Message):
        """An earlier generation chosen to show again."""

        entry: HistoryEntry

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.entries: list[HistoryEntry] = []

    def add(self, entry: HistoryEntry) -> None:
        self.entries.insert(0, entry)
        self.clear_options()
        for i, e in enumerate(self.entries):
            firsts = " | ".join(
                f"{slot}:{r.candidates[0].text if r.candidates else '—'}"
                for slot, r in sorted(e.results.items())
            )
            synopsis = e.synopsis.replace("\n", " ")
            label = Text.assemble((time.strftime("%H:%M:%S ", time.localtime(e.at)), "dim"),
                                  synopsis[:14] + ("…" if len(synopsis) > 14 else ""),
                                  " → ", firsts)
            self.add_option(Option(label, id=f"h{len(self.entries) - i}"))

    def on_option_list_option_selected(self, event: OptionList.OptionSelected) -> None:
        event.stop()
        self.post_message(self.Recalled(self.entries[event.option_index]))
