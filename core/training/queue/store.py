"""The queue on disk: the order of queued runs, changed only under one flock, replaced atomically.

A queued run is a run directory whose status.json says "queued" and whose config.json holds a
`queue` table (options such as wait_free_mib). `.queue/queue.json` only keeps their order. Every
change reads, edits and rewrites that order while holding `.queue/queue.lock`, and every read
reconciles it with the run directories: a queued run missing from the order is appended (the
file was lost or damaged), an entry whose run is no longer queued is dropped. So the run
directories are the truth and the order file can never strand or resurrect a run.
"""

from __future__ import annotations

import fcntl
import json
import os
import shutil
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from core.durable import atomic_write_json, fsync_dir
from core.paths import Paths
from core.runs.reader import read_config, read_status_checked
from core.runs.schema import STATUS_FILE, RunState, RunStatus
from core.training.queue.devices import queue_root

QUEUE_FILE = "queue.json"
QUEUE_LOCK = "queue.lock"


class QueueError(ValueError):
    """A queue command that cannot be done; the message says why."""


@dataclass
class QueuedRun:
    """One queued run, in queue order."""

    run_id: str
    queued_at: float | None
    wait_free_mib: float | None = None
    config: dict[str, Any] = field(default_factory=dict)

    @property
    def train(self) -> dict[str, Any]:
        table = self.config.get("train")
        return table if isinstance(table, dict) else {}


@contextmanager
def queue_lock(checkpoints_dir: Path) -> Iterator[None]:
    """Exclusive flock for a read-modify-write of the queue (the kernel drops it on SIGKILL)."""
    root = queue_root(checkpoints_dir)
    root.mkdir(parents=True, exist_ok=True)
    fd = os.open(root / QUEUE_LOCK, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)


def _read_order(checkpoints_dir: Path) -> list[str]:
    path = queue_root(checkpoints_dir) / QUEUE_FILE
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        order = data["order"]
        if not isinstance(order, list) or not all(isinstance(x, str) for x in order):
            raise ValueError("order is not a list of run ids")
        return order
    except FileNotFoundError:
        return []
    except (ValueError, KeyError, TypeError, OSError):
        # Kept aside, never lost; the run directories rebuild the order.
        shutil.copyfile(path, path.with_name(f"{QUEUE_FILE}.damaged-{time.strftime('%Y%m%d-%H%M%S')}"))
        return []


def write_order(checkpoints_dir: Path, order: list[str]) -> None:
    root = queue_root(checkpoints_dir)
    atomic_write_json(root / QUEUE_FILE, {"schema": 1, "order": order})
    fsync_dir(root)


def queued_state(run_dir: Path) -> bool:
    status, _problem = read_status_checked(run_dir)
    return status is not None and status.state == RunState.QUEUED.value


def has_queue(root: Path) -> bool:
    """Whether `root` has a queue at all (so that reading it may create its lock file): its
    .queue folder, or a queued run left after that folder was deleted."""
    if queue_root(root).is_dir():
        return True
    return root.is_dir() and any(d.is_dir() and not d.name.startswith(".") and queued_state(d)
                                 for d in root.iterdir())


def _entry(run_dir: Path) -> QueuedRun:
    config = read_config(run_dir)
    table = config.get("queue") if isinstance(config.get("queue"), dict) else {}
    mib = table.get("wait_free_mib")
    return QueuedRun(run_dir.name, table.get("queued_at"),
                     float(mib) if isinstance(mib, (int, float)) and not isinstance(mib, bool) else None,
                     config)


def reconcile(root: Path) -> list[QueuedRun]:
    """The queue of checkpoints folder `root` in order, repaired against its run directories
    and saved when it changed. Call under `queue_lock`."""
    order = _read_order(root)
    on_disk = {d.name for d in root.iterdir() if d.is_dir() and not d.name.startswith(".")
               and queued_state(d)} if root.is_dir() else set()
    kept = [r for r in dict.fromkeys(order) if r in on_disk]
    missing = [r for r in on_disk if r not in kept]
    missing.sort(key=lambda r: (_entry(root / r).queued_at or 0.0, r))
    new = kept + missing
    if new != order:
        write_order(root, new)
    return [_entry(root / r) for r in new]


def write_queued_status(run_dir: Path) -> None:
    """status.json of a run that waits in the queue (no process owns it yet)."""
    status = RunStatus(state=RunState.QUEUED.value, updated_at=time.time())
    _write_status(run_dir, status)


def end_queued(run_dir: Path, state: RunState, reason: str) -> None:
    """A queued run that will never start: failed (e.g. its dataset is gone) or removed."""
    status = RunStatus(state=state.value, updated_at=time.time(), exit_reason=reason)
    _write_status(run_dir, status)


def _write_status(run_dir: Path, status: RunStatus) -> None:
    data = status.to_json()
    data.update(data.pop("extra", {}))
    atomic_write_json(run_dir / STATUS_FILE, data)


def enqueue(paths: Paths, run_id: str) -> int:
    """Mark a freshly created run dir queued and append it; returns its 1-based position."""
    with queue_lock(paths.checkpoints_dir):
        write_queued_status(paths.run(run_id))
        return len(reconcile(paths.checkpoints_dir))


@contextmanager
def _editing(paths: Paths, run_id: str) -> Iterator[list[str]]:
    """The queue's order under its lock, checked to hold `run_id`; the caller edits the list in
    place and it is written back when the block ends without an error."""
    if not has_queue(paths.checkpoints_dir):
        raise QueueError(_not_queued(paths, run_id))
    with queue_lock(paths.checkpoints_dir):
        order = [q.run_id for q in reconcile(paths.checkpoints_dir)]
        if run_id not in order:
            raise QueueError(_not_queued(paths, run_id))
        yield order
        write_order(paths.checkpoints_dir, order)


def move(paths: Paths, run_id: str, to: int) -> int:
    """Put a queued run at 1-based position `to` (clamped to the queue); returns where it is."""
    with _editing(paths, run_id) as order:
        if to < 1:
            raise QueueError(f"--to must be a position from 1 to {len(order)}, got {to}")
        order.remove(run_id)
        at = min(to, len(order) + 1)
        order.insert(at - 1, run_id)
    return at


def remove(paths: Paths, run_id: str) -> None:
    """Drop a queued run: it ends as stopped (kept on disk, never started by the queue)."""
    with _editing(paths, run_id) as order:
        end_queued(paths.run(run_id), RunState.STOPPED, "removed from the queue before it started")
        order.remove(run_id)


def _not_queued(paths: Paths, run_id: str) -> str:
    run_dir = paths.run(run_id)
    if not run_dir.is_dir():
        return f"no run {run_id!r} in {paths.checkpoints_dir} (see `narou-tui queue`)"
    status, problem = read_status_checked(run_dir)
    state = problem or (status.state if status else "no status")
    return f"run {run_id} is not queued (state {state}); see `narou-tui queue`"


def queue_tables(wait_free_mib: float | None = None, sweep: dict[str, Any] | None = None) -> dict[str, Any]:
    """The config.json tables of a queued run (`queue`, and `sweep` for a sweep's runs)."""
    tables: dict[str, Any] = {"queue": {"queued_at": time.time(), "wait_free_mib": wait_free_mib}}
    if sweep is not None:
        tables["sweep"] = sweep
    return tables
