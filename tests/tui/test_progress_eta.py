"""`narou-tui status`, `narou-tui runs` and the Train pane show one ETA for one run."""

from __future__ import annotations

import asyncio
import json
import re

import pytest

from core.cli.main import main
from core.paths import Paths
from core.runs.progress import read_progress
from core.timefmt import format_duration
from tests.synthetic_run import FakeRun
from tests.until import until
from tui.app import LaunchOptions, NarouApp
from tui.widgets.run_progress import RunProgress

ETA = re.compile(r"ETA (\S+)")


def _resumed_run(paths: Paths) -> FakeRun:
    """A live run resumed after an hour's gap at twice the speed: 1,100 steps left at 4 steps/s
    (a rate over the whole run, gap included, would say far more)."""
    fr = FakeRun(paths.run("resumed"), total_steps=2000, eval_every=250, save_every=500,
                 step_s=0.5).create()
    fr.advance(800)
    fr.t0 += 3600.0
    fr.step_s = 0.25
    fr.resume_from(500)
    fr.advance(400)
    fr.write_status("running")
    return fr


def test_status_runs_and_train_pane_show_the_same_eta(
        paths: Paths, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    _resumed_run(paths)
    progress = read_progress(paths.run("resumed"))
    assert progress.eta is not None and progress.eta.eta_end_s == pytest.approx(1100 / 4)
    expected = format_duration(1100 / 4)
    assert expected == "00:04:35"

    assert main(["status", "resumed"]) == 0
    cli_status = ETA.findall(capsys.readouterr().out)
    assert main(["runs"]) == 0
    runs_row = [line for line in capsys.readouterr().out.splitlines() if line.startswith("resumed")]
    assert main(["status", "resumed", "--json"]) == 0
    as_json = json.loads(capsys.readouterr().out)

    monkeypatch.setattr(NarouApp, "RUN_POLL_S", 0.1)
    app = NarouApp(paths, LaunchOptions("train", "resumed", True))
    shown: list[str] = []

    async def run() -> None:
        async with app.run_test(size=(140, 45)) as pilot:
            await until(pilot, lambda: app.run_watch is not None
                        and app.run_watch.history.n_train >= 900, what="the run's history")
            widget = app.screen.query_one(RunProgress)
            await until(pilot, lambda: widget.info.run_id == "resumed", what="the progress block")
            shown.extend(ETA.findall(str(widget.render())))

    asyncio.run(run())
    assert cli_status == [expected]
    assert shown == [expected]
    assert len(runs_row) == 1 and f" {expected} " in runs_row[0]
    assert as_json["eta_s"] == pytest.approx(1100 / 4)
