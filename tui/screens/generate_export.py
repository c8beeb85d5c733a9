"""The Generate pane's export flow: ask where, export the checkpoint in a worker, report it."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from textual.widgets import Static

from tui.context import app_state
from tui.messages.generate import ExportDone, ExportProgress
from tui.widgets.checkpoint_browser import CheckpointBrowser
from tui.workers import background

if TYPE_CHECKING:
    from textual.screen import Screen

    _ScreenBase = Screen[None]
else:
    _ScreenBase = object


class CheckpointExport(_ScreenBase):
    """Mixed into the Generate pane: the browser's export key opens the dialog; the export's
    progress and result show in the pane's status line (#load-status)."""

    def on_checkpoint_browser_export_requested(self,
                                               event: CheckpointBrowser.ExportRequested) -> None:
        from tui.screens.export_dialog import ExportChoice, ExportDialog

        def chosen(choice: ExportChoice | None) -> None:
            if choice is not None:
                self.start_export(event.spec, choice.out, choice.force)

        self.app.push_screen(ExportDialog(event.spec, app_state(self).paths.checkpoints_dir),
                             chosen)

    def start_export(self, spec: str, out: Path, force: bool = False) -> None:
        self.query_one("#load-status", Static).update(f"exporting {spec} to {out}…")
        self._export_worker(spec, out, force)

    @background("gen-export", subject=lambda spec, out, force=False: spec)
    def _export_worker(self, spec: str, out: Path, force: bool = False) -> None:
        from core.export.folder import export_checkpoint

        result = export_checkpoint(app_state(self).paths, spec, out, force=force,
                                   progress=lambda m: self.post_message(ExportProgress(spec, m)))
        self.post_message(ExportDone(result.spec, str(result.out), result.files))

    def on_export_progress(self, msg: ExportProgress) -> None:
        self.query_one("#load-status", Static).update(f"export {msg.spec}: {msg.text}")

    def on_export_done(self, msg: ExportDone) -> None:
        self.query_one("#load-status", Static).update(f"exported {msg.spec} to {msg.out}")
        self.notify(f"Exported {msg.spec} to {msg.out} ({len(msg.files)} files): it loads with "
                    "plain transformers, see README.md there")
