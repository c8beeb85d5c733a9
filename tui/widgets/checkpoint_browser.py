"""Table of every run's checkpoints: step, eval loss, date, size; incomplete ones marked."""

from __future__ import annotations

import time
from typing import ClassVar

from rich.text import Text
from textual.binding import Binding, BindingType
from textual.message import Message
from textual.widgets import DataTable

from core.generation.checkpoints import CheckpointInfo, RunCheckpoints


def _size(n: int) -> str:
    for unit in ("B", "K", "M", "G"):
        if n < 1024 or unit == "G":
            return f"{n:.0f}{unit}" if unit == "B" else f"{n:.1f}{unit}"
        n /= 1024  # type: ignore[assignment]
    return f"{n}"


class CheckpointBrowser(DataTable[Text | str]):
    """Enter loads the highlighted checkpoint as A; `b` loads it as B (A/B comparison)."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("enter", "pick('A')", "Load as A", id="generate.browser.load_a",
                tooltip="Load the highlighted checkpoint (A)"),
        Binding("b", "pick('B')", "Load as B", id="generate.browser.load_b",
                tooltip="Load the highlighted checkpoint as B: the same synopsis goes "
                "through both, side by side"),
    ]

    class Picked(Message):
        """A complete checkpoint chosen for slot A or B."""

        def __init__(self, spec: str, slot: str) -> None:
            super().__init__()
            self.spec, self.slot = spec, slot

    def __init__(self, **kwargs: object) -> None:
        super().__init__(cursor_type="row", zebra_stripes=True, **kwargs)  # type: ignore[arg-type]
        self._rows: dict[str, CheckpointInfo] = {}

    COLUMNS = ("run", "step", "eval loss", "saved", "size")

    def show_runs(self, runs: list[RunCheckpoints]) -> int:
        """Replace the rows; returns how many complete checkpoints there are."""
        keep = self.cursor_row
        # Columns are rebuilt so their widths shrink again when long rows go away.
        self.clear(columns=True)
        self.add_columns(*self.COLUMNS)
        self._rows.clear()
        complete = 0
        for run in runs:
            if not run.checkpoints:
                self.add_row(Text(run.run_id, style="bold"), Text(f"— {run.state}", style="dim"),
                             "", "", "", key=f"run:{run.run_id}")
                continue
            for ck in run.checkpoints:
                loss = f"{ck.eval_loss:.3f}" if ck.eval_loss is not None else "—"
                when = time.strftime("%m-%d %H:%M", time.localtime(ck.saved_at))
                style = "" if ck.complete else "dim"
                step = str(ck.step) + ("" if ck.complete else " incomplete")
                if ck.complete and run.best == ck.name:
                    step += " ★"
                self.add_row(Text(run.run_id[:24], style=style),
                             Text(step, style=style, justify="right"),
                             Text(loss, style=style, justify="right"), Text(when, style=style),
                             Text(_size(ck.size_bytes), style=style, justify="right"),
                             key=ck.spec)
                self._rows[ck.spec] = ck
                complete += ck.complete
        if self.row_count:
            self.move_cursor(row=min(max(keep, 0), self.row_count - 1))
        return complete

    def highlighted(self) -> CheckpointInfo | None:
        if not self.row_count:
            return None
        key = self.coordinate_to_cell_key(self.cursor_coordinate).row_key.value
        return self._rows.get(str(key))

    def action_pick(self, slot: str) -> None:
        ck = self.highlighted()
        if ck is None:
            self.notify("This run has no checkpoint yet.", severity="warning")
        elif not ck.complete:
            self.notify(f"{ck.spec} is incomplete (its save was interrupted) and cannot be "
                        "loaded.", severity="warning")
        else:
            self.post_message(self.Picked(ck.spec, slot))
