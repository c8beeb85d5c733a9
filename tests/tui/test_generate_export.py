"""Generate pane: `x` on a checkpoint asks for a folder and exports it in a worker."""

from __future__ import annotations

import asyncio
from pathlib import Path

from textual.widgets import Input, Static

from core.paths import Paths
from tests.until import until
from tui.app import LaunchOptions, NarouApp
from tui.screens.export_dialog import ExportDialog
from tui.widgets.checkpoint_browser import CheckpointBrowser


async def _open_dialog(app: NarouApp, pilot: object) -> ExportDialog:
    browser = app.screen.query_one(CheckpointBrowser)
    browser.focus()
    browser.move_cursor(row=browser.get_row_index("tiny-run/checkpoint-150"))
    await pilot.press("x")  # type: ignore[attr-defined]
    await until(pilot, lambda: isinstance(app.screen, ExportDialog))
    return app.screen  # type: ignore[return-value]


async def _type_folder(pilot: object, dialog: ExportDialog, folder: Path) -> None:
    field = dialog.query_one("#export-out", Input)
    assert field.value == "exports/tiny-run-checkpoint-150"  # a fresh folder is offered
    field.value = str(folder)
    await pilot.press("enter")  # type: ignore[attr-defined]


def test_export_action_writes_the_folder(run_paths: Paths) -> None:
    out = run_paths.config_dir / "shared-model"
    inside = run_paths.checkpoints_dir / "tiny-run" / "export"

    async def drive() -> None:
        app = NarouApp(run_paths, LaunchOptions(initial_pane="generate"))
        async with app.run_test(size=(120, 40)) as pilot:
            await pilot.pause()
            dialog = await _open_dialog(app, pilot)
            # A folder inside the run is refused in the dialog, which stays open.
            await _type_folder(pilot, dialog, inside)
            error = str(dialog.query_one("#export-error", Static).render())
            assert "is inside run directory" in error and app.screen is dialog
            await pilot.press("escape")
            await until(pilot, lambda: not isinstance(app.screen, ExportDialog))

            dialog = await _open_dialog(app, pilot)
            await _type_folder(pilot, dialog, out)
            await until(pilot, lambda: any(n.message.startswith("Exported ")
                                            for n in app._notifications))
            note = next(n.message for n in app._notifications if n.message.startswith("Exported "))
            assert note == (f"Exported tiny-run/checkpoint-150 to {out} (6 files): it loads "
                            "with plain transformers, see README.md there")

    asyncio.run(drive())
    assert sorted(p.name for p in out.iterdir()) == [
        "README.md", "config.json", "generation_config.json", "model.safetensors",
        "tokenizer_config.json", "vocab.txt"]
    assert not inside.exists()
