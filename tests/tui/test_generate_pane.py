"""Generate pane: empty state, load + A/B + history + copy, dataset rows, eval, snapshot."""

from __future__ import annotations

import asyncio
import functools
import os
import shutil
from collections.abc import Callable
from pathlib import Path

import pytest

from core.paths import Paths
from tests.generation_tiny import (
    build_collapsed_run,
    sample_pairs,
    write_sample_dataset,
)
from tests.terminal_sizes import SIZE_IDS, TERMINAL_SIZES
from tests.until import until
from tui.app import LaunchOptions, NarouApp

COLLAPSED_TITLE = "竜の卵を拾った"


@pytest.fixture(scope="session")
def collapsed_checkpoint(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_collapsed_run(tmp_path_factory.getbasetemp() / "tiny-gen", COLLAPSED_TITLE)


@pytest.fixture
def gen_paths(paths: Paths, tiny_checkpoint: Path, collapsed_checkpoint: Path) -> Paths:
    for ck in (tiny_checkpoint, collapsed_checkpoint):
        shutil.copytree(ck.parent, paths.checkpoints_dir / ck.parent.name)
    write_sample_dataset(paths.datasets_dir)
    return paths


def sync(fn: Callable[..., object]) -> Callable[..., None]:
    """Run an async Pilot test with asyncio (no async pytest plugin is installed)."""

    @functools.wraps(fn)
    def wrapper(*args: object, **kwargs: object) -> None:
        asyncio.run(fn(*args, **kwargs))  # type: ignore[arg-type]

    return wrapper


def _app(paths: Paths) -> NarouApp:
    return NarouApp(paths, LaunchOptions(initial_pane="generate"))


def _row_of(browser: object, spec: str) -> int:
    return browser.get_row_index(spec)  # type: ignore[attr-defined]


@sync
async def test_empty_state_offers_demo(paths: Paths) -> None:
    app = _app(paths)
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.pause()
        screen = app.screen
        hint = screen.query_one("#empty-hint")
        assert hint.has_class("shown") and "f8" in str(hint.render())
        assert screen.complete_count == 0


@sync
async def test_ab_history_and_copy(gen_paths: Paths) -> None:
    app = _app(gen_paths)
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.pause()
        screen = app.screen
        browser = screen.query_one("#browser")
        browser.focus()
        browser.move_cursor(row=_row_of(browser, "tiny-run/checkpoint-150"))
        await pilot.press("enter")
        await until(pilot, lambda: screen.loaded["A"])
        assert "ready" in str(screen.query_one("#load-status").render())
        browser.move_cursor(row=_row_of(browser, "collapsed/checkpoint-60"))
        await pilot.press("b")
        await until(pilot, lambda: screen.loaded["B"])
        stories = [p["story"] for p in sample_pairs()[:2]]
        screen.query_one("#synopsis").text = stories[0]
        await pilot.press("ctrl+g")
        await until(pilot, lambda: len(screen.history_entries) == 1)
        a, b = screen.query_one("#results-a"), screen.query_one("#results-b")
        assert screen.query_one("#results").has_class("ab") and b.display
        assert a.titles and all(a.titles)
        # B is the planted collapsed model: its one title, whatever the synopsis
        collapsed_b = b.titles[0]
        assert collapsed_b.startswith(COLLAPSED_TITLE[:3])
        first_a = list(a.titles)
        screen.query_one("#synopsis").text = stories[1]
        await pilot.press("ctrl+g")
        await until(pilot, lambda: len(screen.history_entries) == 2)
        assert b.titles[0] == collapsed_b
        history = screen.query_one("#history")
        assert history.option_count == 2
        # recall the older entry: its synopsis and titles come back
        history.focus()
        history.highlighted = 1
        await pilot.press("enter")
        await pilot.pause()
        assert screen.query_one("#synopsis").text == stories[0]
        assert a.titles == first_a
        # copy the highlighted title of A
        a.query_one("OptionList").focus()
        await pilot.press("c")
        assert app.clipboard == first_a[0]
        # drop B: only A generates now
        await pilot.press("f7")
        await pilot.press("ctrl+g")
        await until(pilot, lambda: len(screen.history_entries) == 3)
        assert set(screen.history_entries[0].results) == {"A"}
        assert not screen.query_one("#results").has_class("ab")


@sync
async def test_dataset_row_and_eval(gen_paths: Paths) -> None:
    app = _app(gen_paths)
    app.selected_checkpoint = "tiny-run"  # what the Train pane sets before switching here
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.pause()
        screen = app.screen
        await until(pilot, lambda: screen.loaded["A"])
        await pilot.press("ctrl+n")
        await until(pilot, lambda: screen.reference is not None)
        assert "real title" in str(screen.query_one("#source").render())
        await pilot.press("ctrl+g")
        await until(pilot, lambda: len(screen.history_entries) == 1)
        assert screen.history_entries[0].reference == screen.reference
        assert "real title" in str(screen.query_one("#results-a .results-ref").render())
        await pilot.press("ctrl+e")
        await until(pilot, lambda: "first_n_chars" in str(
            screen.query_one("#eval-table").render()), timeout=120)
        assert (gen_paths.checkpoints_dir / "tiny-run" / "eval"
                / "checkpoint-150-validation.json").is_file()


@sync
async def test_bad_option_is_reported(gen_paths: Paths) -> None:
    app = _app(gen_paths)
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.pause()
        screen = app.screen
        screen.query_one("#opt-num_beams").value = "two"
        screen.specs["A"] = "tiny-run"
        screen.query_one("#synopsis").text = "あらすじ"
        await pilot.press("ctrl+g")
        await pilot.pause()
        assert not screen.history_entries
        assert any("num_beams" in n.message for n in app._notifications)


def _listing_only_runs(root: Path) -> None:
    """Run dirs with fixed contents (nothing here is loaded): a stable browser listing."""
    import json

    from core.runs.schema import COMPLETE_MARKER

    layout = {"narou-base-0412": [(500, True, 2.345), (1000, False, None)],
              "tiny-demo": [(150, True, None)]}
    for run, cks in layout.items():
        (root / run).mkdir(parents=True)
        (root / run / "config.json").write_text(json.dumps({"dataset": {"name": "sample"}}))
        lines = [json.dumps({"t": 0, "step": s, "eval_loss": loss}) for s, _, loss in cks if loss]
        (root / run / "metrics.jsonl").write_text("".join(x + "\n" for x in lines))
        for step, complete, _ in cks:
            ck = root / run / f"checkpoint-{step}"
            ck.mkdir()
            (ck / "model.safetensors").write_bytes(b"\0" * (3 * 2**20 if complete else 2**20))
            if complete:
                (ck / COMPLETE_MARKER).write_text("")
    fixed = 1_790_000_000
    for p in sorted(root.rglob("*")):
        os.utime(p, (fixed, fixed))
    os.utime(root / "narou-base-0412", (fixed + 60, fixed + 60))


@sync
async def test_checkpoint_list_is_an_overlay_at_80x24(paths: Paths) -> None:
    _listing_only_runs(paths.checkpoints_dir)
    app = _app(paths)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        screen = app.screen
        side, synopsis = screen.query_one("#gen-left"), screen.query_one("#synopsis")
        assert not side.display
        wide = synopsis.size.width
        await pilot.press("f2")  # priority: it works while the synopsis has the keyboard
        await pilot.pause()
        assert side.display and side.region.overlaps(synopsis.region)
        assert screen.query_one("#browser").has_focus and synopsis.size.width == wide
        await pilot.press("f2")
        await pilot.pause()
        assert not side.display
        # 120 columns: the list is in the layout, narrower than on a wide screen.
        await pilot.resize_terminal(120, 40)
        await pilot.pause(0.3)
        assert side.display and side.region.right <= synopsis.region.x
        assert side.size.width < 30 < 36 <= synopsis.size.width


@pytest.mark.parametrize("size", TERMINAL_SIZES, ids=SIZE_IDS)
def test_pane_snapshot(paths: Paths, snap_compare: Callable[..., bool], utc: None,
                       size: tuple[int, int]) -> None:
    _listing_only_runs(paths.checkpoints_dir)

    async def type_synopsis(pilot: object) -> None:
        screen = pilot.app.screen  # type: ignore[attr-defined]
        screen.query_one("#synopsis").text = "辺境の村で目覚めた少年は、言葉を話す古い井戸と旅に出る。"
        await pilot.pause()  # type: ignore[attr-defined]

    assert snap_compare(_app(paths), terminal_size=size, run_before=type_synopsis)
