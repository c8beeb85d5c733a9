"""Starting a harvest as a detached process, finding it again, and stopping it."""

from __future__ import annotations

import datetime as dt
import fcntl
import os
import signal
import subprocess
import sys
from dataclasses import dataclass
from typing import Any

from core.durable import atomic_write_json, read_json_object
from core.fetch.store import FetchLayout
from core.paths import REPO_ROOT, Paths
from core.runs.owner import running_argv


def lock_held(layout: FetchLayout) -> bool:
    """True while a fetch process holds the harvest's lock (dead processes hold nothing)."""
    try:
        fh = open(layout.lock, "rb")  # noqa: SIM115 - closed below
    except FileNotFoundError:
        return False
    try:
        fcntl.flock(fh, fcntl.LOCK_SH | fcntl.LOCK_NB)
    except BlockingIOError:
        return True
    finally:
        fh.close()  # closing drops a lock we may have taken
    return False


@dataclass
class FetchSnapshot:
    """What a watcher sees of one harvest at one moment."""

    name: str
    running: bool
    pid: int | None
    state: dict[str, Any] | None
    records_bytes: int
    log_tail: str


def snapshot(paths: Paths, name: str, log_bytes: int = 2000) -> FetchSnapshot:
    """Read the harvest's files without disturbing it (no lock is kept)."""
    layout = FetchLayout.of(paths, name)
    state = read_json_object(layout.state)
    job = read_json_object(layout.job) or {}
    running = lock_held(layout)
    pid = (state or {}).get("pid") if running else None
    if not running and _launched_process_alive(job):
        # Launched but not yet holding the lock (interpreter start-up), or shutting down.
        running, pid = True, int(job["pid"])
    try:
        size = layout.records.stat().st_size
    except OSError:
        size = 0
    tail = ""
    try:
        with open(layout.log, "rb") as fh:
            fh.seek(0, os.SEEK_END)
            fh.seek(max(0, fh.tell() - log_bytes))
            tail = fh.read().decode("utf-8", "replace")
    except OSError:
        pass
    return FetchSnapshot(name, running, pid, state, size, tail)


def _launched_process_alive(job: dict[str, Any]) -> bool:
    """Whether the process job.json names still runs that argv (a reused pid does not)."""
    argv = job.get("argv")
    return isinstance(argv, list) and running_argv(job.get("pid")) == argv


def start_detached(paths: Paths, name: str, fetch_args: list[str]) -> subprocess.Popen[bytes]:
    """Run `narou-tui fetch --name NAME *fetch_args` in its own session, logging to fetch.log.

    The child survives the caller quitting (new session, no terminal, stdin from /dev/null).
    The caller should `poll()` the returned Popen now and then so it never lingers as a zombie.
    """
    layout = FetchLayout.of(paths, name)
    layout.folder.mkdir(parents=True, exist_ok=True)
    if lock_held(layout):
        raise RuntimeError(f"harvest {name!r} is already running")
    argv = [
        sys.executable, "-m", "core.cli.main", "--datasets-dir", str(paths.datasets_dir),
        "fetch", "--name", name, *fetch_args,
    ]
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    with open(layout.log, "ab") as log:
        log.write(f"--- {dt.datetime.now().isoformat(timespec='seconds')} {' '.join(argv[1:])}\n".encode())
        log.flush()
        proc = subprocess.Popen(
            argv, cwd=REPO_ROOT, env=env, stdin=subprocess.DEVNULL, stdout=log,
            stderr=subprocess.STDOUT, start_new_session=True,
        )
    atomic_write_json(layout.job, {
        "pid": proc.pid, "argv": argv, "started_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
    })
    return proc


def cancel(paths: Paths, name: str) -> int | None:
    """Ask the running harvest to stop (SIGTERM: it saves state and exits); its pid, or None."""
    snap = snapshot(paths, name)
    if not snap.running or not snap.pid:
        return None
    try:
        os.kill(snap.pid, signal.SIGTERM)
    except ProcessLookupError:
        return None
    return snap.pid
