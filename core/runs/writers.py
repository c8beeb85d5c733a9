"""Writer side of a run directory: run ids, frozen config, atomic status with heartbeat,
append-only metrics and GPU telemetry (the format: docs/RUN_DIRECTORY.md). The readers live
beside it in this package; the training job imports both from here.

Metrics history across resumes
------------------------------
Writers never rewrite metrics.jsonl. Every line carries `segment`: 0 for the first job, +1 for
each resume. A resumed job first appends a newline if the file ends in a torn line (so the
torn fragment stays one unparseable line), then writes `{"event": "resumed", "step": S,
"segment": k}` where S is the checkpoint step it continues from. Which lines then count is
decided by one rule for every reader: core.runs.rule.
"""

from __future__ import annotations

import contextlib
import json
import os
import socket
import threading
import time
from datetime import datetime
from pathlib import Path
from typing import Any

from core.durable import atomic_write_json
from core.paths import Paths
from core.runs.owner import identity_of
from core.runs.rule import is_train
from core.runs.schema import (
    CONFIG_FILE,
    GPU_FILE,
    HEARTBEAT_S,
    METRICS_FILE,
    STATUS_FILE,
    RunStatus,
)
from core.runs.sidecar import OTHER, TRAIN, SidecarAppender, line_rows
from core.runs.tail import JsonlTail


def new_run_id(paths: Paths, name: str = "", now: float | None = None) -> str:
    """`YYYYMMDD-HHMM[-name]`, with `-2`, `-3`... when that folder exists already."""
    stamp = datetime.fromtimestamp(now or time.time()).strftime("%Y%m%d-%H%M")
    clean = "".join(c if c.isalnum() or c in "-_." else "-" for c in name).strip("-.")
    base = f"{stamp}-{clean}" if clean else stamp
    run_id, n = base, 1
    while paths.run(run_id).exists():
        n += 1
        run_id = f"{base}-{n}"
    return run_id


def create_run_dir(paths: Paths, run_id: str) -> Path:
    """Create checkpoints/<run-id>/ (never outside checkpoints_dir); error if it exists."""
    run_dir = paths.run(run_id)
    if run_dir.resolve().parent != paths.checkpoints_dir.resolve():
        raise ValueError(f"run dir {run_dir} is outside {paths.checkpoints_dir}")
    paths.checkpoints_dir.mkdir(parents=True, exist_ok=True)
    run_dir.mkdir()
    return run_dir


def write_config(run_dir: Path, frozen: dict[str, Any]) -> None:
    """config.json, frozen at launch (replaced atomically, never edited afterwards)."""
    atomic_write_json(run_dir / CONFIG_FILE, frozen)


class StatusWriter:
    """Owns status.json: callers change fields, a thread rewrites it every HEARTBEAT_S."""

    def __init__(self, run_dir: Path, status: RunStatus, pid: int | None = None) -> None:
        self.path = run_dir / STATUS_FILE
        self.status = status
        self.status.pid = pid if pid is not None else os.getpid()
        self.status.host = socket.gethostname()
        self._lock = threading.Lock()
        self._write_lock = threading.Lock()  # heartbeat and loop never interleave renames
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.claim(self.status.pid)

    def claim(self, pid: int) -> None:
        """Record `pid` with its start time and argv: the proof `stop` checks before signalling."""
        ident = identity_of(pid)
        with self._lock:
            self.status.pid = pid
            self.status.pid_started = ident.get("pid_started")  # type: ignore[assignment]
            self.status.cmdline = ident.get("cmdline")  # type: ignore[assignment]

    def update(self, write: bool = False, **fields: Any) -> None:
        with self._lock:
            for k, v in fields.items():
                if hasattr(self.status, k) and k != "extra":
                    setattr(self.status, k, v)
                else:
                    self.status.extra[k] = v
        if write:
            self.write()

    def write(self) -> None:
        with self._write_lock:
            with self._lock:
                self.status.updated_at = time.time()
                data = self.status.to_json()
                extra = data.pop("extra", {})
                data.update(extra)
            atomic_write_json(self.path, data)

    def start(self) -> None:
        self.write()
        self._thread = threading.Thread(target=self._beat, daemon=True, name="heartbeat")
        self._thread.start()

    def _beat(self) -> None:
        while not self._stop.wait(HEARTBEAT_S):
            with contextlib.suppress(OSError):  # disk full or the like: the next beat retries
                self.write()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)


class JsonlWriter:
    """Appends one JSON object per line and flushes each line (a kill loses at most the tail)."""

    def __init__(self, path: Path, fixed: dict[str, Any] | None = None, heal: bool = True) -> None:
        self.path = path
        self.fixed = fixed or {}
        if heal:
            heal_torn_tail(path)
        self._fh = open(path, "a", encoding="utf-8")  # noqa: SIM115 (lives as long as the writer)
        self._lock = threading.Lock()

    def write(self, record: dict[str, Any]) -> None:
        line = json.dumps({**record, **self.fixed}, ensure_ascii=False, separators=(",", ":"))
        with self._lock:
            self._fh.write(line + "\n")
            self._fh.flush()

    def close(self, sync: bool = True) -> None:
        with self._lock:
            if not self._fh.closed:
                self._fh.flush()
                if sync:
                    os.fsync(self._fh.fileno())
                self._fh.close()


def heal_torn_tail(path: Path) -> bool:
    """Append a newline when a killed writer left a partial last line (history untouched)."""
    try:
        with open(path, "rb") as fh:
            fh.seek(0, os.SEEK_END)
            if fh.tell() == 0:
                return False
            fh.seek(-1, os.SEEK_END)
            if fh.read(1) == b"\n":
                return False
    except FileNotFoundError:
        return False
    with open(path, "ab") as fh:
        fh.write(b"\n")
    return True


def last_segment(path: Path) -> int:
    """Highest `segment` in a metrics file (-1 when none): a resume writes segment + 1."""
    best = -1
    tail = JsonlTail(path)
    while True:
        recs = tail.poll(max_bytes=8 << 20)
        if not recs:
            break
        for r in recs:
            seg = r.get("segment")
            if isinstance(seg, int) and seg > best:
                best = seg
    return best


class MetricsWriter(JsonlWriter):
    """metrics.jsonl for one job segment, plus its metrics.bin sidecar.

    Every train line also goes to metrics.bin as a fixed-width record (format and invariant:
    core.runs.sidecar), so a reader reattaching to a million-line run loads the numbers in
    milliseconds instead of parsing the JSON. `heal=False` leaves a torn last line as it is
    (synthetic runs that reproduce a kill mid-line).
    """

    def __init__(self, run_dir: Path, segment: int, heal: bool = True) -> None:
        super().__init__(run_dir / METRICS_FILE, {"segment": segment}, heal=heal)
        self.segment = segment
        self.sidecar = SidecarAppender(self.path)

    def write(self, record: dict[str, Any]) -> None:
        self.write_many([record])

    def write_many(self, records: list[dict[str, Any]]) -> None:
        """Append several lines with one flush (each one as `write` would)."""
        lines = [json.dumps({**r, **self.fixed}, ensure_ascii=False, separators=(",", ":")) + "\n"
                 for r in records]
        with self._lock:
            side = self.sidecar
            if not side.enabled:
                self._fh.write("".join(lines))
                self._fh.flush()
                return
            start = os.fstat(self._fh.fileno()).st_size
            side.catch_up(start)
            self._fh.write("".join(lines))
            self._fh.flush()
            rows = []
            end = start
            for rec, line in zip(records, lines, strict=True):
                end += len(line) if line.isascii() else len(line.encode("utf-8"))
                full = {**rec, **self.fixed}
                rows.append((full, end, TRAIN if is_train(full) else OTHER))
            if rows and side.known_end < start:
                # Our first line was glued onto a torn fragment someone left: record what a
                # reader will parse from that line, not the record we meant to write.
                with open(self.path, "rb") as fh:
                    fh.seek(side.known_end)
                    glued = fh.read(rows[0][1] - side.known_end)
                rows[0] = line_rows(glued, side.known_end)[0][0]
            size = os.fstat(self._fh.fileno()).st_size
            if size == end:
                side.append(rows, size)
            # else someone appended at the same time: the next write's catch_up re-reads the
            # gap (these lines included) instead of trusting offsets that may be off.

    def close(self, sync: bool = True) -> None:
        super().close(sync)
        self.sidecar.close()

    def event(self, step: int, event: str, **fields: Any) -> None:
        self.write({"t": round(time.time(), 3), "step": step, "event": event, **fields})


# gpu.jsonl: every line is one GPU at one time with `res` = seconds it stands for.
#  * res=2 lines: a raw sample, written when a value moved by more than GPU_DELTA since the
#    last raw line of that GPU, or GPU_KEEPALIVE_S passed (steady training writes ~2/min).
#  * res=60 lines: min/max/mean of every 2-s sample of that minute (always written).
# Append-only, and a 50-hour run stays around 10k lines per GPU.
GPU_PERIOD_S = 2.0
GPU_AGG_S = 60.0
GPU_KEEPALIVE_S = 30.0
GPU_DELTA = {"util": 5.0, "mem_used_mib": 256.0, "temp_c": 2.0, "power_w": 15.0}


class GpuLogger:
    """Thread that samples NVML every 2 s into gpu.jsonl (see the format above)."""

    def __init__(self, run_dir: Path, period_s: float = GPU_PERIOD_S) -> None:
        self.path = run_dir / GPU_FILE
        self.period = period_s
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._writer: JsonlWriter | None = None
        self._last_raw: dict[int, dict[str, Any]] = {}
        self._bucket: dict[int, list[dict[str, Any]]] = {}
        self._bucket_start = 0.0

    def start(self) -> None:
        from core.telemetry.nvml import NvmlSampler

        sampler = NvmlSampler()
        self._writer = JsonlWriter(self.path)
        if not sampler.available:
            self._writer.write({"t": round(time.time(), 3), "available": False, "reason": sampler.reason})
            self._writer.close()
            return
        self._sampler = sampler
        self._thread = threading.Thread(target=self._run, daemon=True, name="gpu-sampler")
        self._thread.start()

    def drive(self, writer: JsonlWriter, t_start: float) -> None:
        """Write to `writer` from time `t_start` with no NVML thread: the caller feeds `tick`
        (tests and synthetic runs, which have readings but no GPU)."""
        self._writer = writer
        self._bucket_start = t_start

    def _run(self) -> None:
        self._bucket_start = time.time()
        while not self._stop.is_set():
            with contextlib.suppress(Exception):  # telemetry must never take the job down
                self.tick(self._sampler.sample(), time.time())
            self._stop.wait(self.period)

    def tick(self, samples: list[Any], now: float) -> None:
        """Record one round of samples (public so tests can drive it without a GPU)."""
        for s in samples:
            rec = s.to_json()
            rec["t"] = round(rec["t"], 2)
            for k in ("mem_used_mib", "mem_total_mib", "power_w"):
                if rec.get(k) is not None:
                    rec[k] = round(rec[k], 1)
            self._bucket.setdefault(s.index, []).append(rec)
            last = self._last_raw.get(s.index)
            if last is None or self._moved(last, rec) or rec["t"] - last["t"] >= GPU_KEEPALIVE_S:
                self._writer.write({**rec, "res": GPU_PERIOD_S})
                self._last_raw[s.index] = rec
        if now - self._bucket_start >= GPU_AGG_S:
            self._flush_aggregates()
            self._bucket_start = now

    @staticmethod
    def _moved(a: dict[str, Any], b: dict[str, Any]) -> bool:
        for k, d in GPU_DELTA.items():
            x, y = a.get(k), b.get(k)
            if (x is None) != (y is None) or (x is not None and abs(x - y) > d):
                return True
        return False

    def _flush_aggregates(self) -> None:
        for index, recs in self._bucket.items():
            if not recs:
                continue
            agg: dict[str, Any] = {"t": recs[-1]["t"], "index": index, "name": recs[-1]["name"],
                                   "res": GPU_AGG_S, "n": len(recs),
                                   "mem_total_mib": recs[-1].get("mem_total_mib")}
            for k in GPU_DELTA:
                vals = [r[k] for r in recs if r.get(k) is not None]
                if vals:
                    agg[k] = round(sum(vals) / len(vals), 1)
                    agg[k + "_min"] = min(vals)
                    agg[k + "_max"] = max(vals)
            self._writer.write(agg)
        self._bucket = {}

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
        if self._writer is not None:
            self._flush_aggregates()
            self._writer.close()
