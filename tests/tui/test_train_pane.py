"""Train pane: live run dirs appended by a writer thread, quality and GPU charts, snapshots,
keyboard view switching, read-only mode, layouts at 80×24 / 120×40, the launch form's
always-visible check, and a real `tiny` launch from the form (slow)."""

from __future__ import annotations

import asyncio
import shutil
import subprocess
import sys
import threading
import time

import pytest

from core.data.fields import Record
from core.data.store import fingerprint, write_dataset
from core.paths import REPO_ROOT, Paths
from core.training.config import TrainConfig
from tests.synthetic_run import FakeRun
from tests.terminal_sizes import SIZE_IDS, TERMINAL_SIZES
from tests.tui.gpu_doubles import FIXED_T0, FixedGpu, quick_polls
from tests.until import until
from tui.app import LaunchOptions, NarouApp
from tui.screens.train import TrainScreen
from tui.widgets.launch_form import LaunchForm
from tui.widgets.line_chart import LineChart
from tui.widgets.run_list import RunList
from tui.widgets.run_progress import RunProgress


@pytest.fixture(autouse=True)
def _fast_polls(monkeypatch: pytest.MonkeyPatch) -> None:
    quick_polls(monkeypatch)


def _app(paths: Paths, run: str | None = None, readonly: bool = False) -> NarouApp:
    return NarouApp(paths, LaunchOptions("train", run, readonly))


def test_live_run_appended_by_writer_updates_charts_and_progress(paths: Paths) -> None:
    fr = FakeRun(paths.run("live"), total_steps=2000, eval_every=100, save_every=500,
                 t0=time.time() - 100).create()
    fr.advance(200)
    stop = threading.Event()

    def writer() -> None:
        # 100 lines/s with a torn line left for a moment at every write.
        while not stop.is_set():
            text = fr.lines_for(10)
            cut = len(text) - 15
            fr.append(text[:cut])
            stop.wait(0.05)
            fr.append(text[cut:])
            fr.write_status("running")
            stop.wait(0.05)

    async def run() -> None:
        app = _app(paths)  # no attach: the pane picks the most recent live run itself
        async with app.run_test(size=(140, 45)) as pilot:
            await until(pilot, lambda: app.run_watch is not None
                         and app.run_watch.history.n_train >= 200)
            screen = app.screen
            assert isinstance(screen, TrainScreen)
            loss = screen.query_one("#chart-loss", LineChart)
            draws = loss.draw_count
            th = threading.Thread(target=writer, daemon=True)
            th.start()
            try:
                await until(pilot, lambda: app.run_watch.history.n_train >= 400)
            finally:
                stop.set()
                th.join()
            h = app.run_watch.history
            steps = h.train["step"]
            assert (steps[1:] > steps[:-1]).all()  # torn lines never produced bad rows
            assert h.bad_lines == 0
            # Live data redraws the charts at most every CHART_PERIOD_S: wait for that redraw.
            await until(pilot, lambda: loss.data.series[0].x[-1] >= 400)
            assert loss.draw_count > draws
            info = screen.query_one(RunProgress).info
            assert info.state == "running" and info.step >= 400 and info.total_steps == 2000
            assert info.eta is not None and info.eta.eta_end_s is not None
            assert info.best_eval is not None
            await until(pilot, lambda: "live" in screen.query_one(RunList).describe())

    asyncio.run(run())


def test_a_backward_step_line_keeps_the_history_and_is_reported(paths: Paths) -> None:
    fr = FakeRun(paths.run("damaged"), total_steps=3000, t0=time.time() - 100).create()
    fr.advance(2000)

    async def run() -> None:
        app = _app(paths, "damaged", readonly=True)
        async with app.run_test(size=(120, 40)) as pilot:
            await until(pilot, lambda: app.run_watch is not None
                         and app.run_watch.history.n_train == 2000)
            fr.append('{"t": 1, "step": 5, "loss": 1.0}\n')  # by hand: no resume, no segment
            await until(pilot, lambda: app.run_watch.history.ignored)
            await pilot.pause(0.3)
            assert app.run_watch.history.n_train == 2000
            progress = app.screen.query_one(RunProgress)
            assert progress.info.ignored == ("1 line ignored: step went back without a resume",)
            assert "1 line ignored: step went back without a resume" in str(progress.render())

    asyncio.run(run())


def test_quality_charts_show_chrf_and_distinct_with_the_baseline_and_collapse_alerts(
        paths: Paths) -> None:
    fr = FakeRun(paths.run("quality"), total_steps=1000, eval_every=100,
                 t0=time.time() - 100).create()
    fr.advance(300)

    async def run() -> None:
        app = _app(paths, "quality", readonly=True)
        async with app.run_test(size=(120, 40)) as pilot:
            await until(pilot, lambda: app.run_watch is not None
                         and len(app.run_watch.history.qualities) == 3)
            await pilot.pause(0.3)
            for cid, key in (("chrf", "chrf"), ("distinct", "distinct_1")):
                chart = app.screen.query_one(f"#chart-{cid}", LineChart)
                model, base = chart.data.series
                assert (model.name, base.name) == ("model", "baseline")
                assert model.x.tolist() == [100, 200, 300]
                figures = [q["quality"][key] for q in app.run_watch.history.qualities]
                assert model.y.tolist() == figures
                baseline = app.run_watch.history.qualities[0]["baseline"][key]
                assert set(base.y.tolist()) == {baseline} and base.x[-1] >= 300
            fr.write_records([{"t": fr.now(), "step": 300, "event": "collapse",
                               "reason": "title quality: 1 distinct title for 128 synopses",
                               "title": "同じ題", "segment": 0}])
            want = "Run quality collapsed at step 300: title quality: 1 distinct title for 128 synopses"
            await until(pilot, lambda: any(n.message == want for n in app._notifications))

    asyncio.run(run())


def test_keys_switch_views_axis_smoothing_and_readonly(paths: Paths) -> None:
    fr = FakeRun(paths.run("keys"), total_steps=1000, eval_every=100, t0=time.time() - 99
                 ).create(state="finished")
    fr.advance(300)
    fr.log("エポック 1 開始\nstep 100 loss 3.2")

    async def run() -> None:
        app = _app(paths, "keys", readonly=True)
        async with app.run_test(size=(140, 45)) as pilot:
            await until(pilot, lambda: app.run_watch is not None
                         and app.run_watch.history.n_train == 300)
            screen = app.screen
            assert isinstance(screen, TrainScreen)
            await pilot.press("x")
            assert screen.chart_view.x_mode == "time"
            await pilot.press("right_square_bracket")
            assert app.run_watch.history.smoothing == pytest.approx(0.95)
            await pilot.press("w")
            assert screen.chart_view.window() == 3600.0
            await pilot.press("l")
            await until(pilot, lambda: screen.query_one("#view-log").line_count >= 2)
            await pilot.press("p")
            await until(pilot, lambda: "転生したら最強の村人だった件" in str(
                screen.query_one("#train-probes").render()), what="the probe titles")
            await pilot.press("n")  # read-only: no launch form
            assert screen.view == "probes"
            assert screen.check_action("stop", ()) is False
            assert screen.check_action("next_gpu", ()) is False  # no multi-GPU run here

    asyncio.run(run())


def _snapshot_run(paths: Paths) -> None:
    fr = FakeRun(paths.run("20250615-1200-demo"), total_steps=3000, eval_every=250,
                 save_every=1000, step_s=1.0, t0=FIXED_T0, seed=7).create(state="finished")
    fr.advance(3000)
    fr.append(fr.gpu_lines(FIXED_T0, FIXED_T0 + 3000), "gpu.jsonl")
    fr.write_status("finished", updated_at=FIXED_T0 + 3000)
    fr.log("学習を開始します\nstep 3000 loss 2.03\n学習が終わりました")


@pytest.mark.parametrize("size", TERMINAL_SIZES, ids=SIZE_IDS)
def test_snapshot_train_pane(paths: Paths, snap_compare, monkeypatch: pytest.MonkeyPatch,
                             utc: None, size: tuple[int, int]) -> None:  # type: ignore[no-untyped-def]
    _snapshot_run(paths)
    monkeypatch.setattr(TrainScreen, "clock", staticmethod(lambda: FIXED_T0 + 3600))
    monkeypatch.setattr(NarouApp, "gpu_sampler_factory", FixedGpu)
    app = _app(paths, "20250615-1200-demo")

    async def ready(pilot) -> None:  # type: ignore[no-untyped-def]
        await until(pilot, lambda: app.run_watch is not None
                     and app.run_watch.history.n_train == 3000 and app.gpu_last is not None)
        await until(pilot, lambda: app.screen.query_one(RunList).runs)
        await pilot.pause(0.3)

    assert snap_compare(app, terminal_size=size, run_before=ready)


@pytest.mark.slow
def test_snapshot_probes_view(paths: Paths, snap_compare, monkeypatch: pytest.MonkeyPatch,
                              utc: None) -> None:  # type: ignore[no-untyped-def]
    _snapshot_run(paths)
    monkeypatch.setattr(TrainScreen, "clock", staticmethod(lambda: FIXED_T0 + 3600))
    app = _app(paths, "20250615-1200-demo")

    async def ready(pilot) -> None:  # type: ignore[no-untyped-def]
        await until(pilot, lambda: app.run_watch is not None
                     and app.run_watch.history.n_train == 3000)
        await until(pilot, lambda: app.screen.query_one(RunList).runs)
        await pilot.press("p")
        await pilot.pause(0.3)

    assert snap_compare(app, terminal_size=(140, 45), run_before=ready)


def test_narrow_terminal_gives_the_charts_the_width_and_b_shows_the_runs(paths: Paths) -> None:
    _snapshot_run(paths)

    async def run() -> None:
        app = _app(paths, "20250615-1200-demo")
        async with app.run_test(size=(80, 24)) as pilot:
            await until(pilot, lambda: app.run_watch is not None
                         and app.run_watch.history.n_train == 3000)
            await until(pilot, lambda: app.screen.query_one(RunList).runs)
            await pilot.pause(0.2)
            screen = app.screen
            loss = screen.query_one("#chart-loss", LineChart)
            side = screen.query_one("#train-side")
            assert loss.size.width >= 60, loss.size
            assert not side.display
            # b: the side column over the charts, which keep their width; all run columns show.
            await pilot.press("b")
            await pilot.pause(0.2)
            runs = screen.query_one(RunList)
            assert side.display and side.region.x == 0 and side.region.overlaps(loss.region)
            assert loss.size.width >= 60
            assert runs.virtual_size.width <= runs.size.width, "the run table needs scrolling"
            # Picking a run is what the overlay was opened for: it closes.
            assert runs.has_focus
            await pilot.press("enter")
            await pilot.pause(0.2)
            assert not side.display
            # A wider terminal: the side column is back in the layout; b hides it there too.
            await pilot.resize_terminal(120, 40)
            await pilot.pause(0.3)
            assert side.display and side.region.width > 0
            beside = loss.size.width
            assert side.region.right <= loss.region.x
            await pilot.press("b")
            await pilot.pause(0.2)
            assert not side.display and loss.size.width > beside

    asyncio.run(run())


def _tiny_dataset(paths: Paths) -> None:
    """A built dataset too small to train on: the preflight's answer to it never varies."""
    recs = [Record(f"題名その{i}", f"あらすじその{i}。少年は旅に出る。", f"N{i:04d}AA", "", None, None,
                   f"test:{i}") for i in range(6)]
    splits = {"train": recs[:4], "validation": recs[4:5], "test": recs[5:]}
    write_dataset(paths, "tiny", splits, {"name": "tiny", "fingerprint": fingerprint(splits),
                                          "counts": {k: len(v) for k, v in splits.items()}})


@pytest.mark.parametrize("size", TERMINAL_SIZES, ids=SIZE_IDS)
def test_snapshot_launch_form_with_preflight(paths: Paths, snap_compare, size: tuple[int, int]
                                             ) -> None:  # type: ignore[no-untyped-def]
    _tiny_dataset(paths)
    app = _app(paths)

    async def checked(pilot) -> None:  # type: ignore[no-untyped-def]
        await pilot.press("n")
        findings = app.screen.query_one("#launch-findings")
        await until(pilot, lambda: "training pairs" in str(findings.render()))
        await pilot.pause(0.2)

    assert snap_compare(app, terminal_size=size, run_before=checked)


@pytest.mark.parametrize("size", [(80, 24), (120, 40)], ids=["80x24", "120x40"])
def test_launch_check_result_is_on_screen_and_follows_the_fields(paths: Paths,
                                                                  size: tuple[int, int]) -> None:
    _tiny_dataset(paths)

    async def run() -> None:
        app = _app(paths)
        async with app.run_test(size=size) as pilot:
            await pilot.press("n")
            screen = app.screen
            findings = screen.query_one("#launch-findings")
            # Opening the form runs the preflight: no ctrl+t needed.
            await until(pilot, lambda: "dataset 'tiny' has only 4 training pairs"
                         in str(findings.render()))
            above_footer = screen.query_one("Footer").region.y
            for wid in ("#launch-check", "#launch-go", "#launch-findings", "#launch-command"):
                region = screen.query_one(wid).region
                assert region.height > 0 and region.x >= 0 and region.right <= size[0], wid
                assert region.y >= 1 and region.bottom <= above_footer, (wid, region)
            # A typed field: after the debounce the result names it, still without ctrl+t.
            screen.query_one("#f-max_steps").value = "abc"
            await until(pilot, lambda: "max steps: 'abc' is not a valid int"
                         in str(findings.render()))
            screen.query_one("#f-max_steps").value = ""
            await until(pilot, lambda: "training pairs" in str(findings.render()))
            assert "narou-tui train --dataset tiny --scratch tiny" in \
                str(screen.query_one("#launch-command").render())

    asyncio.run(run())


def test_launch_form_builds_the_seed_recipe(paths: Paths) -> None:
    _tiny_dataset(paths)

    async def run() -> None:
        app = _app(paths)
        async with app.run_test(size=(80, 24)) as pilot:
            await pilot.press("n")
            form = app.screen.query_one(LaunchForm)
            assert form.config().to_json() == \
                TrainConfig(dataset="tiny", scratch="tiny").to_json()
            # Folded fields still count.
            form.query_one("#f-seed").value = "7"
            assert form.config().seed == 7

    asyncio.run(run())


@pytest.mark.slow
def test_launch_tiny_run_from_form_reaches_finished(paths: Paths) -> None:
    try:
        from core.training.launch import launch  # noqa: F401
    except ImportError as exc:
        pytest.skip(f"core.training.launch not available yet: {exc}")
    sample = REPO_ROOT / "datasets" / "sample" / "sample.jsonl"
    if not sample.exists():
        pytest.skip(f"bundled sample data missing: {sample}")
    src = paths.datasets_dir.parent / "sample.jsonl"
    shutil.copy(sample, src)
    out = subprocess.run(
        [sys.executable, "-m", "core.cli.main", "--datasets-dir", str(paths.datasets_dir),
         "dataset", "import", str(src), "--name", "sample"],
        capture_output=True, text=True, cwd=REPO_ROOT, timeout=300,
    )
    assert out.returncode == 0, out.stderr

    async def run() -> None:
        app = _app(paths)
        async with app.run_test(size=(140, 45)) as pilot:
            await pilot.pause(0.2)
            screen = app.screen
            assert isinstance(screen, TrainScreen)
            await pilot.press("n")
            form = screen.query_one("#view-launch")
            form.query_one("#f-max_steps").value = "6"
            form.query_one("#f-eval_steps").value = "3"
            form.query_one("#f-save_steps").value = "3"
            form.query_one("#f-log_steps").value = "1"
            form.query_one("#f-epochs").value = "1"
            await pilot.pause(0.2)
            assert "narou-tui train" in str(form.query_one("#launch-command").render())
            await pilot.press("ctrl+s")
            await until(pilot, lambda: app.run_watch is not None, timeout=120)
            assert screen.view == "charts"
            await until(pilot, lambda: app.run_watch.status is not None
                         and app.run_watch.status.state in ("finished", "failed", "died"),
                         timeout=240)
            watch = app.run_watch
            assert watch.status.state == "finished", "\n".join(watch.log_tail[-30:])
            await until(pilot, lambda: watch.history.n_train >= 1)

    asyncio.run(run())
