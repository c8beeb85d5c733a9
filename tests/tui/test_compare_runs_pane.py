"""Train pane comparison: two real tiny runs that differ in lr, marked in the run list, overlay
on shared charts with a table whose only config row is `lr`, the rows `runs compare` prints."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest

from core.paths import Paths
from tests.compare_runs import FIXED_T0, LR_RUNS, STEPS, copy_with_fixed_clock
from tests.core.cli_helpers import run_cli
from tests.tui.gpu_doubles import quick_polls
from tests.until import until
from tui.app import LaunchOptions, NarouApp
from tui.screens.train import TrainScreen
from tui.widgets.line_chart import LineChart
from tui.widgets.run_compare import RunCompare
from tui.widgets.run_list import RunList

NAMES = [name for name, _lr in LR_RUNS]


@pytest.fixture
def pair_paths(paths: Paths, lr_pair: list[Path], monkeypatch: pytest.MonkeyPatch,
               utc: None) -> Paths:
    """The two runs under fixed names, with a fixed clock; the second is the newer, listed first."""
    for i, (run_dir, name) in enumerate(zip(lr_pair, NAMES, strict=True)):
        copy_with_fixed_clock(run_dir, paths.checkpoints_dir / name, FIXED_T0 + 1000.0 * i)
    quick_polls(monkeypatch)
    monkeypatch.setattr(TrainScreen, "clock", staticmethod(lambda: FIXED_T0 + 3600))
    return paths


async def _mark_both(app: NarouApp, pilot) -> RunCompare:  # type: ignore[no-untyped-def]
    """Watch the lr 2e-3 run, mark it (A), then the lr 5e-4 run above it (B)."""
    screen = app.screen
    runs = screen.query_one(RunList)
    await until(pilot, lambda: [r.run_id for r in runs.runs] == NAMES[::-1]
                 and app.run_watch is not None and app.run_watch.history.n_train == STEPS)
    runs.focus()
    runs.move_cursor(row=1, animate=False)
    await pilot.press("m")
    await pilot.press("up")
    await pilot.press("space")
    view = screen.query_one(RunCompare)
    await until(pilot, lambda: view.comparison is not None)
    await pilot.pause(0.2)
    return view


def test_marked_runs_overlay_with_only_lr_differing(pair_paths: Paths) -> None:
    async def run() -> None:
        app = NarouApp(pair_paths, LaunchOptions("train", NAMES[0], True))
        async with app.run_test(size=(120, 40)) as pilot:
            view = await _mark_both(app, pilot)
            screen = app.screen
            assert isinstance(screen, TrainScreen) and screen.view == "compare"
            assert screen.query_one(RunList).marked == NAMES
            cmp = view.comparison
            assert cmp is not None and [r.run_id for r in cmp.runs] == NAMES
            assert list(cmp.differing) == ["lr"]
            loss = screen.query_one("#compare-loss", LineChart)
            assert [s.name for s in loss.data.series] == ["A", "B"]
            assert [s.x[-1] for s in loss.data.series] == [STEPS, STEPS]
            await pilot.press("x")  # samples seen: 8 × 2 per step
            assert view.axis == "samples"
            assert [s.x[-1] for s in loss.data.series] == [STEPS * 16, STEPS * 16]
            await pilot.press("x")  # training hours: the fixed clock logged one step per 10 s
            assert view.axis == "hours" and loss.data.x_format == "hours"
            await pilot.press("x")
            assert view.axis == "step"

            # The CLI prints the same rows for the same runs.
            code, out, err = run_cli(["--checkpoints-dir", str(pair_paths.checkpoints_dir),
                                      "runs", "compare", *NAMES])
            assert code == 0, err
            lines = out.splitlines()
            for label, values in cmp.rows():
                line = next(ln for ln in lines if ln.startswith(label + " "))
                assert line.split() == label.split() + [t for v in values for t in v.split()]

            await pilot.press("m")  # unmark B: one run left, back to the charts
            await until(pilot, lambda: screen.view == "charts")
            assert screen.check_action("view", ("compare",)) is False

            # The leaderboard order: o cycles newest → best chrF → best eval loss.
            runs = screen.query_one(RunList)
            await pilot.press("o", "o")
            assert runs.order == "eval_loss"
            ranked = sorted(cmp.runs, key=lambda r: r.scores.best_eval_loss or 0.0)
            await until(pilot, lambda: [r.run_id for r in runs.runs] == [r.run_id for r in ranked])
            await pilot.press("o")
            await until(pilot, lambda: [r.run_id for r in runs.runs] == NAMES[::-1])

    asyncio.run(run())


def test_snapshot_comparison_view(pair_paths: Paths, snap_compare) -> None:  # type: ignore[no-untyped-def]
    app = NarouApp(pair_paths, LaunchOptions("train", NAMES[0], True))

    async def ready(pilot) -> None:  # type: ignore[no-untyped-def]
        await _mark_both(app, pilot)

    assert snap_compare(app, terminal_size=(120, 40), run_before=ready)


def test_shift_m_marks_a_whole_sweep(pair_paths: Paths) -> None:
    """The two runs as the points of one sweep: M on either marks both, in sweep order."""
    for index, name in enumerate(NAMES):
        config = pair_paths.run(name) / "config.json"
        data = json.loads(config.read_text(encoding="utf-8"))
        data["sweep"] = {"name": "lr-grid", "index": index, "point": {"lr": data["train"]["lr"]}}
        config.write_text(json.dumps(data), encoding="utf-8")

    async def run() -> None:
        app = NarouApp(pair_paths, LaunchOptions("train", NAMES[0], True))
        async with app.run_test(size=(120, 40)) as pilot:
            screen = app.screen
            runs = screen.query_one(RunList)
            await until(pilot, lambda: len(runs.runs) == 2, what="both runs listed")
            runs.focus()
            await pilot.press("M")
            await until(pilot, lambda: screen.view == "compare", what="the compare view")
            assert runs.marked == NAMES
            view = screen.query_one(RunCompare)
            await until(pilot, lambda: view.comparison is not None, what="the comparison")
            assert [r.run_id for r in view.comparison.runs] == NAMES

    asyncio.run(run())
