"""The narou-tui Textual app: one mode per pane, switched from the keyboard or the palette."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from textual.app import App
from textual.binding import Binding, BindingType

from core.paths import Paths
from tui.commands import PaneCommands


@dataclass
class LaunchOptions:
    """How the app was opened: which pane first, and an optional run to attach to.

    initial_pane: mode name to show first ("dataset", "tokenizer", "train", "generate").
    attach_run: run id to open straight into (used by `narou-tui attach`).
    readonly: hide actions that change runs (stop/resume/launch).
    """

    initial_pane: str = "dataset"
    attach_run: str | None = None
    readonly: bool = False


class NarouApp(App[None]):
    """Workbench shell. Panes are screens created lazily so startup imports nothing heavy."""

    TITLE = "narou-tui"
    SUB_TITLE = "BERT2BERT title workbench"
    CSS_PATH = "app.tcss"
    COMMANDS = App.COMMANDS | {PaneCommands}
    MODES: ClassVar[dict[str, str]] = {
        "dataset": "tui.screens.dataset:DatasetScreen",
        "tokenizer": "tui.screens.tokenizer:TokenizerScreen",
        "train": "tui.screens.train:TrainScreen",
        "generate": "tui.screens.generate:GenerateScreen",
    }
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("1", "pane('dataset')", "Data", id="pane.dataset", tooltip="Browse datasets"),
        Binding("2", "pane('tokenizer')", "Tokens", id="pane.tokenizer",
                tooltip="Inspect MeCab + WordPiece tokenization"),
        Binding("3", "pane('train')", "Train", id="pane.train",
                tooltip="Launch and watch training runs"),
        Binding("4", "pane('generate')", "Generate", id="pane.generate",
                tooltip="Generate titles from checkpoints"),
        Binding("q", "quit", "Quit", id="app.quit", tooltip="Quit (running jobs keep going)"),
    ]

    def __init__(self, paths: Paths | None = None, options: LaunchOptions | None = None) -> None:
        self.paths = paths or Paths.resolve()
        self.options = options or LaunchOptions()
        # Textual resolves "module:Class" strings? It does not; resolve lazily ourselves.
        self.MODES = {name: _lazy_screen(spec) for name, spec in type(self).MODES.items()}
        super().__init__()

    def on_mount(self) -> None:
        self.switch_mode(self.options.initial_pane)

    def action_pane(self, name: str) -> None:
        if name != self.current_mode:
            self.switch_mode(name)


def _lazy_screen(spec: str):  # type: ignore[no-untyped-def]
    """A zero-argument factory that imports the pane's module only when first shown."""

    def factory():  # type: ignore[no-untyped-def]
        import importlib

        module_name, _, cls_name = spec.partition(":")
        return getattr(importlib.import_module(module_name), cls_name)()

    return factory


def run_app(paths: Paths, options: LaunchOptions | None = None) -> int:
    NarouApp(paths, options).run()
    return 0
