"""Proof that a pid is a run's job before anyone signals it or calls the run alive.

A pid alone proves nothing: the kernel reuses pids, and a run directory on a shared disk may
belong to a job on another host. A job records its host, the start time of its process and
its command line in status.json (`identity_of`); `check_owner` compares the live process with
that record. Runs written before these fields existed are judged by a weaker rule (see
`_legacy_match`): the process must be a training job of that run and must have started no
later than the run did.
"""

from __future__ import annotations

import socket
import time
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path

from core.runs.schema import RunStatus

# psutil derives start times from boot time + clock ticks; two reads of one process agree to
# well under this, while a reused pid was started long after the job it replaces.
START_TOLERANCE_S = 1.0
JOB_MODULE = "core.training.job"


class Owner(StrEnum):
    """What the pid in status.json turned out to be."""

    JOB = "job"              # this run's job, alive on this host
    GONE = "gone"            # no such process on this host
    OTHER_HOST = "other"     # recorded on another host: cannot be checked (or signalled) here
    STRANGER = "stranger"    # alive, but a different process (reused pid or another program)
    UNKNOWN = "unknown"      # no pid recorded


@dataclass(frozen=True)
class OwnerCheck:
    """The verdict and the sentence that explains it (used as-is in CLI/TUI messages)."""

    owner: Owner
    detail: str


def identity_of(pid: int) -> dict[str, object]:
    """`pid_started` and `cmdline` of a live process, for status.json (empty when unreadable)."""
    import psutil

    try:
        proc = psutil.Process(pid)
        return {"pid_started": proc.create_time(), "cmdline": proc.cmdline()}
    except (psutil.Error, OSError):
        return {}


def running_argv(pid: object) -> list[str] | None:
    """argv of the live (non-zombie) process `pid` on this host; None when there is none or it
    cannot be read. Compare it with a recorded argv to tell a process from a reused pid."""
    import psutil

    if not isinstance(pid, int) or isinstance(pid, bool) or pid <= 0:
        return None
    try:
        proc = psutil.Process(pid)
        return None if proc.status() == psutil.STATUS_ZOMBIE else proc.cmdline()
    except (psutil.Error, OSError):
        return None


def _describe(started: float, cmdline: list[str]) -> str:
    when = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(started))
    cmd = " ".join(cmdline) or "?"
    if len(cmd) > 80:
        cmd = cmd[:77] + "..."
    return f"started {when}, {cmd!r}"


def _legacy_match(status: RunStatus, run_dir: Path | None, started: float, cmdline: list[str]) -> bool:
    # No recorded identity: accept only a training job whose argv names this run directory
    # and which started before the run's own start stamp (a reused pid starts later).
    if JOB_MODULE not in cmdline:
        return False
    if run_dir is not None and not any(Path(a).name == run_dir.name for a in cmdline):
        return False
    return status.started_at is None or started <= status.started_at + START_TOLERANCE_S


def check_owner(status: RunStatus, run_dir: Path | None = None) -> OwnerCheck:
    """Is status.pid this run's live job? Reads only /proc (cheap enough for every poll)."""
    import psutil

    if not isinstance(status.pid, int) or isinstance(status.pid, bool) or status.pid <= 0:
        return OwnerCheck(Owner.UNKNOWN, "no pid recorded")
    here = socket.gethostname()
    if status.host not in (None, here):
        return OwnerCheck(Owner.OTHER_HOST, f"its job runs on host {status.host}, not on this host ({here})")
    try:
        proc = psutil.Process(status.pid)
        if proc.status() == psutil.STATUS_ZOMBIE:
            return OwnerCheck(Owner.GONE, f"pid {status.pid} has exited")
        started, cmdline = proc.create_time(), proc.cmdline()
    except psutil.NoSuchProcess:
        return OwnerCheck(Owner.GONE, f"pid {status.pid} is gone")
    except (psutil.Error, OSError) as exc:
        # Alive but unreadable (another user's process): never ours to signal.
        return OwnerCheck(Owner.STRANGER, f"pid {status.pid} on this host cannot be inspected ({exc})")
    recorded_start = status.pid_started
    if isinstance(recorded_start, (int, float)) and not isinstance(recorded_start, bool):
        same = abs(started - recorded_start) <= START_TOLERANCE_S and (
            not status.cmdline or status.cmdline == cmdline)
    else:
        same = _legacy_match(status, run_dir, started, cmdline)
    if same:
        return OwnerCheck(Owner.JOB, f"pid {status.pid} is its job")
    return OwnerCheck(Owner.STRANGER, f"pid {status.pid} on this host is not its job ({_describe(started, cmdline)})")
