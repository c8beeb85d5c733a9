"""Stop a running job safely (`narou-tui stop` and the Train pane), and wait for a job to end.

    stop_run(paths, run_id, wait=False, timeout=120.0, on_note=None) -> RunStatus | None
    wait_run(paths, run_id, timeout=600.0) -> RunStatus | None

A signal goes only to a process proven to be the run's job (core.runs.owner): a reused pid
or a job on another host is named and left alone.
"""

from __future__ import annotations

import os
import signal
import time
from collections.abc import Callable
from pathlib import Path

from core.durable import atomic_write_json, read_json
from core.paths import Paths
from core.runs.owner import Owner, check_owner
from core.runs.reader import read_status
from core.runs.schema import STATUS_FILE, RunState, RunStatus
from core.training.launch import LaunchError, poll_children
from core.training.locks import RunLock


def stop_run(paths: Paths, run_id: str, wait: bool = False, timeout: float = 120.0,
             on_note: Callable[[str], None] | None = None) -> RunStatus | None:
    """Ask the job to checkpoint and stop (SIGTERM), after proving its pid is this run's job.

    With `wait`, block until it has stopped; a job still alive `timeout` seconds after SIGTERM
    gets SIGKILL (said through `on_note`) and its status.json then reads "stopped" with why.
    Raises LaunchError, signalling nothing, when the pid is gone, on another host, or a
    different process (a reused pid)."""
    run_dir = paths.run(run_id)
    status = read_status(run_dir)
    if status is None:
        raise LaunchError(f"no run {run_id!r} in {paths.checkpoints_dir}")
    written = status.extra.get("written_state")
    if written is not None and "died_because" in status.extra:
        raise LaunchError(f"run {run_id} says {written!r} but {status.extra['died_because']}; nothing was signalled")
    if status.state == RunState.QUEUED:
        raise LaunchError(f"run {run_id} is queued, not running; take it off the queue with "
                          f"`narou-tui queue remove {run_id}`")
    if not RunState(status.state).live or status.pid is None:
        raise LaunchError(f"run {run_id} is not running (state {status.state})")
    _signal_job(run_id, run_dir, status, signal.SIGTERM)
    if not wait:
        return status
    st = _wait_stopped(run_dir, status, timeout)
    if st is not None:
        return st
    if on_note is not None:
        on_note(f"run {run_id} did not stop within {timeout:.0f} s of SIGTERM; sending SIGKILL to pid {status.pid}")
    _signal_job(run_id, run_dir, status, signal.SIGKILL)
    if _wait_stopped(run_dir, status, KILL_WAIT_S) is None:
        raise LaunchError(f"run {run_id}: pid {status.pid} still alive {KILL_WAIT_S:.0f} s after SIGKILL")
    return _mark_killed(run_dir, f"killed (SIGKILL): still running {timeout:.0f} s after SIGTERM")


KILL_WAIT_S = 10.0


def _signal_job(run_id: str, run_dir: Path, status: RunStatus, sig: signal.Signals) -> None:
    """Send `sig` to the run's job (its process group for SIGKILL, so torchrun's workers go too)
    only when the pid is proven to be that job."""
    owner = check_owner(status, run_dir)
    if owner.owner is not Owner.JOB:
        raise LaunchError(f"run {run_id}: {owner.detail}; nothing was signalled")
    pid = status.pid
    assert pid is not None
    try:
        if sig == signal.SIGKILL and os.getpgid(pid) == pid:
            os.killpg(pid, sig)
        else:
            os.kill(pid, sig)
    except ProcessLookupError as exc:
        raise LaunchError(f"run {run_id}: process {pid} is gone") from exc


def _wait_stopped(run_dir: Path, launched: RunStatus, timeout: float) -> RunStatus | None:
    """The status once the job's process is gone (its final state, or "died" when it could not
    write one); None after `timeout` seconds."""
    deadline = time.time() + timeout
    while True:
        poll_children()
        if check_owner(launched, run_dir).owner is not Owner.JOB:
            return read_status(run_dir) or launched
        if time.time() >= deadline:
            return None
        time.sleep(0.2)


def _mark_killed(run_dir: Path, reason: str) -> RunStatus | None:
    """Record in status.json why the (now dead) job ended: it could not write that itself."""
    with RunLock(run_dir):  # the kernel freed the job's lock when it died; nobody else writes
        data = read_json(run_dir / STATUS_FILE)
        data.update(state=RunState.STOPPED.value, exit_reason=reason, phase=RunState.STOPPED.value,
                    updated_at=time.time())
        atomic_write_json(run_dir / STATUS_FILE, data)
    return read_status(run_dir)


def wait_run(paths: Paths, run_id: str, timeout: float = 600.0) -> RunStatus | None:
    """Block until the run is no longer live (tests and scripts)."""
    run_dir = paths.run(run_id)
    deadline = time.time() + timeout
    while time.time() < deadline:
        poll_children()
        st = read_status(run_dir)
        if st is not None and not RunState(st.state).live and check_owner(st, run_dir).owner is not Owner.JOB:
            return st
        time.sleep(0.2)
    raise LaunchError(f"run {run_id} still live after {timeout:.0f} s")
