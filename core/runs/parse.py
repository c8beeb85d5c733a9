"""Columnar parsing of metrics.jsonl / gpu.jsonl chunks: numeric fields into numpy, fast.

A 50-hour run has over a million metric lines; `json.loads` per line costs ~10 s here, so
train lines go through pyarrow's C++ JSON reader with an explicit schema (only the fields
the UI plots, everything else ignored). The rare kinds (evals, events, probes) are found by
a byte search and parsed with `json` so their free-form fields survive. Anything arrow
refuses (a torn or glued line, a string where a number belongs) is bisected down to small
pieces that fall back to the per-line parser, so one bad line never costs the whole chunk.
"""

from __future__ import annotations

import io
import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from core.runs.rule import float_field, int_field, is_resume_event, is_train, marked_kind
from core.runs.tail import parse_line

# Numeric fields of train lines kept as float64 columns (docs/RUN_DIRECTORY.md, train lines).
TRAIN_FIELDS: tuple[str, ...] = (
    "t", "epoch", "loss", "lr", "grad_norm", "samples_per_s", "tokens_per_s",
    "mem_alloc", "mem_reserved",
)
# Numeric fields of gpu.jsonl samples.
GPU_FIELDS: tuple[str, ...] = (
    "t", "util", "mem_used_mib", "mem_total_mib", "temp_c", "power_w",
    # Minute aggregates (res=60) also carry the spread of their samples.
    "util_min", "util_max", "mem_used_mib_min", "mem_used_mib_max", "temp_c_min", "temp_c_max",
    "power_w_min", "power_w_max",
)
# Markers of the rare line kinds; a line holding one is parsed in full by `json`.
RARE_MARKERS: tuple[bytes, ...] = (b'"eval_', b'"event"', b'"probe"', b'"quality"')
# Below this size a failing piece is parsed line by line instead of bisected further.
_MIN_BISECT = 64 << 10


@dataclass
class MetricChunk:
    """What one read of metrics.jsonl produced, in file order within each kind.

    train: column name → array (TRAIN_FIELDS as float64 with NaN for missing, plus int64
        "step" and "segment" (−1 when absent)); one entry per train line.
    evals / events / probes / qualities: the full records of those kinds.
    rare / rare_rows: the records of all three kinds in file order, and for each the number
        of this chunk's train rows before it; exact for `resumed` events (where a history
        may be cut), a lower bound for the others (whose rule does not look at train rows).
    non_finite_steps: steps whose loss or grad_norm was NaN/inf (arrow cannot tell a NaN
        from a missing field, so these come from the text: `NaN`/`Infinity` as json writes).
    lines / bad_lines: non-empty lines seen and lines that could not be used.
    """

    train: dict[str, np.ndarray]
    evals: list[dict[str, Any]] = field(default_factory=list)
    events: list[dict[str, Any]] = field(default_factory=list)
    probes: list[dict[str, Any]] = field(default_factory=list)
    qualities: list[dict[str, Any]] = field(default_factory=list)
    rare: list[dict[str, Any]] = field(default_factory=list)
    rare_rows: list[int] = field(default_factory=list)
    non_finite_steps: list[int] = field(default_factory=list)
    lines: int = 0
    bad_lines: int = 0

    @property
    def n_train(self) -> int:
        return len(self.train["step"])


@dataclass
class GpuChunk:
    """Columns of gpu.jsonl samples: GPU_FIELDS as float64, "index" as int64.

    unavailable: the reason from an `{"available": false, "reason": ...}` line, if any.
    """

    cols: dict[str, np.ndarray]
    unavailable: str | None = None
    lines: int = 0
    bad_lines: int = 0

    @property
    def n(self) -> int:
        return len(self.cols["t"])


def empty_train() -> dict[str, np.ndarray]:
    cols = {k: np.empty(0, np.float64) for k in TRAIN_FIELDS}
    cols["step"] = np.empty(0, np.int64)
    cols["segment"] = np.empty(0, np.int64)
    return cols


def empty_gpu() -> dict[str, np.ndarray]:
    cols = {k: np.empty(0, np.float64) for k in GPU_FIELDS}
    cols["index"] = np.empty(0, np.int64)
    return cols


def _arrow() -> tuple[Any, Any] | None:
    try:
        import pyarrow as pa
        import pyarrow.json as pj
    except ImportError:  # the per-line path still works, just slower
        return None
    return pa, pj


def _schema(pa: Any, floats: tuple[str, ...], ints: tuple[str, ...]) -> Any:
    return pa.schema([(k, pa.float64()) for k in floats] + [(k, pa.int64()) for k in ints])


def _rows_to_cols(rows: list[dict[str, Any]], floats: tuple[str, ...],
                  ints: dict[str, int]) -> dict[str, np.ndarray]:
    cols = {k: np.array([float_field(r.get(k)) for r in rows], np.float64) for k in floats}
    for k, default in ints.items():
        cols[k] = np.array([int_field(r.get(k), default) for r in rows], np.int64)
    return cols


def _concat(parts: list[dict[str, np.ndarray]], empty: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    parts = [p for p in parts if len(next(iter(p.values()))) > 0]
    if not parts:
        return empty
    if len(parts) == 1:
        return parts[0]
    return {k: np.concatenate([p[k] for p in parts]) for k in parts[0]}


def _column(col: Any, dtype: type, fill: float) -> np.ndarray:
    """A numpy copy of an arrow column of float64/int64 with nulls as `fill`.

    Read from the arrow buffers: ChunkedArray.to_numpy, Array.to_numpy with nulls and
    fill_null all import pandas, which costs seconds on a cold start.
    """
    parts = []
    for arr in col.chunks:
        n = len(arr)
        validity, data = arr.buffers()[:2]
        vals = np.frombuffer(data, dtype, count=n, offset=arr.offset * 8).copy() \
            if data is not None else np.full(n, fill, dtype)
        if arr.null_count:
            bits = np.unpackbits(np.frombuffer(validity, np.uint8), bitorder="little")
            vals[bits[arr.offset: arr.offset + n] == 0] = fill
        parts.append(vals)
    if not parts:
        return np.empty(0, dtype)
    return parts[0] if len(parts) == 1 else np.concatenate(parts)


def _split_at_newline(blob: bytes) -> tuple[bytes, bytes]:
    mid = blob.find(b"\n", len(blob) // 2)
    if mid < 0 or mid == len(blob) - 1:
        mid = blob.rfind(b"\n", 0, len(blob) // 2)
    return blob[: mid + 1], blob[mid + 1:]


class _Columnar:
    """Arrow-first, json-fallback parser of one record kind into numpy columns."""

    def __init__(self, floats: tuple[str, ...], ints: dict[str, int]) -> None:
        self.floats = floats
        self.ints = ints
        self.bad_lines = 0
        self.slow_lines = 0
        arrow = _arrow()
        self._pa_json = None
        if arrow is not None:
            pa, pj = arrow
            self._pa = pa
            self._pa_json = pj
            self._opts = pj.ParseOptions(
                explicit_schema=_schema(pa, floats, tuple(ints)),
                unexpected_field_behavior="ignore",
            )

    def parse(self, blob: bytes, keep: Any = None) -> dict[str, np.ndarray]:
        """Columns of every object line in `blob` (for which `keep(rec)` holds, slow path)."""
        if not blob.strip():
            return {}
        if self._pa_json is None:
            return self._slow(blob, keep)
        try:
            table = self._pa_json.read_json(io.BytesIO(blob), parse_options=self._opts)
        except Exception:  # ArrowInvalid: a bad line somewhere in this piece
            if len(blob) <= _MIN_BISECT:
                return self._slow(blob, keep)
            head, tail = _split_at_newline(blob)
            if not head or not tail:
                return self._slow(blob, keep)
            parts = [self.parse(head, keep), self.parse(tail, keep)]
            return _concat([p for p in parts if p], {})
        cols: dict[str, np.ndarray] = {}
        for k in self.floats:
            cols[k] = _column(table.column(k), np.float64, math.nan)
        for k, default in self.ints.items():
            cols[k] = _column(table.column(k), np.int64, default)
        return cols

    def _slow(self, blob: bytes, keep: Any) -> dict[str, np.ndarray]:
        rows = []
        for raw in blob.split(b"\n"):
            if not raw.strip():
                continue
            self.slow_lines += 1
            rec = parse_line(raw)
            if rec is None:
                self.bad_lines += 1
            elif keep is None or keep(rec):
                rows.append(rec)
        return _rows_to_cols(rows, self.floats, self.ints)


class MetricsParser:
    """Turns complete-line chunks of metrics.jsonl into MetricChunks (keeps its counters)."""

    def __init__(self) -> None:
        self._cols = _Columnar(TRAIN_FIELDS, {"step": -1, "segment": -1})
        self.lines = 0

    @property
    def bad_lines(self) -> int:
        return self._cols.bad_lines

    def parse(self, blob: bytes) -> MetricChunk:
        lines = blob.count(b"\n")
        self.lines += lines
        before = self._cols.bad_lines
        rare = _rare_lines(blob)
        # A resume may cut the history: the train rows before it are parsed as their own
        # piece, so the chunk knows exactly where it stands (resumes are rare: ~no cost).
        ends = [end for end, rec in rare if is_resume_event(rec)]
        parts, counts, pos = [], [], 0
        for end in [*ends, len(blob)]:
            part = self._train_rows(blob if not ends else blob[pos:end])
            parts.append(part)
            counts.append(len(part["step"]))
            pos = end
        cols = _concat(parts, empty_train())
        chunk = MetricChunk(train=cols, lines=lines)
        done = np.cumsum([0, *counts]).tolist()
        piece_of = np.searchsorted(np.array(ends, np.int64), [e for e, _ in rare], "right")
        _sort_rare(chunk, [(done[k], rec) for k, (_, rec) in zip(piece_of.tolist(), rare, strict=True)])
        chunk.non_finite_steps += _non_finite_steps(blob)
        chunk.bad_lines = self._cols.bad_lines - before
        return chunk

    def _train_rows(self, blob: bytes) -> dict[str, np.ndarray]:
        cols = self._cols.parse(blob, keep=is_train) or empty_train()
        if len(cols["step"]) and self._cols._pa_json is not None:
            # Arrow yields a row for every line; keep the train ones (a loss-like field set).
            mask = ~(np.isnan(cols["loss"]) & np.isnan(cols["lr"])
                     & np.isnan(cols["grad_norm"]) & np.isnan(cols["samples_per_s"]))
            if not mask.all():
                cols = {k: v[mask] for k, v in cols.items()}
        return cols

    def from_sidecar(self, train: dict[str, np.ndarray], others: list[tuple[int, dict[str, Any]]],
                     lines: int, bad_lines: int, non_finite_steps: list[int]) -> MetricChunk:
        """The chunk `parse` gives for a stretch of metrics.jsonl that the metrics.bin
        sidecar describes: train columns and line counts from its records, `others` the
        full records of its non-train lines with the train rows before each
        (core.runs.sidecar)."""
        chunk = MetricChunk(train=train, lines=lines, bad_lines=bad_lines,
                            non_finite_steps=non_finite_steps)
        _sort_rare(chunk, others)
        self.lines += lines
        self._cols.bad_lines += bad_lines
        return chunk


def _sort_rare(chunk: MetricChunk, rare: list[tuple[int, dict[str, Any]]]) -> None:
    """File-ordered (train rows before, record) pairs into the chunk's kinds; others dropped."""
    lists = {"probe": chunk.probes, "event": chunk.events, "eval": chunk.evals,
             "quality": chunk.qualities}
    for rows, rec in rare:
        kind = marked_kind(rec)
        if kind is not None:
            lists[kind].append(rec)
            chunk.rare.append(rec)
            chunk.rare_rows.append(rows)


class GpuParser:
    """Turns complete-line chunks of gpu.jsonl into GpuChunks."""

    def __init__(self) -> None:
        self._cols = _Columnar(GPU_FIELDS, {"index": 0})
        self.lines = 0

    @property
    def bad_lines(self) -> int:
        return self._cols.bad_lines

    def parse(self, blob: bytes) -> GpuChunk:
        lines = blob.count(b"\n")
        self.lines += lines
        cols = self._cols.parse(blob) or empty_gpu()
        unavailable = None
        pos = blob.find(b'"available"')
        if pos >= 0:
            s = blob.rfind(b"\n", 0, pos) + 1
            e = blob.find(b"\n", pos)
            rec = parse_line(blob[s: e if e >= 0 else len(blob)])
            if rec is not None and rec.get("available") is False:
                unavailable = str(rec.get("reason") or "unknown reason")
        # Lines without a reading (the "available" line) have no util/memory: drop them.
        keep = ~np.isnan(cols["t"]) & ~(np.isnan(cols["util"]) & np.isnan(cols["mem_used_mib"]))
        if not keep.all():
            cols = {k: v[keep] for k, v in cols.items()}
        return GpuChunk(cols=cols, unavailable=unavailable, lines=lines)


def _rare_lines(blob: bytes) -> list[tuple[int, dict[str, Any]]]:
    """(offset just past the line, record) of the lines holding a rare marker, in file order.

    A bad line is counted by the columnar pass, which sees every line; not again here.
    """
    starts: set[int] = set()
    for marker in RARE_MARKERS:
        pos = blob.find(marker)
        while pos >= 0:
            line_start = blob.rfind(b"\n", 0, pos) + 1
            starts.add(line_start)
            nxt = blob.find(b"\n", pos)
            if nxt < 0:
                break
            pos = blob.find(marker, nxt)
    out: list[tuple[int, dict[str, Any]]] = []
    for s in sorted(starts):
        e = blob.find(b"\n", s)
        e = e if e >= 0 else len(blob)
        rec = parse_line(blob[s:e])
        if rec is not None and marked_kind(rec) is not None:
            out.append((e + 1, rec))
    return out


def _non_finite_steps(blob: bytes) -> list[int]:
    """Steps of train lines whose loss or grad_norm is NaN or ±Infinity."""
    if b"NaN" not in blob and b"Infinity" not in blob:
        return []
    steps = []
    for raw in blob.split(b"\n"):
        if b"NaN" not in raw and b"Infinity" not in raw:
            continue
        rec = parse_line(raw)
        if rec is None:
            continue
        for key in ("loss", "grad_norm"):
            v = rec.get(key)
            if isinstance(v, float) and not math.isfinite(v):
                steps.append(int_field(rec.get("step")))
                break
    return steps
