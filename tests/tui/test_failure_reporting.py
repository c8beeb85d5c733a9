"""Failures outside one worker's run: a failure repeated every poll is shown once, error
descriptions and the bounded failure log, and listings made on the UI thread that fail."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from core.failure_log import describe_error, log_failure
from core.paths import Paths
from tests.fault_injection import inject
from tests.synthetic_run import FakeRun
from tests.until import until
from tui.app import LaunchOptions, NarouApp


def test_repeated_failure_is_shown_once_per_interval(paths: Paths,
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    """A run whose status file stays unreadable fails every poll: one notification, the polls
    go on, and the metrics read before the failing file still reach the history."""
    monkeypatch.setattr(NarouApp, "RUN_POLL_S", 0.05)
    FakeRun(paths.run("live"), total_steps=100).create().advance(5)
    injected = inject(monkeypatch, "tui.run_watch:read_status", PermissionError("denied"), None)

    async def drive() -> None:
        app = NarouApp(paths, LaunchOptions(initial_pane="dataset", attach_run="live"))
        async with app.run_test(size=(80, 24)) as pilot:
            await until(pilot, lambda: injected.calls >= 5)
            assert app.failures_reported == 1
            assert app.run_watch is not None and app.run_watch.history.n_train == 5
            assert app.is_running

    asyncio.run(drive())


def test_describe_error_and_bounded_log(tmp_path: Path) -> None:
    from core.paths import PathError

    assert describe_error(PermissionError(13, "Permission denied", "/r/x")) == \
        "PermissionError: [Errno 13] Permission denied: '/r/x'"
    assert describe_error(ValueError("no dataset yet")) == "no dataset yet"
    assert describe_error(PathError("invalid run name")) == "invalid run name"
    assert describe_error(KeyError("story")) == "KeyError: 'story'"
    assert describe_error(RuntimeError("a\nb")) == "RuntimeError: a b"
    assert len(describe_error(OSError("x" * 1000))) <= 240
    log = tmp_path / "cfg" / "narou-tui.log"
    for i in range(40):
        try:
            raise OSError(f"failure {i}")
        except OSError as exc:
            assert log_failure(log, f"task {i}", exc, max_bytes=4000) is None
    assert log.stat().st_size <= 4000
    assert "failure 39" in log.read_text(encoding="utf-8")
    assert log.with_name("narou-tui.log.1").is_file()
    blocked = tmp_path / "file"
    blocked.write_text("")
    try:
        raise OSError("x")
    except OSError as exc:
        assert log_failure(blocked / "narou-tui.log", "t", exc) is not None


@pytest.mark.parametrize(("pane", "target", "label"), [
    ("generate", "tui.screens.generate:list_checkpoints", "Listing checkpoints failed"),
    ("fetch", "tui.screens.fetch:list_fetches", "Listing harvests failed"),
])
def test_reads_on_the_ui_thread_report_instead_of_closing(
        pane: str, target: str, label: str, paths: Paths,
        monkeypatch: pytest.MonkeyPatch) -> None:
    """The two listings a pane makes on the UI thread as it opens go through the same one
    failure path as the workers: the app stays up and the pane opens empty."""
    inject(monkeypatch, target, PermissionError(13, "Permission denied", "/x"), None)

    async def drive() -> None:
        app = NarouApp(paths, LaunchOptions(initial_pane="generate" if pane == "generate"
                                            else "dataset"))
        async with app.run_test(size=(120, 40)) as pilot:
            if pane == "fetch":
                await pilot.pause()
                app.screen.action_fetch()
            await until(pilot, lambda: app.failures_reported == 1)
            assert app.is_running
            assert any(n.message.startswith(f"{label}: PermissionError")
                       for n in app._notifications)
            assert f"{label}: PermissionError" in (paths.config_dir / "narou-tui.log").read_text(
                encoding="utf-8")

    asyncio.run(drive())
