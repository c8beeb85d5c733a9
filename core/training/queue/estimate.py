"""What `narou-tui queue` and the Train pane show: each queued run's position, what it waits for,
and when it should start, from the ETAs of the runs ahead of it."""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from core.paths import Paths
from core.runs.reader import RunSummary, list_runs
from core.runs.run_axes import effective_batch
from core.runs.schema import RunState
from core.training.config import EFFECTIVE_BATCH
from core.training.queue.devices import devices_for
from core.training.queue.store import QueuedRun, has_queue, queue_lock, reconcile


@dataclass
class QueueRow:
    """One queued run. start_in_s / duration_s are None when nothing here can estimate them."""

    position: int
    run_id: str
    devices: list[str]
    waits_for: str
    start_in_s: float | None
    duration_s: float | None
    sweep: str | None = None
    config: dict[str, Any] = field(default_factory=dict, repr=False)


def _train(config: dict[str, Any]) -> dict[str, Any]:
    table = config.get("train")
    return table if isinstance(table, dict) else {}


def _num(value: Any) -> float | None:
    ok = isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)
    return float(value) if ok else None


def planned_steps(config: dict[str, Any]) -> int | None:
    """Optimizer steps a run will take, from its frozen config (None when it cannot tell)."""
    train = _train(config)
    if _num(train.get("max_steps")):
        return int(train["max_steps"])
    counts = (config.get("dataset") or {}).get("counts") or {}
    n, epochs = _num(counts.get("train")), _num(train.get("epochs"))
    if not n or not epochs:
        return None
    return math.ceil(epochs * math.ceil(n / planned_batch(train)))


def planned_batch(train: dict[str, Any]) -> int:
    """The effective batch a run's settings give; the default one while the job is to choose."""
    return effective_batch(train) or EFFECTIVE_BATCH


def _same_kind(a: dict[str, Any], b: dict[str, Any]) -> bool:
    keys = ("model", "scratch", "max_source_len", "max_target_len", "device", "gpus")
    return all(a.get(k) == b.get(k) for k in keys)


def seconds_per_sample(runs: list[RunSummary], train: dict[str, Any]) -> float | None:
    """Wall seconds per training sample (setup, evals and saves included) of the newest run of
    the same model, lengths and devices that has trained a while; None without one."""
    for r in runs:  # newest first
        st = r.status
        if st is None or st.started_at is None or st.updated_at is None or st.step <= 0:
            continue
        if not _same_kind(_train(r.config), train):
            continue
        extra = st.extra
        bs, ga = _num(extra.get("batch_size")), _num(extra.get("grad_accum"))
        world = _num(extra.get("world_size")) or 1
        samples = st.step * (bs * ga * world if bs and ga else planned_batch(_train(r.config)))
        elapsed = st.updated_at - st.started_at
        if elapsed > 0:
            return elapsed / samples
    return None


def duration_of(config: dict[str, Any], runs: list[RunSummary]) -> float | None:
    steps, rate = planned_steps(config), seconds_per_sample(runs, _train(config))
    if steps is None or rate is None:
        return None
    return steps * planned_batch(_train(config)) * rate


def _remaining(r: RunSummary, runs: list[RunSummary], now: float) -> float | None:
    st = r.status
    assert st is not None
    if st.eta_s is not None:
        return max(0.0, st.eta_s - (now - (st.updated_at or now)))
    total = duration_of(r.config, runs)
    if total is None:
        return None
    return max(0.0, total - (now - (st.started_at or now)))


def queue_rows(checkpoints_dir: Path, now: float | None = None) -> list[QueueRow]:
    """The queue in order with estimates. Strict order: a run never starts before the one
    ahead of it, so its start is at least that one's."""
    now = time.time() if now is None else now
    if not has_queue(checkpoints_dir):
        return []  # and nothing created: listing an empty folder leaves it as it is
    with queue_lock(checkpoints_dir):
        entries: list[QueuedRun] = reconcile(checkpoints_dir)
    if not entries:
        return []
    runs = list_runs(Paths(checkpoints_dir, checkpoints_dir, checkpoints_dir))
    free_at: dict[str, float | None] = {}
    holder: dict[str, str] = {}
    for r in runs:
        if r.status is None or not RunState(r.status.state).live:
            continue
        held = r.status.extra.get("devices")
        devices = held if isinstance(held, list) else devices_for(_train(r.config))
        left = _remaining(r, runs, now)
        for d in devices:
            before = free_at.get(d, 0.0)
            free_at[d] = None if left is None or before is None else max(before, left)
            holder[d] = r.run_id
    rows: list[QueueRow] = []
    floor: float | None = 0.0
    for i, e in enumerate(entries, 1):
        devices = devices_for(e.train)
        start: float | None = floor
        for d in devices:
            t = free_at.get(d, 0.0)
            start = None if start is None or t is None else max(start, t)
        busy = [f"{d} ({holder[d]})" for d in devices if d in holder]
        if i > 1:
            waits = f"position {i - 1} to start"
        elif busy:
            waits = "the end of " + ", ".join(busy)
        elif e.wait_free_mib is not None and devices != ["cpu"]:
            waits = f"< {e.wait_free_mib:,.0f} MiB used on {', '.join(devices)}"
        else:
            waits = "nothing: starts within seconds"
        duration = duration_of(e.config, runs)
        sweep = e.config.get("sweep", {}).get("name") if isinstance(e.config.get("sweep"), dict) else None
        rows.append(QueueRow(i, e.run_id, devices, waits, start, duration, sweep, e.config))
        end = None if start is None or duration is None else start + duration
        for d in devices:
            free_at[d] = end
        floor = start
    return rows
