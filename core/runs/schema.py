"""File names, states and the status record of a run directory (docs/RUN_DIRECTORY.md)."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, fields
from enum import StrEnum
from typing import Any

CONFIG_FILE = "config.json"
STATUS_FILE = "status.json"
METRICS_FILE = "metrics.jsonl"
GPU_FILE = "gpu.jsonl"
LOG_FILE = "train.log"
LOCK_FILE = ".lock"
TOKENIZER_DIR = "tokenizer"  # a scratch run's own copy of the vocabulary it trains with
CHECKPOINT_PREFIX = "checkpoint-"
# Written last inside checkpoint-<step>/; a checkpoint without it is incomplete and ignored.
COMPLETE_MARKER = "COMPLETE"
# A live job refreshes updated_at at least this often; readers call a run "died" when the
# pid is gone or the heartbeat is older than STALE_AFTER_S.
HEARTBEAT_S = 5.0
STALE_AFTER_S = 60.0


class RunState(StrEnum):
    """States a job writes itself; DIED is only ever inferred by readers; QUEUED is written
    by the queue (core.training.queue) before any job exists."""

    QUEUED = "queued"
    STARTING = "starting"
    RUNNING = "running"
    STOPPING = "stopping"
    FINISHED = "finished"
    FAILED = "failed"
    STOPPED = "stopped"
    DIED = "died"

    @property
    def live(self) -> bool:
        return self in {RunState.STARTING, RunState.RUNNING, RunState.STOPPING}


class StatusError(ValueError):
    """A status.json that parses but is not a status record; the message says what is wrong."""


# JSON types each known status field may hold (None is always allowed; bools never are).
_FIELD_TYPES: dict[str, tuple[type, ...]] = {
    "state": (str,), "pid": (int,), "host": (str,), "started_at": (int, float),
    "updated_at": (int, float), "step": (int,), "total_steps": (int,), "epoch": (int, float),
    "eta_s": (int, float), "exit_reason": (str,), "last_complete_checkpoint": (str,),
    "best_eval_loss": (int, float), "best_checkpoint": (str,),
}


@dataclass
class RunStatus:
    """Contents of status.json, replaced atomically by the job (tmp + fsync + rename).

    state: one of RunState (never "died": readers infer that); "queued" until the queue starts it.
    pid / host: the process that owns the run; readers check the pid only on the same host.
    pid_started / cmdline: that process's start time (psutil create_time) and argv, recorded
        when the job starts, so a reused pid is never mistaken for the job (core.runs.owner).
    started_at / updated_at: unix seconds; updated_at is the heartbeat.
    step / total_steps / epoch: optimizer steps done, planned, and fractional epoch.
    eta_s: seconds to the end, from the rate measured since the last (re)start.
    exit_reason: human-readable reason for failed/stopped (None while live or finished).
    last_complete_checkpoint: folder name of the newest complete checkpoint, if any.
    best_eval_loss / best_checkpoint: best validation loss so far and where it was saved.
    """

    state: str = RunState.STARTING.value
    pid: int | None = None
    host: str | None = None
    pid_started: float | None = None
    cmdline: list[str] | None = None
    started_at: float | None = None
    updated_at: float | None = None
    step: int = 0
    total_steps: int | None = None
    epoch: float = 0.0
    eta_s: float | None = None
    exit_reason: str | None = None
    last_complete_checkpoint: str | None = None
    best_eval_loss: float | None = None
    best_checkpoint: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, data: Any) -> RunStatus:
        """Tolerant of unknown keys (newer writers) and missing ones (older writers); a value of
        the wrong type or an unknown state raises StatusError naming the field."""
        if not isinstance(data, dict):
            raise StatusError(f"holds a JSON {type(data).__name__}, not an object")
        for name, kinds in _FIELD_TYPES.items():
            value = data.get(name)
            if value is not None and (isinstance(value, bool) or not isinstance(value, kinds)):
                raise StatusError(f"field {name!r} has the wrong type ({type(value).__name__}: {value!r:.40})")
        if "state" in data and data["state"] not in RunState._value2member_map_:
            raise StatusError(f"has an unknown state {data['state']!r}")
        known = {f.name for f in fields(cls)}
        kwargs = {k: v for k, v in data.items() if k in known}
        rest = {k: v for k, v in data.items() if k not in known}
        status = cls(**kwargs)
        status.extra.update(rest)
        return status
