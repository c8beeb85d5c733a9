"""The queue under real faults: SIGKILL of the running job, of the runner, two racing starters,
a queued run whose dataset was deleted, and an early-stopped run handing over its device."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from core.cli.main import main as cli_main
from core.paths import REPO_ROOT, Paths
from core.runs.owner import running_argv
from core.runs.reader import pid_alive, read_status
from core.training.faults import STEP_SLEEP_ENV
from core.training.launch import launch
from core.training.queue.runner import RUNNER_LOCK, _take, runner_alive
from core.training.queue.store import queue_tables
from core.training.stop import stop_run
from tests.core.train_helpers import read_metrics, set_env, shared_root, tiny_config, wait_for

JOB_S = 180  # a tiny job's start on a busy 2-core machine takes tens of seconds


def _runner_pid(root: Path) -> int | None:
    text = (root / ".queue" / RUNNER_LOCK).read_text().strip() if (root / ".queue" / RUNNER_LOCK).exists() else ""
    return int(text) if text.isdigit() and runner_alive(root) else None


@pytest.fixture
def qpaths(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    """Private datasets (one may be deleted) and checkpoints; kills whatever a test left alive."""
    set_env(monkeypatch)
    src = shared_root() / "datasets" / "sample"
    p = Paths(tmp_path / "datasets", tmp_path / "checkpoints", tmp_path / "config")
    shutil.copytree(src, p.datasets_dir / "sample")
    p.checkpoints_dir.mkdir()
    yield p
    pid = _runner_pid(p.checkpoints_dir)
    argv = running_argv(pid) if pid else None
    if pid and argv and "core.training.queue.runner" in argv:
        os.kill(pid, signal.SIGKILL)
    for d in p.checkpoints_dir.iterdir():
        st = read_status(d) if not d.name.startswith(".") else None
        if st and st.pid and pid_alive(st.pid) and st.state in ("starting", "running", "stopping"):
            os.kill(st.pid, signal.SIGKILL)


def _queue(p: Paths, **kw: object) -> str:
    return launch(p, tiny_config(max_source_len=128, eval_samples=16, probe_size=1, **kw), queue=queue_tables())


def _state(p: Paths, run_id: str) -> str:
    st = read_status(p.run(run_id))
    return st.state if st else "none"


def _running(p: Paths, run_id: str) -> int:
    st = read_status(p.run(run_id))
    return st.pid if st and st.state == "running" and st.step >= 1 and st.pid else 0


def _job(p: Paths, run_id: str) -> int:
    """The pid of the run's live training job (a real process, maybe still importing torch)."""
    st = read_status(p.run(run_id))
    argv = running_argv(st.pid) if st and st.state in ("starting", "running") else None
    return st.pid if st and argv and "core.training.job" in argv and str(p.run(run_id)) in argv else 0


def test_sigkill_of_the_job_starts_the_next_a_missing_dataset_fails_and_early_stop_hands_over(
        qpaths: Paths, monkeypatch: pytest.MonkeyPatch, capsys) -> None:
    monkeypatch.setenv(STEP_SLEEP_ENV, "0.2")
    shutil.copytree(qpaths.dataset("sample"), qpaths.datasets_dir / "doomed")
    first = _queue(qpaths, max_steps=300)
    doomed = _queue(qpaths, dataset="doomed", max_steps=300)
    # lr ≈ 0: eval loss cannot improve by 0.05, so the second evaluation ends the run.
    early = _queue(qpaths, max_steps=30, eval_steps=1, save_steps=30, lr=1e-9, early_stop=1,
                   early_stop_min_delta=0.05)
    shutil.rmtree(qpaths.datasets_dir / "doomed")
    pid = wait_for(lambda: _job(qpaths, first), JOB_S, "the first queued run's job")
    assert cli_main(["queue", "--checkpoints-dir", str(qpaths.checkpoints_dir)]) == 0
    listing = capsys.readouterr().out
    assert f"  1 {doomed}" in listing and f"  2 {early}" in listing and f"the end of cpu ({first})" in listing
    killed_at = time.time()
    os.kill(pid, signal.SIGKILL)
    end = wait_for(lambda: (st := read_status(qpaths.run(early))) and st.state == "finished" and st,
                   JOB_S, "the early-stopped run to finish")
    assert _state(qpaths, first) == "died"
    st = read_status(qpaths.run(doomed))
    assert st is not None and st.state == "failed" and st.pid is None
    assert "dataset 'doomed'" in (st.exit_reason or "") and "checked when its turn came" in (st.exit_reason or "")
    assert end.started_at > killed_at and end.exit_reason.startswith("early stop: eval_loss has not improved")
    events = [m for m in read_metrics(qpaths.run(early)) if m.get("event") == "early_stopped"]
    assert len(events) == 1 and events[0]["step"] == 2
    assert end.last_complete_checkpoint == "checkpoint-2" and end.step == 2  # saved before ending
    # The queue is empty and its runner leaves by itself.
    wait_for(lambda: not runner_alive(qpaths.checkpoints_dir), 30, "the runner to leave")


_RACER = """
import json, sys, time
from pathlib import Path
from core.training.queue.runner import start_head
go = float(sys.argv[2])
time.sleep(max(0.0, go - time.time()))
a = start_head(Path(sys.argv[1]))
print(json.dumps({"started": a.started, "waiting": a.waiting}), flush=True)
"""


def test_two_racing_starters_start_the_head_once(qpaths: Paths, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(STEP_SLEEP_ENV, "0.2")
    root = qpaths.checkpoints_dir
    (root / ".queue").mkdir()
    # Hold the runner lock: only the two racers below may start anything.
    hold = _take(root / ".queue" / RUNNER_LOCK)
    try:
        first, second = _queue(qpaths, max_steps=300), _queue(qpaths, max_steps=300)
        env = dict(os.environ, PYTHONPATH=str(REPO_ROOT))
        go = str(time.time() + 2.0)
        racers = [subprocess.Popen([sys.executable, "-c", _RACER, str(root), go], stdout=subprocess.PIPE,
                                   env=env) for _ in range(2)]
        results = [json.loads(r.communicate(timeout=60)[0]) for r in racers]
        assert sorted(r["started"] or "" for r in results) == ["", first]
        loser = next(r for r in results if not r["started"])
        assert loser["waiting"] == "cpu in use by another narou-tui run"
        assert _state(qpaths, second) == "queued"
        assert _job(qpaths, first)
    finally:
        os.close(hold)


def test_sigkill_of_the_runner_the_job_exit_path_and_the_next_command_restart_it(
        qpaths: Paths, monkeypatch: pytest.MonkeyPatch, capsys) -> None:
    monkeypatch.setenv(STEP_SLEEP_ENV, "0.2")
    root = qpaths.checkpoints_dir
    first, second, third = (_queue(qpaths, max_steps=300) for _ in range(3))
    wait_for(lambda: _running(qpaths, first), JOB_S, "the first queued run to train")
    runner = _runner_pid(root)
    assert runner is not None
    os.kill(runner, signal.SIGKILL)
    wait_for(lambda: not runner_alive(root), 10, "the runner's lock to be dropped")
    # The job's own exit path (here a stop on request) wakes a new runner: the next run starts.
    stop_run(qpaths, first, wait=True, timeout=60)
    pid = wait_for(lambda: _job(qpaths, second), JOB_S, "the second run to start after the first's exit")
    # Now kill both the runner and the job: no exit path runs, nothing starts the third...
    os.kill(_runner_pid(root) or 0, signal.SIGKILL)
    wait_for(lambda: not runner_alive(root), 10, "the runner's lock to be dropped")
    os.kill(pid, signal.SIGKILL)
    time.sleep(3)
    assert _state(qpaths, third) == "queued"
    # ...until any narou-tui command notices (as after a reboot).
    assert cli_main(["queue", "--checkpoints-dir", str(qpaths.checkpoints_dir)]) == 0
    assert "started the queue runner (none was alive)" in capsys.readouterr().out
    wait_for(lambda: _job(qpaths, third), 30, "the third run to start")
