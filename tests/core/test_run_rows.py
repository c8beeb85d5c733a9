"""What a pane shows of a run, without a terminal: its latest events, its probe titles per
evaluation, what a train.log tail gained since it was shown, and which run a fresh pane watches."""

from __future__ import annotations

from pathlib import Path

from core.paths import Paths
from core.runs.history import read_history
from core.runs.reader import list_runs, run_to_watch
from core.runs.run_rows import EVENT_LINES, event_rows, probe_blocks, tail_growth
from tests.synthetic_run import FakeRun

T0 = 1_750_000_000.0  # 2025-06-15 15:06:40 UTC


def test_event_rows_keep_the_latest_and_mark_alarms(utc: None) -> None:
    events = [{"t": T0 + i * 60, "step": i, "event": "saved", "checkpoint": f"checkpoint-{i}",
               "segment": 0} for i in range(20)]
    events.append({"t": T0 + 3600, "step": 25, "event": "oom", "peak_gib": 79.5,
                   "phase": "backward", "segment": 1})
    events.append({"event": "resumed"})  # a hand-written line: no time, no step
    rows = event_rows(events)
    assert len(rows) == EVENT_LINES
    assert rows[0].stamp == "06-15 15:16" and rows[0].step == "10"
    assert rows[0].text == "saved checkpoint=checkpoint-10" and not rows[0].alarm
    oom = rows[-2]
    assert (oom.stamp, oom.step, oom.alarm) == ("06-15 16:06", "25", True)
    assert oom.text == "oom peak_gib=79.5 phase=backward"
    assert (rows[-1].stamp, rows[-1].step, rows[-1].text) == ("—", "?", "resumed ")
    assert event_rows([]) == []


def test_probe_blocks_newest_first_with_their_eval_loss(tmp_path: Path) -> None:
    fr = FakeRun(tmp_path / "r", total_steps=1000, eval_every=100).create()
    fr.advance(300)
    fr.write_records([{"t": fr.now(), "step": 350, "segment": 0,
                       "probe": [{"story_id": "n9", "title": "題"}, "not a dict"]}])
    h = read_history(fr.run_dir)
    blocks = probe_blocks(h)
    assert [b.head.split("  ")[0] for b in blocks] == ["step 350", "step 300", "step 200",
                                                      "step 100"]
    assert blocks[0].head == "step 350"  # no evaluation logged at that step
    assert blocks[0].titles == [("n9", "題")]
    loss = next(e["eval_loss"] for e in h.evals if e["step"] == 300)
    assert blocks[1].head == f"step 300  eval loss {loss:.4f}"
    assert [sid for sid, _ in blocks[1].titles] == ["n0000", "n0001"]
    assert len(probe_blocks(h, limit=2)) == 2


def test_tail_growth_appends_only_when_the_tail_moved_on() -> None:
    assert tail_growth(["a", "b"], ["a", "b", "c", "d"]) == ["c", "d"]
    assert tail_growth(["a", "b"], ["a", "b"]) == []
    # The tail scrolled past its start, or another run's log: shown from scratch.
    assert tail_growth(["a", "b"], ["b", "c"]) is None
    assert tail_growth(["a", "b"], ["a"]) is None
    assert tail_growth([], ["a"]) is None


def test_a_fresh_pane_watches_the_newest_live_run_else_the_newest(tmp_path: Path) -> None:
    paths = Paths(tmp_path / "d", tmp_path / "c", tmp_path / "cfg")
    assert run_to_watch(list_runs(paths)) is None
    FakeRun(paths.run("old-live"), t0=T0).create(state="running")
    FakeRun(paths.run("new-done"), t0=T0 + 60).create(state="finished")
    assert run_to_watch(list_runs(paths)) == "old-live"
    FakeRun(paths.run("old-live"), t0=T0).create(state="stopped")
    assert run_to_watch(list_runs(paths)) == "new-done"
