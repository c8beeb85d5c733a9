"""Train pane and the queue: the queue list below the runs, its keys, the form's Queue button,
and the reason an early-stopped run ended."""

from __future__ import annotations

import asyncio
import os
import shutil
import time
from collections.abc import Iterator

import pytest

from core.durable import atomic_write_json
from core.paths import Paths
from core.runs.reader import read_status
from core.training.queue.runner import RUNNER_LOCK, _take
from core.training.queue.store import enqueue, queue_lock, queue_tables, reconcile
from tests.core.train_helpers import shared_root
from tests.synthetic_run import FakeRun
from tests.tui.gpu_doubles import quick_polls
from tests.until import until
from tui.app import LaunchOptions, NarouApp
from tui.screens.train import TrainScreen
from tui.widgets.queue_list import QueueList
from tui.widgets.run_progress import RunProgress


@pytest.fixture(autouse=True)
def _fast(monkeypatch: pytest.MonkeyPatch) -> None:
    quick_polls(monkeypatch)
    monkeypatch.setattr("tui.screens.train.RUN_LIST_S", 0.3)


@pytest.fixture
def no_runner(paths: Paths) -> Iterator[None]:
    """Hold the runner lock: the pane may list and reorder the queue, but nothing starts."""
    (paths.checkpoints_dir / ".queue").mkdir()
    fd = _take(paths.checkpoints_dir / ".queue" / RUNNER_LOCK)
    yield
    assert fd is not None
    os.close(fd)


def _order(paths: Paths) -> list[str]:
    with queue_lock(paths.checkpoints_dir):
        return [q.run_id for q in reconcile(paths.checkpoints_dir)]


def _queued(paths: Paths, run_id: str, at: float) -> None:
    d = paths.run(run_id)
    d.mkdir()
    tables = queue_tables()
    tables["queue"]["queued_at"] = at
    atomic_write_json(d / "config.json", {"train": {"dataset": "sample", "scratch": "tiny",
                                                    "device": "cpu"}, **tables})
    enqueue(paths, run_id)


def test_queue_list_reorders_and_unqueues_with_keys(paths: Paths, no_runner: None) -> None:
    for i, name in enumerate(("qa", "qb", "qc")):
        _queued(paths, name, float(i))

    async def run() -> None:
        app = NarouApp(paths, LaunchOptions("train", None, False))
        async with app.run_test(size=(140, 45)) as pilot:
            screen = app.screen
            assert isinstance(screen, TrainScreen)
            ql = screen.query_one(QueueList)
            await until(pilot, lambda: [r.run_id for r in ql.queued] == ["qa", "qb", "qc"])
            ql.focus()
            await pilot.press("shift+down")  # qa one place later
            await until(pilot, lambda: _order(paths) == ["qb", "qa", "qc"])
            await until(pilot, lambda: [r.run_id for r in ql.queued] == ["qb", "qa", "qc"])
            assert ql.selected_run == "qa"  # the cursor follows the moved run
            await pilot.press("delete")
            await until(pilot, lambda: _order(paths) == ["qb", "qc"])
            st = read_status(paths.run("qa"))
            assert st is not None and st.state == "stopped"
            await until(pilot, lambda: [r.position for r in ql.queued] == [1, 2])

    asyncio.run(run())


def test_the_form_queues_a_run_instead_of_launching_it(paths: Paths, no_runner: None) -> None:
    shutil.copytree(shared_root() / "datasets" / "sample", paths.datasets_dir / "sample")

    async def run() -> None:
        app = NarouApp(paths, LaunchOptions("train", None, False))
        async with app.run_test(size=(140, 45)) as pilot:
            screen = app.screen
            await pilot.press("n")
            form = screen.query_one("#view-launch")
            form.query_one("#f-max_steps").value = "6"
            form.query_one("#f-run_name").value = "from-form"
            await pilot.pause(0.2)
            # As from the keyboard: Tab reaches the button, enter presses it.
            form.query_one("#launch-queue").focus()
            await pilot.press("enter")
            await until(pilot, lambda: len(_order(paths)) == 1, timeout=120)
            run_id = _order(paths)[0]
            assert run_id.endswith("-from-form")
            st = read_status(paths.run(run_id))
            assert st is not None and st.state == "queued" and st.pid is None
            await until(pilot, lambda: [r.run_id for r in screen.query_one(QueueList).queued] == [run_id])

    asyncio.run(run())


def test_an_early_stopped_run_says_why_it_ended(paths: Paths) -> None:
    fr = FakeRun(paths.run("stopped-early"), total_steps=100, eval_every=10, save_every=50,
                 t0=time.time() - 60).create()
    fr.advance(40)
    reason = "early stop: eval_loss has not improved for 2 evaluations (best 2.1000 at step 20)"
    fr.write_status("finished", exit_reason=reason)

    async def run() -> None:
        app = NarouApp(paths, LaunchOptions("train", "stopped-early", False))
        async with app.run_test(size=(140, 45)) as pilot:
            progress = app.screen.query_one(RunProgress)
            await until(pilot, lambda: reason in str(progress.render()))

    asyncio.run(run())
