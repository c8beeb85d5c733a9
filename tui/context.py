"""Typed access to the app's shared state (paths, options, run watch) from any screen or widget."""

from __future__ import annotations

from typing import TYPE_CHECKING

from textual.dom import DOMNode

if TYPE_CHECKING:
    from tui.app import NarouApp


def app_state(node: DOMNode) -> NarouApp:
    """The NarouApp `node` is mounted in: one checked cast instead of `self.app.x  # type: ignore`."""
    from tui.app import NarouApp  # late: tui.app imports the screens that import this module

    app = node.app
    if not isinstance(app, NarouApp):
        raise TypeError(f"{type(node).__name__} is mounted in {type(app).__name__}, not NarouApp")
    return app
