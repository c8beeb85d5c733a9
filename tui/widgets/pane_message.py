"""PaneMessage: a pane's one message line, hidden while empty, red when it reports an error."""

from __future__ import annotations

from textual.widgets import Static


class PaneMessage(Static):
    """Set with `say`; an unchanged message costs no layout pass (it is set on every keystroke)."""

    def say(self, text: str, *, error: bool = False) -> None:
        """Show `text` (as an error when `error`); "" hides the line."""
        if self.display == bool(text) and str(self.content) == text \
                and self.has_class("error") == error:
            return
        self.update(text)
        self.set_class(error, "error")
        self.display = bool(text)
