"""What each chart of a watched run plots: its series, x range and status line, for view options."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from core.runs.history import RunHistory
from core.runs.series import ChartData, ChartSeries, MinMaxPyramid

STEP_WINDOWS: tuple[int | None, ...] = (None, 1_000, 10_000, 100_000)
TIME_WINDOWS: tuple[float | None, ...] = (None, 3600.0, 6 * 3600.0, 24 * 3600.0)
BASELINE_POINTS = 512  # more than any chart has dot columns
WAITING = "waiting for the first logged step…"
NO_QUALITY = "no title quality yet: each evaluation adds a point (--quality-samples)"
GPU_CHARTS: tuple[str, ...] = ("gpu-util", "gpu-mem", "gpu-temp", "gpu-power")


@dataclass
class ChartView:
    """How the charts look at a run: x axis (step or wall time), window, and which GPU card."""

    x_mode: str = "step"  # "step" or "time"
    window_index: int = 0  # cycles through STEP_WINDOWS / TIME_WINDOWS
    gpu_pick: int = 0  # which card of a multi-GPU run (cycles)

    @property
    def by_step(self) -> bool:
        return self.x_mode == "step"

    def window(self) -> float | None:
        """The last N steps or seconds shown (None: the whole run)."""
        seq = STEP_WINDOWS if self.by_step else TIME_WINDOWS
        return seq[self.window_index % len(seq)]

    def shown_gpu(self, history: RunHistory | None) -> int | None:
        """The card index the GPU charts show (None before any GPU sample)."""
        cards = sorted(history.gpu_indices) if history is not None else []
        return cards[self.gpu_pick % len(cards)] if cards else None


@dataclass
class TrainChartData:
    """Every chart's data by chart id, the line above the charts, and the run's GPU count."""

    charts: dict[str, ChartData] = field(default_factory=dict)
    status: str = ""
    cards: int = 0


@dataclass
class _Frame:
    """The x range and labels shared by the charts of one redraw."""

    by_step: bool
    x_lo: float | None  # the window's start, None: the whole run
    x_end: float | None
    origin: float

    def data(self, series: list[ChartSeries], x_lo: float | None,
             empty_text: str = WAITING) -> ChartData:
        return ChartData(series, x_lo, self.x_end, "step" if self.by_step else "hours",
                         empty_text, x_origin=0.0 if self.by_step else self.origin)


def train_chart_data(h: RunHistory, view: ChartView) -> TrainChartData:
    """All charts of `h` (O(points / BLOCK + width) each when drawn, thanks to the pyramids)."""
    tr = h.train
    by_step = view.by_step
    x = tr["step"] if by_step else tr["t"]
    origin = float(tr["t"][0]) if tr.n else (float(h.gpu["t"][0]) if h.gpu.n else 0.0)
    x_end = float(x[-1]) if tr.n else None
    if not by_step and h.gpu.n:
        x_end = max(x_end or 0.0, float(h.gpu["t"][-1]))
    win = view.window()
    frame = _Frame(by_step, None if win is None or x_end is None else x_end - win, x_end, origin)
    x0_train = frame.x_lo if frame.x_lo is not None else (float(x[0]) if tr.n else None)
    alpha = h.smoothing
    es, et, ev = h.eval_series()
    py = h.pyramids
    out = TrainChartData()
    out.charts["loss"] = frame.data([
        ChartSeries("raw", x, tr["loss"], "grey50", pyramid=py["loss"]),
        ChartSeries(f"ema {alpha:.2f}", x, tr["ema"], "bright_cyan", pyramid=py["ema"]),
        ChartSeries("eval", es if by_step else et, ev, "bright_yellow", points=True),
    ], x0_train)
    out.charts |= _quality_charts(h, frame, x0_train)
    for cid, key, name, color in (("lr", "lr", "lr", "magenta"),
                                  ("grad", "grad_norm", "grad norm", "orange1"),
                                  ("sps", "samples_per_s", "samples/s", "green")):
        out.charts[cid] = frame.data([ChartSeries(name, x, tr[key], color, pyramid=py[key])],
                                     x0_train)
    out.charts |= _gpu_charts(h, frame, view.shown_gpu(h), x0_train)
    out.cards = len(h.gpu_indices)
    out.status = _status_line(h, view, out.cards)
    return out


def _status_line(h: RunHistory, view: ChartView, cards: int) -> str:
    # Cards first, so a narrow terminal does not crop them; d cycles the cards.
    line = f"GPU charts: card {view.shown_gpu(h)} of {cards} (d: next)  " if cards > 1 else ""
    win = view.window()
    line += f"x: {'step' if view.by_step else 'wall time'}  window: "
    line += "whole run" if win is None else (
        f"last {win:,.0f} steps" if view.by_step else f"last {win / 3600:.0f} h")
    return line + f"  smoothing {h.smoothing:.2f}  ({h.n_train:,} points, {h.lines:,} lines)"


def _quality_charts(h: RunHistory, frame: _Frame, x0: float | None) -> dict[str, ChartData]:
    """chrF and distinct-1 of each evaluation's greedy titles; the first-N-characters
    baseline as a flat grey line across the window."""
    out = {}
    for cid, key, color in (("chrf", "chrf", "bright_green"),
                            ("distinct", "distinct_1", "bright_magenta")):
        qs, qt, qv = h.quality_series(key)
        qx = qs if frame.by_step else qt
        series = [ChartSeries("model", qx, qv, color, points=True)]
        base = h.quality_baseline(key)
        if base is not None and len(qx):
            lo = x0 if x0 is not None else float(qx[0])
            hi = max(frame.x_end if frame.x_end is not None else lo, float(qx[-1]))
            # Dense, so the chart draws a line (it joins neighbouring columns only).
            flat = np.linspace(lo, hi, BASELINE_POINTS)
            series.append(ChartSeries("baseline", flat, np.full_like(flat, base), "grey50"))
        out[cid] = frame.data(series if len(qv) else [], x0, empty_text=NO_QUALITY)
    return out


def _gpu_charts(h: RunHistory, frame: _Frame, card: int | None,
                x0_train: float | None) -> dict[str, ChartData]:
    """Utilisation, memory, temperature and power of one card, against step or time."""
    g = h.gpu
    if g.n == 0:
        reason = h.gpu_unavailable
        empty = f"no GPU telemetry ({reason})" if reason else "no GPU samples in gpu.jsonl"
        return {cid: frame.data([], x0_train, empty) for cid in GPU_CHARTS}
    sel = g["index"] == card if len(h.gpu_indices) > 1 else slice(None)
    gt = g["t"][sel]
    pyr: dict[str, MinMaxPyramid] = {}
    if frame.by_step:
        tr = h.train
        # A sample's step is read off the train lines' times.
        gx = np.zeros(len(gt)) if tr.n < 2 else np.interp(gt, tr["t"],
                                                           tr["step"].astype(np.float64))
    else:
        gx = gt
        # The pyramids summarise every card together: only usable when there is one.
        pyr = h.gpu_pyramids if isinstance(sel, slice) else {}
    gx0 = frame.x_lo if frame.x_lo is not None else (float(gx[0]) if len(gx) else None)

    def col(name: str) -> np.ndarray:
        return g[name][sel]

    with np.errstate(invalid="ignore", divide="ignore"):
        vram_pct = 100 * col("mem_used_mib") / col("mem_total_mib")
    return {
        "gpu-util": frame.data([
            ChartSeries("util %", gx, col("util_lo"), "bright_green", y_hi=col("util_hi"),
                        pyramid=pyr.get("util")),
            ChartSeries("VRAM %", gx, vram_pct, "bright_blue"),
        ], gx0),
        "gpu-mem": frame.data([
            ChartSeries("used", gx, col("mem_used_mib_lo") / 1024, "bright_blue",
                        y_hi=col("mem_used_mib_hi") / 1024),
            ChartSeries("total", gx, col("mem_total_mib") / 1024, "grey50"),
        ], gx0),
        "gpu-temp": frame.data([
            ChartSeries("°C", gx, col("temp_c_lo"), "red", y_hi=col("temp_c_hi"),
                        pyramid=pyr.get("temp_c")),
        ], gx0),
        "gpu-power": frame.data([
            ChartSeries("W", gx, col("power_w_lo"), "yellow", y_hi=col("power_w_hi"),
                        pyramid=pyr.get("power_w")),
        ], gx0),
    }
