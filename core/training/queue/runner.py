"""Starting queued runs: `start_head` (one attempt, under the queue lock) and the detached
runner, `python -m core.training.queue.runner CHECKPOINTS_DIR`, that repeats it until the queue is empty.

At most one runner lives per checkpoints folder (it holds `.queue/runner.lock`). Nothing has to
keep it alive by hand: queueing a run, every `narou-tui queue`/`runs`, the TUI's run list and
every job's exit path call `ensure_runner`, which starts one when the queue holds runs and none
is alive (after a reboot or a SIGKILL of the runner, the next of these calls restarts it).
"""

from __future__ import annotations

import fcntl
import os
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from core.paths import REPO_ROOT, Paths
from core.runs.schema import RunState
from core.training.queue import devices as dev
from core.training.queue.devices import queue_root
from core.training.queue.store import QueuedRun, end_queued, has_queue, queue_lock, reconcile

if TYPE_CHECKING:
    from core.training.queue.estimate import QueueRow

RUNNER_LOCK = "runner.lock"
RUNNER_LOG = "runner.log"
# How often a waiting runner probes the head's devices: a dead job's flock is gone at once,
# so the next run starts within this of the previous job's end, whoever ended it.
POLL_S = 1.0


@dataclass
class Attempt:
    """What one `start_head` did: the run it started, why the head waits, runs it failed."""

    started: str | None = None
    waiting: str | None = None
    failed: list[tuple[str, str]] = field(default_factory=list)


def _run_paths(checkpoints_dir: Path, config: dict[str, Any]) -> Paths:
    folders = config.get("paths") if isinstance(config.get("paths"), dict) else {}
    ds = folders.get("datasets_dir") or str(REPO_ROOT / "datasets")
    return Paths(Path(ds), checkpoints_dir, Path(folders.get("config_dir") or checkpoints_dir))


def cannot_start(checkpoints_dir: Path, entry: QueuedRun) -> str | None:
    """Why a queued run can never start as it is (checked at its turn), or None."""
    from core.training.config import TrainConfig
    from core.training.preflight import check_dataset

    try:
        cfg = TrainConfig.from_frozen(entry.train, source="config.json")
        cfg.validate()
    except Exception as exc:  # ConfigError / a damaged table
        return f"config.json is damaged or invalid ({exc}); checked when its turn came in the queue"
    findings, _meta = check_dataset(_run_paths(checkpoints_dir, entry.config), cfg)
    errors = [f.message for f in findings if f.level == "error"]
    if errors:
        return "; ".join(errors) + " (checked when its turn came in the queue)"
    return None


def memory_wait(entry: QueuedRun, devices: list[str]) -> str | None:
    """Why --wait-free-mib holds the run back (NVML shows more used on one of its GPUs)."""
    if entry.wait_free_mib is None or devices == ["cpu"]:
        return None
    from core.telemetry.nvml import NvmlSampler

    sampler = NvmlSampler()
    if not sampler.available:
        return None  # nothing to measure: the device locks alone decide
    used = {f"gpu{s.index}": s.mem_used_mib for s in sampler.sample()}
    for d in devices:
        mib = used.get(d)
        if mib is not None and mib >= entry.wait_free_mib:
            return f"{d} has {mib:,.0f} MiB in use (waits for < {entry.wait_free_mib:,.0f} MiB)"
    return None


def start_head(checkpoints_dir: Path) -> Attempt:
    """Start the first queued run if its devices are free. Under the queue lock, so two racing
    callers cannot both start it; a run that can never start fails and the next one is tried."""
    from core.training.config import TrainConfig
    from core.training.launch import _start

    out = Attempt()
    with queue_lock(checkpoints_dir):
        for entry in reconcile(checkpoints_dir):
            run_dir = checkpoints_dir / entry.run_id
            devices = dev.devices_for(entry.train)
            out.waiting = memory_wait(entry, devices)
            if out.waiting is not None:
                break
            fds = dev.claim(checkpoints_dir, devices)
            if fds is None:
                out.waiting = f"{', '.join(devices)} in use by another narou-tui run"
                break
            try:
                # Checked only now, when it could start: a dataset restored meanwhile is fine.
                problem = cannot_start(checkpoints_dir, entry)
                if problem is not None:
                    end_queued(run_dir, RunState.FAILED, problem)
                    out.failed.append((entry.run_id, problem))
                    continue
                # The job's "starting" status replaces "queued" before the lock is let go, so
                # the reconcile below drops it from the order: it is never started twice.
                try:
                    _start(run_dir, TrainConfig.from_frozen(entry.train), foreground=False,
                           resume=False, keep_fds=tuple(fds))
                except OSError as exc:  # no process could be made (fork, log file): say so, go on
                    why = f"the queue could not start its job ({exc})"
                    end_queued(run_dir, RunState.FAILED, why)
                    out.failed.append((entry.run_id, why))
                    continue
            finally:
                dev.release(fds)
            out.started = entry.run_id
            break
        reconcile(checkpoints_dir)
    return out


def _take(path: Path) -> int | None:
    fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        os.close(fd)
        return None
    return fd


def runner_alive(checkpoints_dir: Path) -> bool:
    path = queue_root(checkpoints_dir) / RUNNER_LOCK
    if not path.exists():
        return False
    fd = _take(path)
    if fd is None:
        return True
    os.close(fd)
    return False


def ensure_runner(checkpoints_dir: Path) -> bool:
    """Start a detached runner when runs are queued and none is alive; True when one was started."""
    checkpoints_dir = Path(checkpoints_dir)
    if not has_queue(checkpoints_dir):
        return False
    with queue_lock(checkpoints_dir):
        if not reconcile(checkpoints_dir):
            return False
    if runner_alive(checkpoints_dir):
        return False
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO_ROOT), env.get("PYTHONPATH")]))
    with open(queue_root(checkpoints_dir) / RUNNER_LOG, "ab") as log:
        subprocess.Popen([sys.executable, "-m", "core.training.queue.runner", str(checkpoints_dir)],
                         cwd=REPO_ROOT, env=env, stdin=subprocess.DEVNULL, stdout=log,
                         stderr=subprocess.STDOUT, start_new_session=True, close_fds=True)
    return True


def queue_snapshot(checkpoints_dir: Path) -> tuple[list[QueueRow], bool]:
    """The queue's rows, after starting its runner if runs wait and none is alive (True: one
    was started). A folder that does not exist yet holds no queue."""
    from core.training.queue.estimate import queue_rows

    if not checkpoints_dir.is_dir():
        return [], False
    started = ensure_runner(checkpoints_dir)
    return queue_rows(checkpoints_dir), started


def job_holds_devices(run_dir: Path, train: dict[str, Any]) -> tuple[list[str], list[int]]:
    """(device names, lock fds) a job holds for its life, so the queue waits for it."""
    devices = dev.devices_for(train)
    return devices, dev.hold(Path(run_dir).parent, devices)


def job_hands_over(run_dir: Path, fds: list[int], wake: bool = True) -> None:
    """A job's exit path: let go of its devices and (`wake`) make sure a runner starts the next
    run (not when the job is about to relaunch itself after an OOM)."""
    dev.release(fds)
    if not wake:
        return
    try:
        ensure_runner(Path(run_dir).parent)
    except OSError as exc:  # a read-only or full disk must not turn a finished run into a crash
        print(f"narou-tui job: could not wake the queue runner ({exc})", file=sys.stderr, flush=True)


def _reap() -> None:
    # The runner is the parent of every job it starts: collect their exit statuses.
    while True:
        try:
            pid, _ = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return
        if pid == 0:
            return


def _say(msg: str) -> None:
    print(f"[{time.strftime('%Y-%m-%d %H:%M:%S')}] runner {os.getpid()}: {msg}", flush=True)


def run_runner(checkpoints_dir: Path, poll_s: float = POLL_S) -> int:
    """Start queued runs one after another until the queue is empty (exit 0), or leave at once
    when another runner holds the folder."""
    checkpoints_dir = Path(checkpoints_dir).resolve()
    queue_root(checkpoints_dir).mkdir(parents=True, exist_ok=True)
    fd = _take(queue_root(checkpoints_dir) / RUNNER_LOCK)
    if fd is None:
        return 0
    os.ftruncate(fd, 0)
    os.write(fd, f"{os.getpid()}\n".encode())
    _say("watching the queue")
    waiting = None
    try:
        while True:
            with queue_lock(checkpoints_dir):
                if not reconcile(checkpoints_dir):
                    # Let go of the runner lock while still holding the queue lock: a run queued
                    # right after this sees no runner and starts a new one.
                    os.close(fd)
                    fd = -1
                    _say("queue empty, leaving")
                    return 0
            attempt = start_head(checkpoints_dir)
            for run_id, why in attempt.failed:
                _say(f"{run_id} failed at its turn: {why}")
            if attempt.started:
                _say(f"started {attempt.started}")
            if attempt.waiting != waiting and attempt.waiting:
                _say(f"head waits: {attempt.waiting}")
            waiting = attempt.waiting
            _reap()
            time.sleep(poll_s)
    finally:
        if fd >= 0:
            os.close(fd)


if __name__ == "__main__":
    sys.exit(run_runner(Path(sys.argv[1])))
