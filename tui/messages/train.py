"""Messages of the Train pane and of the App's run tailer and GPU sampler workers."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from textual.message import Message

from core.runs.compare import Comparison
from core.runs.parse import GpuChunk, MetricChunk
from core.runs.reader import RunSummary
from core.runs.schema import RunStatus


@dataclass
class RunPolled(Message):
    """One poll of the watched run by the App's tailer (read on a worker thread).

    generation: which `watch_run` call it belongs to (stale polls are dropped).
    chunks / gpu: what was appended since the last poll, already parsed into columns.
    log_tail: the last lines of train.log (None: unchanged since the last poll).
    poll_ms / bytes_read: cost of this poll.
    initial: the first poll after attaching (history load; alerts stay silent).
    complete: False when a read failed part-way (the failure goes to the App's handler);
        then status_read False / config None / log_tail None say what was not read.
    """

    generation: int
    run_id: str
    chunks: list[MetricChunk]
    gpu: list[GpuChunk]
    status: RunStatus | None
    config: dict[str, Any] | None
    log_tail: list[str] | None
    poll_ms: float
    bytes_read: int
    initial: bool
    complete: bool = True
    status_read: bool = True


@dataclass
class RunUpdated(Message):
    """Sent by the App to listening panes after it applied a RunPolled to its history."""

    run_id: str
    appended: int
    initial: bool
    apply_ms: float


@dataclass
class GpuSampled(Message):
    """One round of the App's own NVML sampler; `reason` set when there is no telemetry."""

    # The App forwards each sample to the panes; bubbling back up would re-forward it forever.
    bubble = False

    samples: list[Any] = field(default_factory=list)
    available: bool = True
    reason: str = ""


@dataclass
class RunsListed(Message):
    """A fresh scan of checkpoints/ for the run list, in the order to show; `scores`: the
    runs' RunScores by id when the list is a leaderboard."""

    runs: list[RunSummary]
    scores: dict[str, Any] = field(default_factory=dict)


@dataclass
class LaunchChecked(Message):
    """Preflight results for the launch form (level, message) pairs and the CLI command."""

    findings: list[tuple[str, str]]
    command: str


@dataclass
class RunActionDone(Message):
    """A launch / stop / resume finished on its worker; `error`: the launch was refused."""

    action: str
    run_id: str | None
    error: str | None = None


@dataclass
class RunsCompared(Message):
    """The marked runs read for comparison (None when fewer than two are marked)."""

    comparison: Comparison | None
