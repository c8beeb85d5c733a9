"""What the command line asks the terminal UI to open, and the hook through which it does so."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from core.paths import Paths


@dataclass
class LaunchOptions:
    """How the workbench is opened: which pane first, and an optional run to attach to.

    initial_pane: mode name to show first ("dataset", "tokenizer", "train", "generate").
    attach_run: run id to open straight into (used by `narou-tui attach`).
    readonly: hide actions that change runs (stop/resume/launch).
    """

    initial_pane: str = "dataset"
    attach_run: str | None = None
    readonly: bool = False


# Opens the workbench and returns the exit code. The command line only knows this signature:
# the UI passes its opener in from `tui.entry`, so `core` never imports the UI package.
AppOpener = Callable[[Paths, LaunchOptions], int]
