"""The queue on disk: order, reconcile, move/remove, device flocks across real processes, and
the start estimates `narou-tui queue` prints."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time

import pytest

from core.cli.main import main as cli_main
from core.durable import atomic_write_json
from core.paths import REPO_ROOT, Paths
from core.runs.reader import read_status
from core.training.queue import devices as dev
from core.training.queue.estimate import queue_rows
from core.training.queue.store import (
    QueueError,
    enqueue,
    move,
    queue_lock,
    queue_tables,
    reconcile,
    remove,
)


def _queued(paths: Paths, run_id: str, queued_at: float, **train: object) -> None:
    run_dir = paths.run(run_id)
    run_dir.mkdir(parents=True)
    config = {"run_id": run_id, "train": {"dataset": "sample", "scratch": "tiny", "device": "cpu",
                                          "epochs": 1.0, "batch_size": 8, "grad_accum": 2, **train},
              "dataset": {"name": "sample", "counts": {"train": 160}},
              **queue_tables()}
    config["queue"]["queued_at"] = queued_at
    atomic_write_json(run_dir / "config.json", config)
    enqueue(paths, run_id)


def _order(paths: Paths) -> list[str]:
    with queue_lock(paths.checkpoints_dir):
        return [q.run_id for q in reconcile(paths.checkpoints_dir)]


def test_order_move_remove_and_a_lost_queue_file_rebuilt(paths: Paths, capsys) -> None:
    for i, name in enumerate(("a", "b", "c")):
        _queued(paths, name, 100.0 + i)
    assert _order(paths) == ["a", "b", "c"]
    assert move(paths, "c", 1) == 1
    assert _order(paths) == ["c", "a", "b"]
    assert move(paths, "c", 99) == 3  # clamped to the end
    remove(paths, "a")
    assert _order(paths) == ["b", "c"]
    st = read_status(paths.run("a"))
    assert st is not None and st.state == "stopped" and "removed from the queue" in (st.exit_reason or "")
    with pytest.raises(QueueError, match="run a is not queued \\(state stopped\\)"):
        move(paths, "a", 1)
    # A damaged order file is kept aside and the order rebuilt from the run directories
    # (queued_at order): no queued run is stranded.
    qfile = paths.checkpoints_dir / ".queue" / "queue.json"
    qfile.write_text("{not json", encoding="utf-8")
    assert _order(paths) == ["b", "c"]
    assert list(qfile.parent.glob("queue.json.damaged-*"))
    # The CLI says the same in one line.
    assert cli_main(["queue", "move", "zzz", "--to", "1"]) == 2
    assert "no run 'zzz'" in capsys.readouterr().err
    # `stop` on a run that has not started yet points at the command that drops it.
    assert cli_main(["stop", "b"]) == 2
    assert capsys.readouterr().err.strip() == (
        "narou-tui: run b is queued, not running; take it off the queue with "
        "`narou-tui queue remove b`")
    assert _order(paths) == ["b", "c"]


_HOLDER = """
import sys, time
from pathlib import Path
from core.training.queue import devices
devices.hold(Path(sys.argv[1]), ["cpu"])
print("held", flush=True)
time.sleep(600)
"""


def test_a_device_held_by_a_process_is_free_again_after_its_sigkill(paths: Paths) -> None:
    root = paths.checkpoints_dir
    fds = dev.claim(root, ["cpu"])
    assert fds is not None
    assert dev.claim(root, ["cpu"]) is None  # a second starter sees it busy
    dev.release(fds)
    env = dict(os.environ, PYTHONPATH=str(REPO_ROOT))
    proc = subprocess.Popen([sys.executable, "-c", _HOLDER, str(root)], stdout=subprocess.PIPE, env=env)
    try:
        assert proc.stdout is not None and proc.stdout.readline().strip() == b"held"
        assert dev.busy(root, ["cpu", "gpu0"]) == ["cpu"]
        assert dev.claim(root, ["cpu"]) is None
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait()
    # The kernel dropped the dead holder's flock: no stale lock to clean up.
    fds = dev.claim(root, ["cpu"])
    assert fds is not None
    dev.release(fds)


def test_estimates_follow_the_runs_ahead(paths: Paths) -> None:
    now = time.time()
    # A finished run of the same kind gives the rate: 10 steps of 16 samples in 100 s.
    done = paths.run("done")
    done.mkdir()
    atomic_write_json(done / "config.json", {"train": {"dataset": "sample", "scratch": "tiny",
                                                       "device": "cpu", "batch_size": 8, "grad_accum": 2}})
    atomic_write_json(done / "status.json", {"state": "finished", "step": 10, "started_at": now - 200,
                                             "updated_at": now - 100, "batch_size": 8, "grad_accum": 2,
                                             "world_size": 1})
    _queued(paths, "q1", 1.0)  # 160 pairs / 16 = 10 steps = 100 s
    _queued(paths, "q2", 2.0, max_steps=5)  # 50 s
    rows = queue_rows(paths.checkpoints_dir, now=now)
    assert [(r.position, r.run_id) for r in rows] == [(1, "q1"), (2, "q2")]
    assert rows[0].start_in_s == 0 and rows[0].duration_s == pytest.approx(100)
    assert rows[1].start_in_s == pytest.approx(100) and rows[1].duration_s == pytest.approx(50)
    assert rows[1].waits_for == "position 1 to start"
    # A different model has no reference run: no estimate, said as such.
    _queued(paths, "q3", 3.0, scratch="small")
    assert queue_rows(paths.checkpoints_dir, now=now)[2].duration_s is None


def test_queue_json_lists_positions(paths: Paths, capsys) -> None:
    _queued(paths, "q1", 1.0)
    from core.training.queue.runner import RUNNER_LOCK, _take

    # Hold the runner lock so this test's `queue` call does not start a real runner.
    fd = _take(paths.checkpoints_dir / ".queue" / RUNNER_LOCK)
    try:
        assert cli_main(["queue", "--json"]) == 0
    finally:
        os.close(fd)
    row = json.loads(capsys.readouterr().out.splitlines()[0])
    assert row["position"] == 1 and row["run"] == "q1" and row["devices"] == ["cpu"]
