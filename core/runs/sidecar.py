"""metrics.bin: a fixed-width binary index of metrics.jsonl, for a fast reattach.

Why: a 50-hour run has over a million train lines (~230 MB of JSON); parsing them takes
seconds even through arrow, while reading the same numbers as fixed-width records takes a
fraction of a second. metrics.jsonl stays the source of truth; the sidecar is a derived copy
that the job's MetricsWriter keeps next to it and that readers may ignore.

Format (little-endian, append-only):
  header, 16 bytes: MAGIC (8 bytes) + record size as int64.
  records of RECORD (104 bytes), one per line of metrics.jsonl, in file order: `end` (int64:
  byte offset just past that line's newline), `step`, `segment` (int64, −1 when absent),
  `kind` (int32: TRAIN, OTHER object, BAD unparseable, BLANK), `flags` (int32: NON_FINITE),
  then the float64 TRAIN_FIELDS (NaN when absent, not a number, or not a TRAIN line).
Invariant kept by the writer: every line of metrics.jsonl[0 : last record's end] has exactly
one record, and the `end`s strictly increase. Before each write the writer compares the
JSONL size with the end it knows and backfills records for lines someone else appended
(parsing only that gap); it never starts a sidecar for a metrics.jsonl that already has
lines (a run begun before the sidecar existed).
Readers take the covered prefix from the sidecar (train columns and line counts from the
records; OTHER lines, i.e. evals, events and probes, read by offset and parsed) and parse
only the JSONL beyond it. A partial trailing record (writer killed mid-record) is ignored by
readers and cut off by the next writer; a sidecar that breaks the invariant (foreign header,
ends not increasing, ends past the JSONL's size, not ending on a newline) is ignored and the
whole JSONL is parsed instead.
"""

from __future__ import annotations

import math
import mmap
import os
from pathlib import Path
from typing import Any

import numpy as np

from core.runs.parse import TRAIN_FIELDS
from core.runs.rule import float_field, int_field, is_train
from core.runs.schema import METRICS_FILE
from core.runs.tail import parse_line

SIDECAR_FILE = "metrics.bin"
MAGIC = b"NAROUMB1"
RECORD = np.dtype(
    [("end", "<i8"), ("step", "<i8"), ("segment", "<i8"), ("kind", "<i4"), ("flags", "<i4")]
    + [(k, "<f8") for k in TRAIN_FIELDS]
)
# Record kinds: what the line at that place in metrics.jsonl is.
TRAIN, OTHER, BAD, BLANK = 0, 1, 2, 3
# flags bit: loss or grad_norm is NaN/±inf (arrow-free readers can't tell NaN from absent).
NON_FINITE = 1
HEADER_SIZE = 16


def header() -> bytes:
    return MAGIC + np.int64(RECORD.itemsize).astype("<i8").tobytes()


Row = tuple[dict[str, Any] | None, int, int]  # (record, end offset, kind)


def kind_of(rec: dict[str, Any] | None, raw: bytes = b"x") -> int:
    if rec is None:
        return BLANK if not raw.strip() else BAD
    return TRAIN if is_train(rec) else OTHER


def _non_finite(rec: dict[str, Any]) -> bool:
    return any(isinstance(rec.get(k), float) and not math.isfinite(rec[k])
               for k in ("loss", "grad_norm"))


def pack(rows: list[Row]) -> bytes:
    """Records for (record, end offset, kind) triples; only TRAIN ones carry numbers."""
    arr = np.zeros(len(rows), RECORD)
    arr["end"] = [end for _, end, _ in rows]
    arr["kind"] = [kind for _, _, kind in rows]
    train = [(i, r) for i, (r, _, kind) in enumerate(rows) if kind == TRAIN and r is not None]
    arr["step"] = -1
    arr["segment"] = -1
    for k in TRAIN_FIELDS:
        arr[k] = np.nan
    if train:
        idx = np.array([i for i, _ in train], np.int64)
        recs = [r for _, r in train]
        arr["step"][idx] = [int_field(r.get("step")) for r in recs]
        arr["segment"][idx] = [int_field(r.get("segment")) for r in recs]
        arr["flags"][idx] = [NON_FINITE if _non_finite(r) else 0 for r in recs]
        for k in TRAIN_FIELDS:
            arr[k][idx] = [float_field(r.get(k)) for r in recs]
    return arr.tobytes()


def line_rows(blob: bytes, base: int) -> tuple[list[Row], int]:
    """A row for each complete line of `blob` (which starts at offset `base`), and the
    offset just past the last complete line."""
    rows: list[Row] = []
    pos = 0
    while True:
        nl = blob.find(b"\n", pos)
        if nl < 0:
            break
        raw = blob[pos:nl]
        rec = parse_line(raw) if raw.strip() else None
        rows.append((rec, base + nl + 1, kind_of(rec, raw)))
        pos = nl + 1
    return rows, base + pos


class SidecarAppender:
    """Writer side: keeps metrics.bin in step with one metrics.jsonl (single writer)."""

    def __init__(self, jsonl: Path, path: Path | None = None) -> None:
        self.jsonl = Path(jsonl)
        self.path = Path(path) if path is not None else self.jsonl.with_name(SIDECAR_FILE)
        self.enabled = True
        self.known_end = 0
        jsize = self.jsonl.stat().st_size if self.jsonl.exists() else 0
        if not self.path.exists():
            if jsize > 0:  # an older run without a sidecar: a partial one would mislead
                self.enabled = False
                return
            with open(self.path, "wb") as fh:
                fh.write(header())
        with open(self.path, "r+b") as fh:
            head = fh.read(HEADER_SIZE)
            if head != header():
                self.enabled = False
                return
            size = os.fstat(fh.fileno()).st_size
            n = (size - HEADER_SIZE) // RECORD.itemsize
            whole = HEADER_SIZE + n * RECORD.itemsize
            if whole != size:  # torn last record from a killed writer
                fh.truncate(whole)
            if n:
                fh.seek(whole - RECORD.itemsize)
                last = np.frombuffer(fh.read(RECORD.itemsize), RECORD)[0]
                self.known_end = int(last["end"])
        if self.known_end > jsize:  # metrics.jsonl was replaced: don't trust the sidecar
            self.enabled = False
            self.path.unlink(missing_ok=True)
            return
        self._fh = open(self.path, "ab")  # noqa: SIM115 (lives as long as the writer)

    def catch_up(self, jsonl_size: int) -> None:
        """Backfill records for lines appended to metrics.jsonl by anyone but this writer."""
        if not self.enabled or jsonl_size == self.known_end:
            return
        if jsonl_size < self.known_end:
            self.disable()
            return
        with open(self.jsonl, "rb") as fh:
            fh.seek(self.known_end)
            blob = fh.read(jsonl_size - self.known_end)
        rows, end = line_rows(blob, self.known_end)
        if rows:
            self._fh.write(pack(rows))
            self._fh.flush()
        self.known_end = end

    def append(self, rows: list[Row], jsonl_size: int) -> None:
        """Records for lines just written; `jsonl_size` is the JSONL size after writing them."""
        if not self.enabled:
            return
        if rows:
            self._fh.write(pack(rows))
            self._fh.flush()
        self.known_end = jsonl_size

    def disable(self) -> None:
        """Stop extending the sidecar and remove it, so no reader trusts a stale copy."""
        self.enabled = False
        self.close()
        self.path.unlink(missing_ok=True)

    def close(self) -> None:
        fh = getattr(self, "_fh", None)
        if fh is not None and not fh.closed:
            fh.close()


def load(run_dir: Path) -> tuple[np.ndarray, int, os.stat_result] | None:
    """The complete records of metrics.bin, the JSONL offset they cover and the JSONL's
    stat, or None when there is no usable sidecar (absent, foreign, or breaking the
    invariant). A partial trailing record is ignored."""
    try:
        with open(Path(run_dir) / SIDECAR_FILE, "rb") as fh:
            data = fh.read()
        # After the sidecar: a line written meanwhile is in the JSONL before its record.
        st = os.stat(Path(run_dir) / METRICS_FILE)
    except OSError:
        return None
    jsonl_size = st.st_size
    if data[:HEADER_SIZE] != header():
        return None
    n = (len(data) - HEADER_SIZE) // RECORD.itemsize
    if n == 0:
        return None
    arr = np.frombuffer(data, RECORD, count=n, offset=HEADER_SIZE)
    ends = arr["end"]
    if ends[0] <= 0 or ends[-1] > jsonl_size or (n > 1 and not (np.diff(ends) > 0).all()):
        return None
    return arr, int(ends[-1]), st


def train_columns(arr: np.ndarray) -> dict[str, np.ndarray]:
    """MetricChunk.train columns of the TRAIN records (one pass over the records per
    column, straight into a contiguous array: no intermediate copy of the records)."""
    mask = arr["kind"] == TRAIN
    names = (*TRAIN_FIELDS, "step", "segment")
    if mask.all():
        return {k: np.ascontiguousarray(arr[k]) for k in names}
    return {k: np.compress(mask, arr[k]) for k in names}


def other_lines(arr: np.ndarray, fd: int) -> list[tuple[int, dict[str, Any]]]:
    """The OTHER records' lines (evals, events, probes, ...) read from metrics.jsonl by
    offset, in file order, each with the number of TRAIN records before it; nothing else of
    the file is read.

    Through an mmap, not a pread per line: a syscall gives up the GIL, and on a worker thread
    of a busy UI each one waits up to the switch interval (5 ms) to get it back.
    """
    ends = arr["end"]
    idx = np.flatnonzero(arr["kind"] == OTHER)
    out: list[tuple[int, dict[str, Any]]] = []
    if not len(idx):
        return out
    train_before = np.cumsum(arr["kind"] == TRAIN)[idx]
    mm = mmap.mmap(fd, int(ends[-1]), access=mmap.ACCESS_READ)
    try:
        for i, rows in zip(idx.tolist(), train_before.tolist(), strict=True):
            start = int(ends[i - 1]) if i else 0
            rec = parse_line(mm[start:int(ends[i])])
            if rec is not None:
                out.append((rows, rec))
    finally:
        mm.close()
    return out

