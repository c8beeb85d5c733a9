"""Numeric series for charts: growable numpy columns, EMA, min/max-per-bucket downsampling,
and the series/range a chart is fed with (ChartSeries, ChartData).

A 50-hour run holds a million points per series but a chart is ~100 columns wide. Each
series keeps a block pyramid (min and max of every BLOCK consecutive points, maintained
incrementally on append), so a redraw reads n/BLOCK summaries instead of n points, and
spikes survive because every bucket keeps both its extremes.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

BLOCK = 256


class Columns:
    """Named equal-length numpy columns that grow by amortised doubling and can be truncated."""

    def __init__(self, dtypes: dict[str, np.dtype | type]) -> None:
        self._data = {k: np.empty(1024, dtype=d) for k, d in dtypes.items()}
        self.n = 0

    def __len__(self) -> int:
        return self.n

    def __getitem__(self, name: str) -> np.ndarray:
        return self._data[name][: self.n]

    def __contains__(self, name: str) -> bool:
        return name in self._data

    def names(self) -> list[str]:
        return list(self._data)

    def append(self, cols: dict[str, np.ndarray]) -> None:
        k = len(next(iter(cols.values()))) if cols else 0
        if k == 0:
            return
        need = self.n + k
        cap = len(next(iter(self._data.values())))
        if need > cap:
            # Headroom even when one append brings a whole history (reattach): the next
            # small append must not copy a million rows again.
            new_cap = max(need + need // 4, cap * 2)
            for name, arr in self._data.items():
                grown = np.empty(new_cap, dtype=arr.dtype)
                grown[: self.n] = arr[: self.n]
                self._data[name] = grown
        for name, arr in self._data.items():
            src = cols.get(name)
            if src is None:
                arr[self.n: need] = np.nan if arr.dtype.kind == "f" else -1
            else:
                arr[self.n: need] = src
        self.n = need

    def truncate(self, n: int) -> None:
        self.n = max(0, min(n, self.n))


class MinMaxPyramid:
    """Per-block min/max of one growing series (NaNs ignored; an all-NaN block is NaN)."""

    def __init__(self) -> None:
        self.mins = np.empty(0, np.float64)
        self.maxs = np.empty(0, np.float64)

    def update(self, y: np.ndarray, old_n: int, y_hi: np.ndarray | None = None) -> None:
        """`y` is the whole series after an append/truncate; only blocks from old_n change.

        With `y_hi`, block minima come from `y` and maxima from `y_hi` (a lo/hi band).
        """
        n = len(y)
        first = min(old_n, n) // BLOCK
        nb = -(-n // BLOCK)
        self.mins = self.mins[:first]
        self.maxs = self.maxs[:first]
        if nb <= first:
            return
        seg = y[first * BLOCK:]
        seg_hi = seg if y_hi is None else y_hi[first * BLOCK:]
        starts = np.arange(0, len(seg), BLOCK)
        with np.errstate(invalid="ignore"):
            mins = np.fmin.reduceat(seg, starts)
            maxs = np.fmax.reduceat(seg_hi, starts)
        self.mins = np.concatenate([self.mins, mins])
        self.maxs = np.concatenate([self.maxs, maxs])


@dataclass
class Buckets:
    """A downsampled series: for each of `n` equal x-buckets, min / max / last y (NaN = empty)."""

    lo: np.ndarray
    hi: np.ndarray
    last: np.ndarray


def minmax_buckets(
    x: np.ndarray, y: np.ndarray, x0: float, x1: float, n: int,
    pyramid: MinMaxPyramid | None = None, y_hi: np.ndarray | None = None,
) -> Buckets:
    """Min/max/last of `y` in `n` equal buckets of [x0, x1]; `x` must be non-decreasing.

    With a pyramid and many points per bucket, whole blocks are assigned to the bucket of
    their first point (an error of at most one block at bucket edges, invisible on screen),
    so the cost is O(len/BLOCK + n) instead of O(len).
    """
    lo = np.full(max(n, 0), np.nan)
    hi = np.full(max(n, 0), np.nan)
    last = np.full(max(n, 0), np.nan)
    yh = y if y_hi is None else y_hi
    if n <= 0 or len(x) == 0 or not x1 > x0:
        if n > 0 and len(x):
            with np.errstate(invalid="ignore"), _quiet():
                lo[0], hi[0], last[0] = np.nanmin(y), np.nanmax(yh), y[-1]
        return Buckets(lo, hi, last)
    i0 = int(np.searchsorted(x, x0, "left"))
    i1 = int(np.searchsorted(x, x1, "right"))
    if i1 <= i0:
        return Buckets(lo, hi, last)
    scale = n / (x1 - x0)
    use_blocks = pyramid is not None and (i1 - i0) > 8 * BLOCK * n and len(pyramid.mins)
    if use_blocks:
        assert pyramid is not None
        b0 = -(-i0 // BLOCK)
        b1 = i1 // BLOCK
        xb = x[b0 * BLOCK: b1 * BLOCK: BLOCK]
        idx = np.clip(((xb - x0) * scale).astype(np.int64), 0, n - 1)
        _reduce_into(lo, hi, idx, pyramid.mins[b0:b1], pyramid.maxs[b0:b1])
        # Partial blocks at both ends, point by point.
        for a, b in ((i0, min(b0 * BLOCK, i1)), (max(b1 * BLOCK, i0), i1)):
            if b > a:
                pidx = np.clip(((x[a:b] - x0) * scale).astype(np.int64), 0, n - 1)
                _reduce_into(lo, hi, pidx, y[a:b], yh[a:b])
        # "last" only matters for sparse series; with blocks every bucket is dense.
        last[:] = hi
    else:
        xs, ys = x[i0:i1], y[i0:i1]
        idx = np.clip(((xs - x0) * scale).astype(np.int64), 0, n - 1)
        _reduce_into(lo, hi, idx, ys, yh[i0:i1])
        ends = np.flatnonzero(np.diff(idx)) if len(idx) > 1 else np.empty(0, np.int64)
        last_pos = np.append(ends, len(idx) - 1)
        last[idx[last_pos]] = ys[last_pos]
    return Buckets(lo, hi, last)


def _reduce_into(lo: np.ndarray, hi: np.ndarray, idx: np.ndarray, mins: np.ndarray,
                 maxs: np.ndarray) -> None:
    """Fold (idx sorted) values into lo/hi buckets with fmin/fmax (NaN-ignoring)."""
    if len(idx) == 0:
        return
    starts = np.flatnonzero(np.r_[True, idx[1:] != idx[:-1]])
    keys = idx[starts]
    with np.errstate(invalid="ignore"):
        bmin = np.fmin.reduceat(mins, starts)
        bmax = np.fmax.reduceat(maxs, starts)
    lo[keys] = np.fmin(lo[keys], bmin)
    hi[keys] = np.fmax(hi[keys], bmax)


class _quiet:
    """Silence numpy's 'All-NaN slice' RuntimeWarning for one block."""

    def __enter__(self) -> None:
        import warnings

        self._w = warnings.catch_warnings()
        self._w.__enter__()
        warnings.simplefilter("ignore", RuntimeWarning)

    def __exit__(self, *exc: object) -> None:
        self._w.__exit__(*exc)


def ema(y: np.ndarray, alpha: float, start: float | None = None) -> np.ndarray:
    """Exponential moving average e[i] = alpha·e[i−1] + (1−alpha)·y[i], vectorised.

    `alpha` is the smoothing weight (0 = raw, 0.99 = very smooth, TensorBoard's slider).
    Non-finite values are skipped (the average carries over them). `start` continues a
    previous average (incremental appends); None starts from the first finite value.
    Blocks of B points are solved in closed form, e[k] = a^(k+1)·(e0 + (1−a)·Σ a^(−(i+1))·y[i]),
    with B small enough that a^(−B) stays far from overflow.
    """
    out = np.full(len(y), np.nan)
    if len(y) == 0:
        return out
    finite = np.isfinite(y)
    vals = y[finite]
    if len(vals) == 0:
        if start is not None:
            out[:] = start
        return out
    a = float(min(max(alpha, 0.0), 0.999))
    e0 = float(vals[0]) if start is None or not math.isfinite(start) else float(start)
    if a == 0.0:
        sm = vals.copy()
    else:
        bsize = max(1, min(1024, int(150 * math.log(10) / -math.log(a))))
        m = len(vals)
        nblk = -(-m // bsize)
        pad = np.zeros(nblk * bsize)
        pad[:m] = vals
        blocks = pad.reshape(nblk, bsize)
        k = np.arange(bsize, dtype=np.float64)
        inv = a ** -(k + 1.0)
        fwd = a ** (k + 1.0)
        acc = np.cumsum(blocks * inv, axis=1) * (1.0 - a)
        sm_blocks = np.empty_like(blocks)
        e = e0
        for b in range(nblk):
            row = fwd * (e + acc[b])
            sm_blocks[b] = row
            e = row[-1]
        sm = sm_blocks.reshape(-1)[:m]
    out[finite] = sm
    # Carry the average across skipped (NaN) points so the line has no holes.
    if not finite.all():
        idx = np.where(finite, np.arange(len(y)), -1)
        np.maximum.accumulate(idx, out=idx)
        carried = np.where(idx >= 0, out[np.maximum(idx, 0)], e0 if start is not None else np.nan)
        out = carried
    return out


@dataclass
class ChartSeries:
    """One line of a chart.

    x / y: non-decreasing x and values (NaN = missing); y_hi: optional upper band (min/max
    aggregates); pyramid: block min/max of y for fast downsampling of long series;
    points: draw only the points, no connecting line (sparse series such as evals).
    """

    name: str
    x: np.ndarray
    y: np.ndarray
    color: str = "cyan"
    y_hi: np.ndarray | None = None
    pyramid: MinMaxPyramid | None = None
    points: bool = False


@dataclass
class ChartData:
    """What the chart shows: series, the visible x range, and how x labels read."""

    series: list[ChartSeries] = field(default_factory=list)
    x0: float | None = None
    x1: float | None = None
    x_format: str = "step"  # "step" or "hours"
    empty_text: str = "no data yet"
    x_origin: float = 0.0  # subtracted from x for the labels only (wall time → elapsed)
