"""LineChart: several numeric series drawn with braille dots, min/max per column, axes labels."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
from rich.text import Text
from textual.widget import Widget

from core.runs.series import ChartData, minmax_buckets

# Braille dot bits by (row 0..3, column 0..1) inside one cell.
_DOTS = np.array([[0x01, 0x08], [0x02, 0x10], [0x04, 0x20], [0x40, 0x80]], np.int64)
Y_LABEL_W = 8  # cells left of the plot: a y label and its tick
# The character of each braille bit mask (an empty cell is a space).
_GLYPHS = [chr(0x2800 + b) if b else " " for b in range(256)]


def fmt_value(v: float) -> str:
    if not math.isfinite(v):
        return "—"
    a = abs(v)
    if a == 0:
        return "0"
    if a < 1e-3 or a >= 1e6:
        return f"{v:.1e}"
    if a >= 1000:
        return f"{v:,.0f}"
    return f"{v:.3g}"


def fmt_x(v: float, kind: str) -> str:
    if kind == "hours":
        h = v / 3600
        return f"{h:.1f}h" if h < 10 else f"{h:.0f}h"
    if abs(v) >= 10_000:
        return f"{v / 1000:.0f}k"
    return f"{v:.0f}"


class LineChart(Widget):
    """Braille line chart; each dot column shows the min..max of its bucket so spikes survive.

    Feed it with `set_data(ChartData)`; drawing costs O(points / BLOCK + width) per series.
    """

    DEFAULT_CSS = """
    LineChart { height: 1fr; min-height: 6; border: round $panel; padding: 0 1; }
    """

    def __init__(self, title: str = "", **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.title = title
        self.data = ChartData()
        self.draw_count = 0
        self._cache: tuple[Any, Text] | None = None

    def set_data(self, data: ChartData) -> None:
        """Show `data`; the chart is redrawn on screen only if its picture changed.

        A run appending a step a second moves most charts by less than one braille dot: drawing
        the text here and comparing it costs a few milliseconds, while a repaint sends the
        whole chart through the compositor.
        """
        self.data = data
        size = (self.content_size.width, self.content_size.height)
        if self._cache is not None and self._cache[0] == size and size[0] > 0:
            text = self.draw(*size)
            if text == self._cache[1]:
                return
            self._cache = (size, text)
        else:
            self._cache = None
        self.refresh()

    def render(self) -> Text:
        size = (self.content_size.width, self.content_size.height)
        if self._cache is not None and self._cache[0] == size:
            return self._cache[1]
        text = self.draw(*size)
        self._cache = (size, text)
        return text

    def draw(self, width: int, height: int) -> Text:
        """The whole chart as text for a content area of width × height cells."""
        self.draw_count += 1
        d = self.data
        out = Text(no_wrap=True, overflow="crop")
        legend = Text(self.title, style="bold")
        for s in d.series:
            legend.append("  ")
            legend.append("•" if s.points else "━", style=s.color)
            legend.append(s.name, style="dim")
        out.append_text(legend)
        plot_h = height - 2
        plot_w = width - Y_LABEL_W
        if plot_h < 2 or plot_w < 4:
            return out
        xs = [s.x for s in d.series if len(s.x)]
        if not xs:
            out.append("\n" + d.empty_text.center(width), style="dim")
            return out
        x0 = d.x0 if d.x0 is not None else min(float(x[0]) for x in xs)
        x1 = d.x1 if d.x1 is not None else max(float(x[-1]) for x in xs)
        if not x1 > x0:
            x1 = x0 + 1.0
        ncol = plot_w * 2
        buckets = [minmax_buckets(s.x, s.y, x0, x1, ncol, s.pyramid, s.y_hi) for s in d.series]
        finite = [b for bk in buckets for b in (bk.lo, bk.hi)]
        allv = np.concatenate(finite) if finite else np.empty(0)
        allv = allv[np.isfinite(allv)]
        if len(allv) == 0:
            out.append("\n" + d.empty_text.center(width), style="dim")
            return out
        y0, y1 = float(allv.min()), float(allv.max())
        if y1 - y0 < 1e-12 * max(1.0, abs(y1)):
            y0, y1 = y0 - 0.5 * max(abs(y0), 1e-9), y1 + 0.5 * max(abs(y1), 1e-9)
        nrow = plot_h * 4
        owner = np.full((plot_h, plot_w), -1, np.int64)
        bits = np.zeros((plot_h, plot_w), np.int64)
        for si, (s, bk) in enumerate(zip(d.series, buckets, strict=True)):
            grid = _dots(bk.lo, bk.hi, bk.last, y0, y1, nrow, connect=not s.points)
            if not grid.any():
                continue
            cells = _to_cells(grid, plot_h, plot_w)
            bits |= cells
            owner[cells > 0] = si
        labels = {0: fmt_value(y1), plot_h - 1: fmt_value(y0), (plot_h - 1) // 2:
                  fmt_value((y0 + y1) / 2)}
        for r in range(plot_h):
            out.append("\n")
            out.append(labels.get(r, "").rjust(Y_LABEL_W - 1)[: Y_LABEL_W - 1] + "┤",
                       style="dim")
            row_owner = owner[r]
            chars = "".join([_GLYPHS[b] for b in bits[r].tolist()])
            # One span per run of cells drawn by the same series.
            cuts = [0, *(np.flatnonzero(row_owner[1:] != row_owner[:-1]) + 1).tolist(), plot_w]
            for c, e in zip(cuts[:-1], cuts[1:], strict=True):
                o = row_owner[c]
                out.append(chars[c:e], style=d.series[o].color if o >= 0 else "")
        left, mid, right = (fmt_x(v - d.x_origin, d.x_format) for v in (x0, (x0 + x1) / 2, x1))
        axis = " " * Y_LABEL_W + left
        mid_pos = Y_LABEL_W + plot_w // 2 - len(mid) // 2
        axis = axis.ljust(mid_pos) + mid
        axis = axis.ljust(width - len(right)) + right
        out.append("\n" + axis[:width], style="dim")
        return out


def _dots(lo: np.ndarray, hi: np.ndarray, last: np.ndarray, y0: float, y1: float, nrow: int,
          connect: bool) -> np.ndarray:
    """Boolean (nrow, ncol) dot grid: each column lit from its min to its max row.

    With `connect`, a column also reaches the row where the previous drawn column ended, so
    the line has no gaps; empty (non-finite) columns are skipped, not bridged to zero.
    """
    ncol = len(lo)
    scale = (nrow - 1) / (y1 - y0)
    with np.errstate(invalid="ignore"):
        r_lo = np.rint((y1 - lo) * scale)  # row 0 is the top
        r_hi = np.rint((y1 - hi) * scale)
        r_last = np.rint((y1 - last) * scale)
        ok = np.isfinite(r_lo) & np.isfinite(r_hi)
        top, bottom = r_hi.copy(), r_lo.copy()
        if connect and ok.any():
            ends = np.where(np.isfinite(r_last), r_last, (r_lo + r_hi) / 2)
            # The end row of the nearest drawn column to the left, if there is one.
            drawn = np.maximum.accumulate(np.where(ok, np.arange(ncol), -1))
            before = np.concatenate(([-1], drawn[:-1]))
            has = before >= 0
            prev = ends[np.where(has, before, 0)]
            top = np.where(has, np.minimum(top, prev), top)
            bottom = np.where(has, np.maximum(bottom, prev), bottom)
        first = np.trunc(np.maximum(np.where(ok, top, 0), 0))
        final = np.trunc(np.minimum(np.where(ok, bottom, -1), nrow - 1))
    rows = np.arange(nrow)[:, None]
    return (rows >= first[None, :]) & (rows <= final[None, :]) & ok[None, :]


def _to_cells(grid: np.ndarray, h: int, w: int) -> np.ndarray:
    """Pack a (4h, 2w) dot grid into braille bit masks per cell."""
    g = grid[: h * 4, : w * 2].reshape(h, 4, w, 2).astype(np.int64)
    return np.einsum("rycx,yx->rc", g, _DOTS)
