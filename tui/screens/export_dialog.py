"""Modal asking where to export a checkpoint as a Hugging Face folder (and whether to replace one)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Checkbox, Input, Label, Static


@dataclass(frozen=True)
class ExportChoice:
    """Where the user asked the export to go; `force` replaces an earlier export there."""

    out: Path
    force: bool


def default_out(spec: str) -> Path:
    """A fresh folder under ./exports named after the run and checkpoint."""
    return Path("exports") / spec.replace("/", "-")


class ExportDialog(ModalScreen[ExportChoice | None]):
    """Enter exports to the typed folder (checked first); escape cancels."""

    DEFAULT_CSS = """
    ExportDialog { align: center middle; }
    ExportDialog > Vertical {
        width: 72; max-width: 100%; height: auto; padding: 1 2; border: thick $accent;
        background: $surface;
    }
    ExportDialog Checkbox { border: none; padding: 0 0; }
    ExportDialog #export-error { color: $error; height: auto; }
    """
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "cancel", "Cancel", id="generate.export.cancel",
                tooltip="Close without exporting"),
    ]

    def __init__(self, spec: str, checkpoints_dir: Path) -> None:
        super().__init__()
        self.spec = spec
        self.checkpoints_dir = checkpoints_dir

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Label(f"Export [b]{self.spec}[/b] as a Hugging Face folder "
                        "(safetensors, configs, tokenizer, model card)")
            yield Input(str(default_out(self.spec)), id="export-out",
                        tooltip="The folder to write: new or empty, outside the run folders")
            yield Checkbox("replace an earlier export in that folder", id="export-force")
            yield Static("", id="export-error", markup=False)
            yield Label("enter: export · escape: cancel", classes="muted")

    def on_mount(self) -> None:
        self.query_one("#export-out", Input).focus()

    @on(Input.Submitted, "#export-out")
    def _submitted(self, event: Input.Submitted) -> None:
        from core.export.errors import ExportError
        from core.export.folder import check_export_dir

        text = event.value.strip()
        error = self.query_one("#export-error", Static)
        if not text:
            error.update("Type the folder to write the model into.")
            return
        out = Path(text).expanduser().absolute()
        force = self.query_one("#export-force", Checkbox).value
        try:
            check_export_dir(out, self.checkpoints_dir, force)
        except ExportError as exc:
            error.update(str(exc).replace("or --force to", "or tick the box above to"))
            return
        self.dismiss(ExportChoice(out, force))

    def action_cancel(self) -> None:
        self.dismiss(None)
