"""Generated titles of one checkpoint with their scores, the real title, and copy-to-clipboard."""

from __future__ import annotations

from typing import Any, ClassVar

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical
from textual.widgets import Label, OptionList, Static
from textual.widgets.option_list import Option


class TitleResults(Vertical):
    """One column of results; the pane shows two of them for A/B."""

    DEFAULT_CSS = """
    TitleResults { height: 1fr; border: round $secondary; }
    TitleResults .results-head { text-style: bold; }
    TitleResults OptionList { height: 1fr; border: none; }
    """
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("c", "copy", "Copy title", id="generate.results.copy",
                tooltip="Copy the highlighted title to the clipboard"),
    ]

    def __init__(self, slot: str, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.slot = slot
        self.titles: list[str] = []

    def compose(self) -> ComposeResult:
        yield Label(f"{self.slot}: no checkpoint", classes="results-head")
        yield Static("", classes="muted results-ref")
        yield OptionList(id=f"titles-{self.slot.lower()}")

    def set_checkpoint(self, text: str) -> None:
        self.query_one(".results-head", Label).update(f"{self.slot}: {text}")

    def show(self, result: Any | None, reference: str | None = None) -> None:
        """Show a GenerationResult (None clears)."""
        ref = self.query_one(".results-ref", Static)
        ref.update(f"real title: {reference}" if reference else "")
        options = self.query_one(OptionList)
        options.clear_options()
        self.titles = []
        if result is None:
            return
        for rank, c in enumerate(result.candidates, start=1):
            line = Text.assemble((f"{rank}. ", "dim"), c.text or "(empty)",
                                 (f"  {c.score:.2f}", "dim"))
            options.add_option(Option(line, id=f"{self.slot}-{rank}"))
            self.titles.append(c.text)
        if self.titles:
            options.highlighted = 0

    def action_copy(self) -> None:
        options = self.query_one(OptionList)
        index = options.highlighted
        if index is None or index >= len(self.titles):
            self.notify("No title to copy.", severity="warning")
            return
        self.app.copy_to_clipboard(self.titles[index])
        self.notify(f"Copied: {self.titles[index]}")
