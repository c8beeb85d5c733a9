"""Table of every run's checkpoints: step, eval loss, date, size; incomplete ones marked."""

from __future__ import annotations

import time
from dataclasses import dataclass
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
        Binding("x", "export", "Export", id="generate.browser.export",
                tooltip="Write the highlighted checkpoint as a Hugging Face folder with a model "
                "card (asks for the folder)"),
    ]

    @dataclass
    class Picked(Message):
        """A complete checkpoint chosen for slot A or B."""

        spec: str
        slot: str

    @dataclass
    class ExportRequested(Message):
        """A complete checkpoint to export; the pane asks where."""

        spec: str

    def __init__(self, **kwargs: object) -> None:
        super().__init__(cursor_type="row", zebra_stripes=True, **kwargs)  # type: ignore[arg-type]
        self._rows: dict[str, CheckpointInfo] = {}
        self._shown = False  # the first listing puts the cursor on the newest run's best

    COLUMNS = ("run", "step", "eval loss", "saved", "size")

    def show_runs(self, runs: list[RunCheckpoints]) -> int:
        """Replace the rows; returns how many complete checkpoints there are."""
        keep = self.cursor_row
        rows: list[tuple[str, list[Text]]] = []
        best_row = None
        self._rows.clear()
        complete = 0
        for run in runs:
            if not run.checkpoints:
                rows.append((f"run:{run.run_id}", [
                    Text(run.run_id[:24], style="bold"), Text(f"— {run.state}", style="dim"),
                    Text(""), Text(""), Text("")]))
                continue
            for ck in run.checkpoints:
                loss = f"{ck.eval_loss:.3f}" if ck.eval_loss is not None else "—"
                if not ck.complete:
                    loss = "incomplete"  # the save was interrupted: listed, never loadable
                when = time.strftime("%m-%d %H:%M", time.localtime(ck.saved_at))
                style = "" if ck.complete else "dim"
                step = str(ck.step)
                if ck.complete and run.best == ck.name:
                    step += " ★"  # best by the run's best_by (status.json best_checkpoint)
                    if best_row is None and not self._shown:
                        best_row = len(rows)
                rows.append((ck.spec, [
                    Text(run.run_id[:24], style=style), Text(step, style=style, justify="right"),
                    Text(loss, style=style, justify="right"), Text(when, style=style),
                    Text(_size(ck.size_bytes), style=style, justify="right")]))
                self._rows[ck.spec] = ck
                complete += ck.complete
        # Columns are rebuilt with widths from this content, so they shrink when rows go away.
        self.clear(columns=True)
        for i, label in enumerate(self.COLUMNS):
            width = max([len(label)] + [cells[i].cell_len for _, cells in rows])
            self.add_column(label, width=width)
        for key, cells in rows:
            self.add_row(*cells, key=key)
        if self.row_count:
            if best_row is not None:
                keep = best_row
            self._shown = True
            self.move_cursor(row=min(max(keep, 0), self.row_count - 1))
        return complete

    def highlighted(self) -> CheckpointInfo | None:
        if not self.row_count:
            return None
        key = self.coordinate_to_cell_key(self.cursor_coordinate).row_key.value
        return self._rows.get(str(key))

    def _usable(self) -> CheckpointInfo | None:
        """The highlighted checkpoint when it is complete; else None, with a notification."""
        ck = self.highlighted()
        if ck is None:
            self.notify("This run has no checkpoint yet.", severity="warning")
        elif not ck.complete:
            self.notify(f"{ck.spec} is incomplete (its save was interrupted) and cannot be "
                        "loaded.", severity="warning")
        else:
            return ck
        return None

    def action_pick(self, slot: str) -> None:
        ck = self._usable()
        if ck is not None:
            self.post_message(self.Picked(ck.spec, slot))

    def action_export(self) -> None:
        ck = self._usable()
        if ck is not None:
            self.post_message(self.ExportRequested(ck.spec))
