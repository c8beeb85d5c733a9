"""App-level keys: 1-4 switch panes, but a digit typed in a text field stays text until escape."""

from __future__ import annotations

import asyncio

from textual.widgets import Input

from core.paths import Paths
from tui.app import LaunchOptions, NarouApp


def test_digits_type_in_a_field_and_switch_panes_after_escape(paths: Paths) -> None:
    async def run() -> None:
        app = NarouApp(paths, LaunchOptions(initial_pane="dataset"))
        async with app.run_test(size=(120, 40)) as pilot:
            await pilot.press("slash", "2")
            await pilot.pause()
            assert app.current_mode == "dataset"
            assert app.screen.query_one("#ds-search", Input).value == "2"
            await pilot.press("escape", "3")
            await pilot.pause()
            assert app.current_mode == "train"
            await pilot.press("1")
            await pilot.pause()
            assert app.current_mode == "dataset"
            assert app.screen.query_one("#ds-search", Input).value == "2"  # the pane kept its state

    asyncio.run(run())
