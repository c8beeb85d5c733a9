"""Read-side of run directories: status with died-detection, run listing, metric tails."""

from __future__ import annotations

import json
import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from core.durable import read_json_object
from core.paths import Paths
from core.runs import sidecar
from core.runs.owner import Owner, check_owner
from core.runs.parse import GpuChunk, GpuParser, MetricChunk, MetricsParser
from core.runs.schema import (
    CHECKPOINT_PREFIX,
    COMPLETE_MARKER,
    CONFIG_FILE,
    GPU_FILE,
    METRICS_FILE,
    STALE_AFTER_S,
    STATUS_FILE,
    RunState,
    RunStatus,
    StatusError,
)
from core.runs.tail import JsonlTail


def pid_alive(pid: int) -> bool:
    """True if a process with this pid exists here (zombies count as gone)."""
    if pid <= 0:  # kill(0, 0) would signal our own process group and say "alive"
        return False
    try:
        os.kill(pid, 0)
    except (ProcessLookupError, OverflowError):  # no such process; or no pid could be that big
        return False
    except PermissionError:
        return True
    try:
        with open(f"/proc/{pid}/stat") as fh:
            # The command name may hold ") ", so the state follows the last ")".
            return fh.read().rpartition(")")[2].split()[0] != "Z"
    except (OSError, IndexError):
        return True


def read_status(run_dir: Path, now: float | None = None) -> RunStatus | None:
    """status.json with the state corrected to DIED when the owner is gone or silent; None
    when there is none or it is damaged (`status_problem` says how)."""
    return read_status_checked(run_dir, now)[0]


def read_status_checked(run_dir: Path, now: float | None = None) -> tuple[RunStatus | None, str | None]:
    """(status, None), (None, None) when there is no status.json, or (None, why) when it is
    unreadable: torn, not JSON, not an object, an unknown state or a wrong-typed field."""
    try:
        data = json.loads((run_dir / STATUS_FILE).read_text(encoding="utf-8"))
        status = RunStatus.from_json(data)
    except FileNotFoundError:
        return None, None
    except StatusError as exc:
        return None, f"{STATUS_FILE} {exc}"
    except UnicodeDecodeError:
        return None, f"{STATUS_FILE} is not UTF-8 text"
    except ValueError as exc:
        return None, f"{STATUS_FILE} is not valid JSON ({exc})"
    except OSError as exc:
        return None, f"{STATUS_FILE} cannot be read ({exc.strerror or exc})"
    if RunState(status.state).live:
        why = _owner_gone(status, run_dir, now)
        if why is not None:
            status.extra["written_state"] = status.state
            status.extra["died_because"] = why
            status.state = RunState.DIED.value
    return status, None


def _owner_gone(status: RunStatus, run_dir: Path, now: float | None) -> str | None:
    """Why a live-looking run is dead (None: it is not): its process is gone or is not its
    job any more (a reused pid), or its heartbeat stopped."""
    now = time.time() if now is None else now
    owner = check_owner(status, run_dir)
    if owner.owner in (Owner.GONE, Owner.STRANGER):
        return owner.detail
    if status.updated_at is not None and now - status.updated_at > STALE_AFTER_S:
        return f"no heartbeat for {now - status.updated_at:.0f} s"
    return None


def complete_checkpoints(run_dir: Path) -> list[Path]:
    """checkpoint-<step>/ folders holding the completeness marker, oldest first."""
    found = []
    for p in run_dir.glob(f"{CHECKPOINT_PREFIX}*"):
        step = p.name[len(CHECKPOINT_PREFIX):]
        if p.is_dir() and step.isdigit() and (p / COMPLETE_MARKER).exists():
            found.append((int(step), p))
    return [p for _, p in sorted(found)]


def incomplete_checkpoints(run_dir: Path) -> list[Path]:
    """checkpoint folders without the marker (a save was interrupted)."""
    return sorted(
        p for p in run_dir.glob(f"{CHECKPOINT_PREFIX}*")
        if p.is_dir() and not (p / COMPLETE_MARKER).exists()
    )


def checkpoint_to_open(run_dir: Path, status: RunStatus | None) -> Path | None:
    """The checkpoint to generate with: the best, else the last the status names, else the
    newest complete one; only ever a complete checkpoint (None when the run has none)."""
    complete = complete_checkpoints(run_dir)
    named = [status.best_checkpoint, status.last_complete_checkpoint] if status else []
    for name in named:
        if name and run_dir / name in complete:
            return run_dir / name
    return complete[-1] if complete else None


@dataclass
class RunSummary:
    """One row of `narou-tui runs` and of the Train pane's run list."""

    run_id: str
    path: Path
    status: RunStatus | None
    config: dict[str, Any] = field(default_factory=dict)
    problem: str | None = None  # why status.json could not be read, when it could not

    @property
    def state(self) -> str:
        if self.status is None and self.problem:
            return "unreadable"
        return self.status.state if self.status else "unknown"

    @property
    def started_at(self) -> float | None:
        return self.status.started_at if self.status else None


def read_config(run_dir: Path) -> dict[str, Any]:
    """The frozen config.json of a run ({} when it is missing or damaged)."""
    return read_json_object(run_dir / CONFIG_FILE) or {}


def list_runs(paths: Paths) -> list[RunSummary]:
    """Every run directory under checkpoints_dir, newest first."""
    root = paths.checkpoints_dir
    if not root.is_dir():
        return []
    runs = []
    for d in root.iterdir():
        if d.is_dir() and ((d / STATUS_FILE).exists() or (d / CONFIG_FILE).exists()):
            status, problem = read_status_checked(d)
            runs.append(RunSummary(d.name, d, status, read_config(d), problem))
    runs.sort(key=lambda r: (r.started_at or _mtime(r.path)), reverse=True)
    return runs


def run_to_watch(runs: list[RunSummary]) -> str | None:
    """The run a fresh view opens on: the first live one in `runs`, else the first."""
    live = [r for r in runs if r.status and RunState(r.status.state).live]
    return (live or runs)[0].run_id if runs else None


def _mtime(path: Path) -> float:
    try:
        return path.stat().st_mtime
    except OSError:  # removed while listing
        return 0.0


class RunReader:
    """Follows one run directory; each poll costs only what was appended since the last.

    `poll_metrics()`/`poll_gpu()` give dicts (simple callers); `poll_metric_chunk()` /
    `poll_gpu_chunk()` give numpy columns through the fast parser (the TUI, a 1M-line run).
    Use one style per reader: both advance the same byte offsets.
    """

    def __init__(self, run_dir: Path) -> None:
        self.run_dir = Path(run_dir)
        self.metrics = JsonlTail(self.run_dir / METRICS_FILE)
        self.gpu = JsonlTail(self.run_dir / GPU_FILE)
        self._metrics_parser = MetricsParser()
        self._gpu_parser = GpuParser()
        self.use_sidecar = True
        # JSONL bytes whose train lines came from metrics.bin (0: none, parsed as JSON).
        self.sidecar_bytes = 0

    def poll_metric_chunk(self, max_bytes: int | None = 32 << 20) -> MetricChunk:
        if self.use_sidecar and self.metrics.offset == 0 and self.metrics.restarts == 0:
            self.use_sidecar = False  # only the first read of the file; tails parse JSON
            chunk = self._sidecar_chunk()
            if chunk is not None:
                return chunk
        return self._metrics_parser.parse(self.metrics.poll_bytes(max_bytes))

    def _sidecar_chunk(self) -> MetricChunk | None:
        """Everything metrics.bin covers as one chunk: numbers from its records, only the
        non-train lines read from metrics.jsonl; None when there is no usable sidecar."""
        path = self.metrics.path
        got = sidecar.load(self.run_dir)
        if got is None:
            return None
        arr, end, st = got
        fd = os.open(path, os.O_RDONLY)
        try:
            if os.pread(fd, 1, end - 1) != b"\n":  # not on a line end: don't trust it
                return None
            others = sidecar.other_lines(arr, fd)
        finally:
            os.close(fd)
        kind = arr["kind"]
        train_flags = arr["flags"][kind == sidecar.TRAIN]
        cols = sidecar.train_columns(arr)
        nan_steps = cols["step"][(train_flags & sidecar.NON_FINITE) != 0].tolist()
        chunk = self._metrics_parser.from_sidecar(
            cols, others, len(arr), int((kind == sidecar.BAD).sum()), nan_steps)
        self.metrics.offset = end
        self.metrics._inode = st.st_ino
        self.sidecar_bytes = end
        return chunk

    def poll_gpu_chunk(self, max_bytes: int | None = 32 << 20) -> GpuChunk:
        return self._gpu_parser.parse(self.gpu.poll_bytes(max_bytes))

    def status(self) -> RunStatus | None:
        return read_status(self.run_dir)

    def config(self) -> dict[str, Any]:
        return read_config(self.run_dir)

    def poll_metrics(self) -> list[dict[str, Any]]:
        return self.metrics.poll()

    def poll_gpu(self) -> list[dict[str, Any]]:
        return self.gpu.poll()


def sweep_name(config: dict[str, Any]) -> str | None:
    """The sweep a run belongs to (config.json `sweep.name`), or None for a lone run."""
    sweep = config.get("sweep")
    name = sweep.get("name") if isinstance(sweep, dict) else None
    return name if isinstance(name, str) and name else None


def runs_of_sweep(paths: Paths, name: str) -> list[RunSummary]:
    """Every run of sweep `name`, in the order the sweep queued them (its point index)."""
    runs = [r for r in list_runs(paths) if sweep_name(r.config) == name]
    return sorted(runs, key=lambda r: (_sweep_index(r.config), r.run_id))


def _sweep_index(config: dict[str, Any]) -> int:
    index = config.get("sweep", {}).get("index")
    return index if isinstance(index, int) and not isinstance(index, bool) else 0
