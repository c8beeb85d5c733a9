"""Train pane watching a run: a SIGKILLed job seen as died, NaN and finish alerts, and a
multi-GPU run charted one card at a time."""

from __future__ import annotations

import asyncio
import subprocess
import sys
import time

import numpy as np
import pytest

from core.paths import Paths
from tests.synthetic_run import FakeRun
from tests.tui.gpu_doubles import FIXED_T0, quick_polls
from tests.until import until
from tui.app import LaunchOptions, NarouApp
from tui.screens.train import TrainScreen
from tui.widgets.line_chart import LineChart
from tui.widgets.run_progress import RunProgress


@pytest.fixture(autouse=True)
def _fast_polls(monkeypatch: pytest.MonkeyPatch) -> None:
    quick_polls(monkeypatch)


def _app(paths: Paths, run: str, readonly: bool = False) -> NarouApp:
    return NarouApp(paths, LaunchOptions("train", run, readonly))


def _ringing_app(paths: Paths, run: str) -> tuple[NarouApp, list[int]]:
    """The app on `run`, with every terminal bell it rings counted."""
    app, bells = _app(paths, run), []
    app.bell = lambda: bells.append(1)  # type: ignore[method-assign]
    return app, bells


def test_died_run_detected_and_alerted(paths: Paths) -> None:
    fr = FakeRun(paths.run("dies"), total_steps=1000, t0=time.time() - 60).create()
    fr.advance(50)
    proc = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    fr.write_status("running", pid=proc.pid)

    async def run() -> None:
        app, bells = _ringing_app(paths, "dies")
        async with app.run_test(size=(140, 45)) as pilot:
            await until(pilot, lambda: app.run_watch is not None and app.run_watch.polls >= 1)
            assert app.run_watch.status.state == "running"
            proc.kill()  # the job is SIGKILLed: no final status is ever written
            proc.wait()
            await until(pilot, lambda: app.run_watch.status.state == "died")
            await until(pilot, lambda: bells)
            assert any("died" in n.message for n in app._notifications)
            assert app.screen.query_one(RunProgress).info.state == "died"

    try:
        asyncio.run(run())
    finally:
        proc.kill()


def test_alerts_on_nan_and_finish(paths: Paths) -> None:
    # Line times end "now": an old last line on a running run would (rightly) be a stall.
    fr = FakeRun(paths.run("nan"), total_steps=300, step_s=0.2, t0=time.time() - 20).create()
    fr.advance(100)

    async def run() -> None:
        app, bells = _ringing_app(paths, "nan")
        async with app.run_test(size=(140, 45)) as pilot:
            await until(pilot, lambda: app.run_watch is not None and app.run_watch.polls >= 1)
            assert bells == []  # attaching is silent
            fr.advance(50, nan_at=120)
            await until(pilot, lambda: len(bells) == 1)
            assert any("NaN" in n.message for n in app._notifications)
            fr.advance(150)
            fr.write_status("finished")
            await until(pilot, lambda: len(bells) == 2)
            assert any("finished" in n.message for n in app._notifications)

    asyncio.run(run())


def test_multi_gpu_run_charts_one_card_at_a_time(paths: Paths) -> None:
    fr = FakeRun(paths.run("ddp"), total_steps=600, eval_every=100, t0=FIXED_T0,
                 step_s=1.0).create(state="finished")
    fr.advance(600)
    fr.append(fr.gpu_lines(FIXED_T0, FIXED_T0 + 600, gpus=3), "gpu.jsonl")

    def used_gib(screen: TrainScreen) -> float:
        series = screen.query_one("#chart-gpu-mem", LineChart).data.series
        return float(np.nanmedian(series[0].y))

    async def run() -> None:
        app = _app(paths, "ddp", readonly=True)
        async with app.run_test(size=(140, 45)) as pilot:
            await until(pilot, lambda: app.run_watch is not None
                         and app.run_watch.history.n_train == 600
                         and len(app.run_watch.history.gpu_indices) == 3)
            screen = app.screen
            assert isinstance(screen, TrainScreen)
            await until(pilot, lambda: screen.query_one("#chart-gpu-mem", LineChart).data.series)
            assert screen.check_action("next_gpu", ()) is True

            def shown_gpu() -> int | None:
                return screen.chart_view.shown_gpu(app.run_watch.history)

            shown = []
            for _ in range(4):
                await until(pilot, lambda: str(screen.query_one("#chart-status").render()).startswith(
                    f"GPU charts: card {shown_gpu()} of 3 (d: next)"))
                shown.append((shown_gpu(), round(used_gib(screen))))
                await pilot.press("d")
            # Cards 0, 1, 2 and back to 0; each chart is that card's memory (6 GiB apart).
            assert [c for c, _ in shown] == [0, 1, 2, 0]
            assert [g for _, g in shown] == [60, 54, 48, 60]

    asyncio.run(run())
