"""Fetch screen: start a real detached fetch against the API double, watch, cancel; snapshots."""

from __future__ import annotations

import os
import signal

import pytest
from textual.widgets import Input

from core.durable import read_json_object
from core.fetch.launch import snapshot
from core.fetch.store import FetchLayout
from core.paths import Paths
from core.runs.reader import pid_alive
from tests.core.narou_api_double import running_double
from tests.terminal_sizes import SIZE_IDS, TERMINAL_SIZES
from tests.until import until
from tui.app import NarouApp
from tui.screens.fetch import FetchScreen
from tui.widgets.fetch_progress import FetchProgress


@pytest.mark.anyio
async def test_start_watch_cancel_and_reopen(paths: Paths) -> None:
    with running_double(3000) as api:
        try:
            await _drive(paths, api.url)
        finally:  # never leave a detached fetch behind, whatever failed
            pid = snapshot(paths, "tuifetch").pid
            if pid and pid_alive(pid):
                os.kill(pid, signal.SIGKILL)


async def _refused_start(pilot, name: str) -> FetchScreen:  # type: ignore[no-untyped-def]
    """The Fetch screen opened, `name` typed with an impossible --since date, and ctrl+s
    refused with the field named."""
    screen = FetchScreen()
    await pilot.app.push_screen(screen)
    await pilot.pause()
    screen.query_one("#f-name", Input).value = name
    screen.query_one("#f-since", Input).value = "2020-02-30"
    await pilot.press("ctrl+s")
    await pilot.pause()
    assert "since: invalid date" in str(screen.query_one("#fetch-error").render())
    return screen


async def _drive(paths: Paths, url: str) -> None:
    app = NarouApp(paths)
    async with app.run_test(size=(140, 45)) as pilot:
        screen = await _refused_start(pilot, "tuifetch")
        screen.query_one("#f-since", Input).value = ""
        screen.query_one("#f-target", Input).value = "3000"
        screen.query_one("#f-api_url", Input).value = url
        screen.query_one("#f-delay", Input).value = "2"  # slow enough to cancel under load
        await pilot.press("ctrl+s")
        progress = screen.query_one(FetchProgress)
        await until(pilot, lambda: progress.records > 0 and progress.status == "running")
        first = progress.records
        await until(pilot, lambda: progress.records > first, what="the record count to grow")
        pid = snapshot(paths, "tuifetch").pid
        assert pid and pid_alive(pid)
        # Closing the screen leaves the fetch running; reopening finds it again.
        await pilot.press("escape")
        await pilot.pause()
        assert not isinstance(app.screen, FetchScreen)
        assert pid_alive(pid)
        again = FetchScreen()
        await app.push_screen(again)
        await pilot.pause()
        assert again.query_one("#f-name", Input).value == "tuifetch"
        assert again.query_one("#f-api_url", Input).value == url
        progress = again.query_one(FetchProgress)
        await until(pilot, lambda: progress.status == "running")
        await pilot.press("f8")
        await until(pilot, lambda: not pid_alive(pid), timeout=20, what="the fetch process to exit")
        await until(pilot, lambda: progress.status == "stopped")
        state = read_json_object(FetchLayout.of(paths, "tuifetch").state)
        assert state and state["status"] == "stopped" and 0 < state["records"] < 3000
        log = FetchLayout.of(paths, "tuifetch").log.read_text("utf-8")
        assert "stopped on request" in log and "Traceback" not in log


@pytest.mark.parametrize("size", TERMINAL_SIZES, ids=SIZE_IDS)
def test_snapshot_form_with_error(paths: Paths, snap_compare, size: tuple[int, int]  # type: ignore[no-untyped-def]
                                  ) -> None:
    async def refused(pilot) -> None:  # type: ignore[no-untyped-def]
        screen = await _refused_start(pilot, "narou-snap")
        screen.set_focus(None)  # no text cursor: its blink would make the picture vary
        await pilot.pause()

    assert snap_compare(NarouApp(paths), terminal_size=size, run_before=refused)
