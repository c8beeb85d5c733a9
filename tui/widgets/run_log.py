"""RunLog: the tail of the watched run's train.log, appended to while the run writes."""

from __future__ import annotations

from typing import Any

from textual.widgets import Log

from core.runs.run_rows import tail_growth


class RunLog(Log):
    """`show(lines)` appends what the tail gained, or redraws it when it is another text."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(highlight=False, **kwargs)
        self._shown: list[str] = []

    def forget(self) -> None:
        """Another run is watched: start from an empty log."""
        self.clear()
        self._shown = []

    def show(self, lines: list[str]) -> None:
        if lines == self._shown:
            return
        grown = tail_growth(self._shown, lines)
        if grown is not None:
            self.write_lines(grown)
        else:
            self.clear()
            self.write_lines(lines or ["(train.log is empty)"])
        self._shown = list(lines)
