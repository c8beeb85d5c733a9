"""Train pane: launch runs, list them, and watch one live (charts, progress, log, alerts)."""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, ClassVar

import numpy as np
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Grid, Horizontal, Vertical, VerticalScroll
from textual.screen import Screen
from textual.widgets import ContentSwitcher, DataTable, Footer, Header, Log, Static

from core.runs.compare import RunCache, compare, rank_runs
from core.runs.progress import ProgressInfo, progress_for
from core.runs.reader import checkpoint_to_open, list_runs
from core.runs.schema import RunState
from tui.context import app_state
from tui.messages.queue import QueueListed
from tui.messages.train import (
    GpuSampled,
    LaunchChecked,
    RunActionDone,
    RunsCompared,
    RunsListed,
    RunUpdated,
)
from tui.redraw import show_text
from tui.side_column import FoldingSideColumn
from tui.widgets.gpu_panel import GpuPanel
from tui.widgets.launch_form import LaunchForm
from tui.widgets.line_chart import ChartData, ChartSeries, LineChart
from tui.widgets.queue_list import QueueList
from tui.widgets.run_compare import RunCompare
from tui.widgets.run_list import RunList
from tui.widgets.run_progress import RunProgress
from tui.workers import ForwardWorkerFailures, background

if TYPE_CHECKING:
    from textual.timer import Timer
    from textual.worker import Worker

    from core.training.config import TrainConfig
    from tui.app import NarouApp
    from tui.run_watch import RunWatch

STEP_WINDOWS: tuple[int | None, ...] = (None, 1_000, 10_000, 100_000)
TIME_WINDOWS: tuple[float | None, ...] = (None, 3600.0, 6 * 3600.0, 24 * 3600.0)
# The watched run has its own 1 s poll; the list only finds other runs and their states.
RUN_LIST_S = 10.0
# Live data redraws the charts at most this often: redrawing the eight charts is the most
# expensive thing a watching TUI does (measured with bench/reattach.py --only-watch-cost),
# and a chart of a long run moves by a dot column every few minutes.
CHART_PERIOD_S = 4.0
# Quiet time after the last keystroke in the launch form before the preflight runs again.
CHECK_DEBOUNCE_S = 0.4
EVENT_LINES = 12
# Views of the main area, with the key that shows each.
VIEWS = ("charts", "log", "probes", "launch", "compare")
BASELINE_POINTS = 512  # more than any chart has dot columns
CHARTS: tuple[tuple[str, str], ...] = (
    ("chrf", "chrF"), ("distinct", "distinct-1"),
    ("lr", "learning rate"), ("grad", "grad norm"), ("sps", "samples/s"),
    ("gpu-util", "GPU util / VRAM %"), ("gpu-mem", "VRAM GiB"), ("gpu-temp", "GPU °C"),
    ("gpu-power", "GPU W"),
)


class TrainScreen(FoldingSideColumn, ForwardWorkerFailures, Screen[None]):
    """Runs on the left, the watched run's charts (or log / probes / launch form) on the right."""

    CSS_PATH = "../styles/train.tcss"
    SIDE_FOCUS = "#run-list"
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("c", "view('charts')", "Charts", id="train.charts",
                tooltip="Show the loss / learning-rate / GPU charts"),
        Binding("l", "view('log')", "Log", id="train.log", tooltip="Show the run's train.log"),
        Binding("p", "view('probes')", "Probes", id="train.probes",
                tooltip="Probe titles per evaluation and the run's events"),
        Binding("n", "view('launch')", "New run", id="train.new",
                tooltip="Open the launch form for a new run"),
        Binding("b", "toggle_side", "Runs", id="train.side",
                tooltip="Show or hide the runs / progress / GPU column (an overlay on narrow "
                "terminals)"),
        Binding("s", "stop", "Stop", id="train.stop",
                tooltip="Checkpoint, then stop the watched run"),
        Binding("r", "resume", "Resume", id="train.resume",
                tooltip="Resume the watched run from its newest complete checkpoint"),
        Binding("g", "generate", "Generate", id="train.generate",
                tooltip="Open the run's best/newest checkpoint in the Generate pane"),
        Binding("x", "toggle_x", "X: step/time", id="train.x_axis",
                tooltip="Plot against optimizer step or wall time (comparing: step, samples "
                "seen or training hours)"),
        Binding("v", "view('compare')", "Compare", id="train.compare",
                tooltip="Overlay the marked runs (mark them in the run list with space or m)"),
        Binding("d", "next_gpu", "Next GPU", id="train.next_gpu",
                tooltip="GPU charts: show the next card of a multi-GPU run"),
        Binding("w", "window", "Window", id="train.window",
                tooltip="Whole run, or only the last N steps / hours"),
        Binding("left_square_bracket", "smoothing(-0.05)", "Smooth-", id="train.smooth_less",
                tooltip="Less EMA smoothing of the loss line"),
        Binding("right_square_bracket", "smoothing(0.05)", "Smooth+", id="train.smooth_more",
                tooltip="More EMA smoothing of the loss line"),
        Binding("f6", "check_launch", "Check", id="train.check",
                tooltip="Validate the form with the preflight checks"),
        Binding("ctrl+s", "launch", "Start", id="train.launch",
                tooltip="Start the run described by the form (returns at once)"),
    ]
    # Wall clock for ages and elapsed time (tests fix it for stable snapshots).
    clock: ClassVar[Callable[[], float]] = time.time

    def __init__(self) -> None:
        super().__init__()
        self.x_mode = "step"
        self.gpu_pick = 0  # which card the GPU charts show in a multi-GPU run (d cycles)
        self._gpu_cards = 0  # cards in the watched run: `d` is in the footer only when several
        self.window_index = 0
        self.view = "charts"
        self._charts_dirty = True
        self._charts_at = -math.inf  # time.monotonic() of the last chart update
        self._charts_timer: Timer | None = None
        self._last_probe_version = -1
        self._log_tail: list[str] = []
        self.refresh_count = 0
        self.last_refresh_ms = 0.0
        self._auto_attached = False
        self._check_timer: Timer | None = None
        self._run_cache = RunCache()  # marked runs, re-read only when their files change
        self._run_order = RunList.ORDERS[0]

    @property
    def narou(self) -> NarouApp:
        return app_state(self)

    @property
    def readonly(self) -> bool:
        return self.narou.options.readonly

    @property
    def watch(self) -> RunWatch | None:
        return self.narou.run_watch

    # ------------------------------------------------------------------ layout
    def compose(self) -> ComposeResult:
        yield Header()
        with Horizontal(id="train-body", classes="with-side-column"):
            with Vertical(id="train-side", classes="side-column"):
                yield Static("Runs  (enter: watch)", classes="section")
                yield RunList(id="run-list")
                yield Static("Queue  (shift+↑/↓: reorder, del: unqueue)", classes="section")
                yield QueueList(id="queue-list")
                yield Static("Progress", classes="section")
                yield RunProgress(id="run-progress")
                yield Static("GPU (live)", classes="section")
                yield GpuPanel(id="gpu-panel")
                yield Static("Events", classes="section")
                yield Static("", id="train-events")
            with ContentSwitcher(initial="view-charts", id="train-main"):
                with VerticalScroll(id="view-charts"):
                    yield Static("b: runs, progress, GPU and events", classes="muted narrow-only")
                    yield Static("", id="chart-status")
                    yield LineChart("loss", id="chart-loss")
                    with Grid(id="chart-grid"):
                        for cid, title in CHARTS:
                            yield LineChart(title, id=f"chart-{cid}")
                yield Log(id="view-log", highlight=False)
                yield VerticalScroll(Static("", id="train-probes"), id="view-probes")
                yield LaunchForm(self._dataset_names(), id="view-launch")
                yield RunCompare(id="view-compare")
        yield Footer()

    def _dataset_names(self) -> list[str]:
        try:
            from core.data.store import list_datasets
        except ImportError:
            return []
        try:
            return [d.name for d in list_datasets(self.narou.paths) if d.built]
        except Exception:
            return []

    def on_mount(self) -> None:
        app = self.narou
        if self not in app.run_listeners:
            app.run_listeners.append(self)
        app.start_gpu_sampler()
        if app.gpu_last is not None:
            self._show_gpu(app.gpu_last)
        self._list_runs()
        self.set_interval(RUN_LIST_S, self._list_runs)
        if self.watch is not None and self.watch.polls:
            self._refresh_all(initial=True)

    def on_unmount(self) -> None:
        if self in self.narou.run_listeners:
            self.narou.run_listeners.remove(self)

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if self.readonly and action in ("stop", "resume", "launch", "check_launch") or \
                self.readonly and action == "view" and parameters == ("launch",):
            return False
        if action in ("launch", "check_launch"):
            return self.view == "launch"
        if action == "view" and parameters == ("compare",):
            return len(self.query_one(RunList).marked) >= 2
        if action in ("stop", "resume", "generate"):
            return self.watch is not None
        if action == "next_gpu":
            return self.watch is not None and len(self.watch.history.gpu_indices) > 1
        return True

    # ------------------------------------------------------------------ run list
    @background("run-list", exclusive=True)
    def _list_runs(self) -> None:
        runs, order = list_runs(self.narou.paths), self._run_order
        if order == RunList.ORDERS[0]:
            self.post_message(RunsListed(runs))
        else:
            ranked, scores = rank_runs(runs, order, self._run_cache)
            self.post_message(RunsListed(ranked, scores))
        self.post_message(QueueListed(*queue_snapshot(self.narou.paths.checkpoints_dir)))

    def on_queue_listed(self, message: QueueListed) -> None:
        self.query_one(QueueList).update_rows(message.rows)
        if message.note:
            self.notify(message.note)

    def on_queue_list_move_requested(self, message: QueueList.MoveRequested) -> None:
        if not self.readonly:
            self._queue_change(message.run_id, message.to)

    def on_queue_list_remove_requested(self, message: QueueList.RemoveRequested) -> None:
        if not self.readonly:
            self._queue_change(message.run_id, None)

    @background("queue", subject=lambda run_id, to: run_id)
    def _queue_change(self, run_id: str, to: int | None) -> None:
        from core.training.queue.store import move, remove

        if to is None:
            remove(self.narou.paths, run_id)
        else:
            move(self.narou.paths, run_id, to)
        self.post_message(RunActionDone("unqueue" if to is None else "move", run_id))

    def on_runs_listed(self, message: RunsListed) -> None:
        watched = self.watch.run_id if self.watch else None
        runs = self.query_one(RunList)
        runs.update_runs(message.runs, type(self).clock(), watched, message.scores)
        if len(runs.marked) >= 2:  # a marked run still training gets its new lines
            self._compare_runs(list(runs.marked))
        if not self._auto_attached:
            self._auto_attached = True
            if self.watch is None and message.runs:
                live = [r for r in message.runs if r.status and RunState(r.status.state).live]
                self.narou.watch_run((live or message.runs)[0].run_id)

    def on_run_list_order_changed(self, message: RunList.OrderChanged) -> None:
        self._run_order = message.order
        self._list_runs()

    def on_run_list_marks_changed(self, message: RunList.MarksChanged) -> None:
        self.refresh_bindings()
        if len(message.marked) >= 2:
            self._compare_runs(list(message.marked))
            if self.view != "launch":
                self.action_view("compare")
        elif self.view == "compare":
            self.query_one(RunCompare).show(None)
            self.action_view("charts")

    @background("run-compare", exclusive=True)
    def _compare_runs(self, run_ids: list[str]) -> None:
        paths = self.narou.paths
        runs = [self._run_cache.get(paths.run(r)) for r in run_ids]
        self.post_message(RunsCompared(compare(runs)))

    def on_runs_compared(self, message: RunsCompared) -> None:
        marked = self.query_one(RunList).marked
        cmp = message.comparison
        if cmp is not None and [r.run_id for r in cmp.runs] == marked:  # not a stale read
            self.query_one(RunCompare).show(cmp)

    def on_data_table_row_selected(self, event: DataTable.RowSelected) -> None:
        if event.row_key is not None and event.row_key.value:
            self.attach(str(event.row_key.value))
            self.close_side_overlay()

    def attach(self, run_id: str) -> None:
        self.narou.watch_run(run_id)
        self._charts_dirty = True
        self._last_probe_version = -1
        self.query_one("#view-log", Log).clear()
        self._log_tail = []
        self._list_runs()

    # ------------------------------------------------------------------ live updates
    def on_run_updated(self, message: RunUpdated) -> None:
        self._refresh_all(initial=message.initial, changed=message.appended > 0)

    def _refresh_all(self, initial: bool = False, changed: bool = True) -> None:
        t0 = time.perf_counter()
        watch = self.watch
        if watch is None:
            return
        if changed or initial:
            self._charts_dirty = True
        if self._charts_dirty and self.view == "charts":
            if initial:
                self.update_charts()
            else:
                self._update_charts_soon()
        self._update_progress(watch)
        self._update_events(watch)
        if self.view == "log":
            self._update_log(watch)
        if self.view == "probes":
            self._update_probes(watch)
        self.refresh_count += 1
        self.last_refresh_ms = (time.perf_counter() - t0) * 1000

    def on_gpu_sampled(self, message: GpuSampled) -> None:
        message.stop()  # handled here; never back to the App, which forwards samples to panes
        self._show_gpu(message)

    def _show_gpu(self, message: GpuSampled) -> None:
        panel = self.query_one(GpuPanel)
        if not message.available:
            panel.show_unavailable(message.reason or "unknown reason")
        else:
            panel.show_samples(message.samples)

    # ------------------------------------------------------------------ charts
    def _window(self) -> float | None:
        seq = STEP_WINDOWS if self.x_mode == "step" else TIME_WINDOWS
        return seq[self.window_index % len(seq)]

    def _update_charts_soon(self) -> None:
        """Update the charts now, or once CHART_PERIOD_S has passed since the last update."""
        wait = self._charts_at + CHART_PERIOD_S - time.monotonic()
        if wait <= 0:
            self.update_charts()
        elif self._charts_timer is None:
            self._charts_timer = self.set_timer(wait, self._charts_due)

    def _charts_due(self) -> None:
        self._charts_timer = None
        if self._charts_dirty and self.view == "charts":
            self.update_charts()

    def update_charts(self) -> None:
        """Rebuild every chart's data from the history (O(points / BLOCK + width) each)."""
        watch = self.watch
        self._charts_dirty = False
        self._charts_at = time.monotonic()
        if watch is None:
            return
        h = watch.history
        tr = h.train
        by_step = self.x_mode == "step"
        x = tr["step"] if by_step else tr["t"]
        fmt = "step" if by_step else "hours"
        origin = float(tr["t"][0]) if tr.n else (float(h.gpu["t"][0]) if h.gpu.n else 0.0)
        x_end = float(x[-1]) if tr.n else None
        if not by_step and h.gpu.n:
            x_end = max(x_end or 0.0, float(h.gpu["t"][-1]))
        win = self._window()
        x0 = None if win is None or x_end is None else x_end - win
        x0_train = x0 if x0 is not None else (float(x[0]) if tr.n else None)
        empty = "waiting for the first logged step…"

        def data(series: list[ChartSeries], x_lo: float | None = x0_train,
                 empty_text: str = empty) -> ChartData:
            return ChartData(series, x_lo, x_end, fmt, empty_text, x_origin=0.0 if by_step
                             else origin)

        alpha = h.smoothing
        es, et, ev = h.eval_series()
        eval_x = es if by_step else et
        py = h.pyramids
        self.query_one("#chart-loss", LineChart).set_data(data([
            ChartSeries("raw", x, tr["loss"], "grey50", pyramid=py["loss"]),
            ChartSeries(f"ema {alpha:.2f}", x, tr["ema"], "bright_cyan", pyramid=py["ema"]),
            ChartSeries("eval", eval_x, ev, "bright_yellow", points=True),
        ]))
        self._update_quality_charts(h, by_step, data, x0_train, x_end)
        self.query_one("#chart-lr", LineChart).set_data(
            data([ChartSeries("lr", x, tr["lr"], "magenta", pyramid=py["lr"])]))
        self.query_one("#chart-grad", LineChart).set_data(
            data([ChartSeries("grad norm", x, tr["grad_norm"], "orange1",
                              pyramid=py["grad_norm"])]))
        self.query_one("#chart-sps", LineChart).set_data(
            data([ChartSeries("samples/s", x, tr["samples_per_s"], "green",
                              pyramid=py["samples_per_s"])]))
        self._update_gpu_charts(h, by_step, data, x0, x_end)
        cards = len(h.gpu_indices)
        # First in the line, so a narrow terminal does not crop it; d cycles the cards.
        status = f"GPU charts: card {self.shown_gpu()} of {cards} (d: next)  " if cards > 1 else ""
        if cards != self._gpu_cards:  # another run, or a first sample of another card
            self._gpu_cards = cards
            self.refresh_bindings()
        status += f"x: {'step' if by_step else 'wall time'}  window: "
        status += "whole run" if win is None else (
            f"last {win:,.0f} steps" if by_step else f"last {win / 3600:.0f} h")
        status += f"  smoothing {alpha:.2f}  ({h.n_train:,} points, {h.lines:,} lines)"
        show_text(self.query_one("#chart-status", Static), Text(status))

    def _update_quality_charts(self, h: Any, by_step: bool, data: Any, x0: float | None,
                               x_end: float | None) -> None:
        """chrF and distinct-1 of each evaluation's greedy titles; the first-N-characters
        baseline as a flat grey line across the window."""
        empty = "no title quality yet: each evaluation adds a point (--quality-samples)"
        for cid, key, color in (("chrf", "chrf", "bright_green"),
                                ("distinct", "distinct_1", "bright_magenta")):
            qs, qt, qv = h.quality_series(key)
            qx = qs if by_step else qt
            series = [ChartSeries("model", qx, qv, color, points=True)]
            base = h.quality_baseline(key)
            if base is not None and len(qx):
                lo = x0 if x0 is not None else float(qx[0])
                hi = max(x_end if x_end is not None else lo, float(qx[-1]))
                # Dense, so the chart draws a line (it joins neighbouring columns only).
                flat = np.linspace(lo, hi, BASELINE_POINTS)
                series.append(ChartSeries("baseline", flat, np.full_like(flat, base),
                                          "grey50"))
            self.query_one(f"#chart-{cid}", LineChart).set_data(
                data(series if len(qv) else [], empty_text=empty))

    def shown_gpu(self) -> int | None:
        """The card index the GPU charts show (None before any GPU sample)."""
        cards = sorted(self.watch.history.gpu_indices) if self.watch is not None else []
        return cards[self.gpu_pick % len(cards)] if cards else None

    def _update_gpu_charts(self, h: Any, by_step: bool, data: Any, x0: float | None,
                           x_end: float | None) -> None:
        g = h.gpu
        reason = h.gpu_unavailable
        empty = f"no GPU telemetry ({reason})" if reason else "no GPU samples in gpu.jsonl"
        if g.n == 0:
            for cid in ("gpu-util", "gpu-mem", "gpu-temp", "gpu-power"):
                self.query_one(f"#chart-{cid}", LineChart).set_data(data([], empty_text=empty))
            return
        gp = h.gpu_pyramids
        sel: Any = slice(None)
        if len(h.gpu_indices) > 1:
            sel = g["index"] == self.shown_gpu()
        gt = g["t"][sel]
        if by_step:
            tr = h.train
            if tr.n < 2:
                gx = np.zeros(len(gt))
            else:
                gx = np.interp(gt, tr["t"], tr["step"].astype(np.float64))
            pyr: dict[str, Any] = {}
        else:
            gx = gt
            pyr = gp if isinstance(sel, slice) else {}
        gx0 = x0 if x0 is not None else (float(gx[0]) if len(gx) else None)

        def col(name: str) -> np.ndarray:
            return g[name][sel]

        with np.errstate(invalid="ignore", divide="ignore"):
            vram_pct = 100 * col("mem_used_mib") / col("mem_total_mib")
        self.query_one("#chart-gpu-util", LineChart).set_data(data([
            ChartSeries("util %", gx, col("util_lo"), "bright_green", y_hi=col("util_hi"),
                        pyramid=pyr.get("util")),
            ChartSeries("VRAM %", gx, vram_pct, "bright_blue"),
        ], gx0))
        self.query_one("#chart-gpu-mem", LineChart).set_data(data([
            ChartSeries("used", gx, col("mem_used_mib_lo") / 1024, "bright_blue",
                        y_hi=col("mem_used_mib_hi") / 1024),
            ChartSeries("total", gx, col("mem_total_mib") / 1024, "grey50"),
        ], gx0))
        self.query_one("#chart-gpu-temp", LineChart).set_data(data([
            ChartSeries("°C", gx, col("temp_c_lo"), "red", y_hi=col("temp_c_hi"),
                        pyramid=pyr.get("temp_c")),
        ], gx0))
        self.query_one("#chart-gpu-power", LineChart).set_data(data([
            ChartSeries("W", gx, col("power_w_lo"), "yellow", y_hi=col("power_w_hi"),
                        pyramid=pyr.get("power_w")),
        ], gx0))

    # ------------------------------------------------------------------ side panels
    def progress_info(self, watch: RunWatch) -> ProgressInfo:
        return progress_for(watch.run_id, watch.history, watch.status, watch.config,
                            type(self).clock())

    def _update_progress(self, watch: RunWatch) -> None:
        self.query_one(RunProgress).show(self.progress_info(watch))

    def _update_events(self, watch: RunWatch) -> None:
        t = Text(no_wrap=True, overflow="ellipsis")
        for e in watch.history.events[-EVENT_LINES:]:
            when = e.get("t")
            stamp = time.strftime("%m-%d %H:%M", time.localtime(when)) \
                if isinstance(when, int | float) else "—"
            extra = {k: v for k, v in e.items() if k not in ("t", "step", "event", "segment")}
            detail = " ".join(f"{k}={v}" for k, v in extra.items())
            style = "red" if e.get("event") in ("oom", "nan", "failed", "collapse") else ""
            t.append(f"{stamp} @{e.get('step', '?')} ", style="dim")
            t.append(f"{e.get('event')} {detail}\n", style=style)
        if not watch.history.events:
            t.append("no events yet", style="dim")
        show_text(self.query_one("#train-events", Static), t)

    def _update_log(self, watch: RunWatch) -> None:
        lines = watch.log_tail
        if lines == self._log_tail:
            return
        log = self.query_one("#view-log", Log)
        old = self._log_tail
        # Append only what is new when the tail just moved on; otherwise redraw it.
        if old and len(lines) >= len(old) and lines[: len(old)] == old:
            log.write_lines(lines[len(old):])
        else:
            log.clear()
            log.write_lines(lines or ["(train.log is empty)"])
        self._log_tail = list(lines)

    def _update_probes(self, watch: RunWatch) -> None:
        h = watch.history
        if self._last_probe_version == h.version:
            return
        self._last_probe_version = h.version
        t = Text()
        evals = {int(e.get("step", -1)): e for e in h.evals}
        for p in reversed(h.probes[-50:]):
            step = p.get("step")
            ev = evals.get(int(step)) if isinstance(step, int) else None
            loss = ev.get("eval_loss") if ev else None
            head = f"step {step:,}" if isinstance(step, int) else "step ?"
            if isinstance(loss, int | float):
                head += f"  eval loss {loss:.4f}"
            t.append(head + "\n", style="bold")
            for item in p.get("probe") or []:
                if isinstance(item, dict):
                    t.append(f"  {item.get('story_id', '')}  ", style="dim")
                    t.append(f"{item.get('title', '')}\n")
        if not h.probes:
            t.append("no probe generations yet (they come with each evaluation)", style="dim")
        self.query_one("#train-probes", Static).update(t)

    # ------------------------------------------------------------------ actions
    def action_view(self, name: str) -> None:
        if name not in VIEWS:
            return
        self.view = name
        self.query_one(ContentSwitcher).current = f"view-{name}"
        watch = self.watch
        if name == "charts" and self._charts_dirty:
            self.update_charts()
        elif name == "log" and watch is not None:
            self._update_log(watch)
        elif name == "probes" and watch is not None:
            self._update_probes(watch)
        elif name == "launch":
            self._preview_command()
            self._check_soon()
            self.query_one(LaunchForm).focus_fields()
        self.refresh_bindings()

    def action_toggle_x(self) -> None:
        if self.view == "compare":
            self.query_one(RunCompare).cycle_axis()
            return
        self.x_mode = "time" if self.x_mode == "step" else "step"
        self.update_charts()

    def action_next_gpu(self) -> None:
        self.gpu_pick += 1
        self.update_charts()

    def action_window(self) -> None:
        self.window_index += 1
        self.update_charts()

    def action_smoothing(self, delta: float) -> None:
        watch = self.watch
        if watch is None:
            return
        alpha = round(min(0.99, max(0.0, watch.history.smoothing + delta)), 2)
        watch.history.set_smoothing(alpha)
        self.update_charts()

    def action_generate(self) -> None:
        watch = self.watch
        if watch is None:
            return
        path = checkpoint_to_open(watch.run_dir, watch.status)
        if path is None:
            self.notify(f"Run {watch.run_id} has no complete checkpoint yet", severity="warning")
            return
        self.narou.selected_checkpoint = str(path)
        self.notify(f"Generate: {path.parent.name}/{path.name}")
        self.narou.switch_mode("generate")

    def action_stop(self) -> None:
        if self.watch is not None:
            self.notify(f"Stop {self.watch.run_id}…")
            self._stop_run(self.watch.run_id)

    def action_resume(self) -> None:
        if self.watch is not None:
            self.notify(f"Resume {self.watch.run_id}…")
            self._resume_run(self.watch.run_id)

    @background("run-stop", subject=lambda run_id: run_id)
    def _stop_run(self, run_id: str) -> None:
        from core.training.launch import stop_run

        stop_run(self.narou.paths, run_id)
        self.post_message(RunActionDone("stop", run_id))

    @background("run-resume", subject=lambda run_id: run_id)
    def _resume_run(self, run_id: str) -> None:
        from core.training.launch import resume_run

        resume_run(self.narou.paths, run_id)
        self.post_message(RunActionDone("resume", run_id))

    # ------------------------------------------------------------------ launch
    def on_launch_form_changed(self, message: LaunchForm.Changed) -> None:
        self._preview_command()
        self._check_soon()

    def _check_soon(self) -> None:
        """Run the preflight once typing pauses, so its result follows the fields."""
        if self._check_timer is not None:
            self._check_timer.stop()
        self._check_timer = self.set_timer(CHECK_DEBOUNCE_S, self._check_if_shown)

    def _check_if_shown(self) -> None:
        self._check_timer = None
        if self.view == "launch" and not self.readonly:
            self.action_check_launch()

    def _preview_command(self) -> None:
        form = self.query_one(LaunchForm)
        try:
            form.show_command("$ " + form.config().cli_command())
        except Exception as exc:
            form.show_command(f"(not valid yet: {exc})")

    def _form_config(self) -> Any:
        form = self.query_one(LaunchForm)
        try:
            return form.config()
        except Exception as exc:
            form.show_findings([("error", str(exc))])
            return None

    def action_check_launch(self) -> None:
        cfg = self._form_config()
        if cfg is None:
            return
        self.query_one(LaunchForm).show_findings([("info", "checking…")])
        self._preflight(cfg)

    @background("preflight", exclusive=True)
    def _preflight(self, cfg: TrainConfig) -> None:
        from core.training.launch import preflight

        found = [(f.level, f.message) for f in preflight(self.narou.paths, cfg)]
        self.post_message(LaunchChecked(found, cfg.cli_command()))

    def on_launch_checked(self, message: LaunchChecked) -> None:
        form = self.query_one(LaunchForm)
        try:
            current = form.config().cli_command()
        except Exception:
            current = None
        if current != message.command:
            return  # the fields changed while it ran: the newer check's result is coming
        form.show_findings(message.findings)
        form.show_command("$ " + message.command)

    def action_launch(self) -> None:
        cfg = self._form_config()
        if cfg is None:
            return
        self.query_one(LaunchForm).show_findings([("info", "preflight + launching…")])
        self._launch(cfg)

    @background("launch", exclusive=True)
    def _launch(self, cfg: TrainConfig, queued: bool = False) -> None:
        from core.training.launch import LaunchError, launch
        from core.training.queue.store import queue_tables

        action = "queue" if queued else "launch"
        try:
            run_id = launch(self.narou.paths, cfg, queue=queue_tables() if queued else None)
        except LaunchError as exc:  # the preflight's findings: listed in the form
            self.post_message(RunActionDone(action, None, str(exc)))
            return
        self.post_message(RunActionDone(action, run_id))

    def worker_failed(self, worker: Worker[Any], line: str) -> None:
        if worker.group in ("preflight", "launch"):
            self.query_one(LaunchForm).show_findings([("error", line)])

    def on_button_pressed(self, event: Any) -> None:
        if event.button.id == "launch-check":
            self.action_check_launch()
        elif event.button.id == "launch-go" and not self.readonly:
            self.action_launch()
        elif event.button.id == "launch-queue" and not self.readonly:
            cfg = self._form_config()
            if cfg is not None:
                self.query_one(LaunchForm).show_findings([("info", "preflight + queueing…")])
                self._launch(cfg, queued=True)

    def on_run_action_done(self, message: RunActionDone) -> None:
        if message.error:
            if message.action in ("launch", "queue"):
                self.query_one(LaunchForm).show_findings(
                    [("error", line.strip(" -")) for line in message.error.splitlines()
                     if line.strip()])
            self.notify(f"{message.action} failed: {message.error}", severity="error",
                        timeout=15)
            return
        if message.action == "queue" and message.run_id:
            self.notify(f"Queued {message.run_id}: it starts when its devices are free")
        elif message.action == "launch" and message.run_id:
            self.notify(f"Launched {message.run_id}")
            self.attach(message.run_id)
            self.action_view("charts")
        else:
            self.notify(f"{message.action} sent to {message.run_id}")
        self._list_runs()


def queue_snapshot(checkpoints_dir: Any) -> tuple[list[Any], str | None]:
    """The queue's rows, after starting its runner if runs wait and none is alive."""
    from core.training.queue.estimate import queue_rows
    from core.training.queue.runner import ensure_runner

    if not checkpoints_dir.is_dir():
        return [], None
    note = "Started the queue runner (none was alive)" if ensure_runner(checkpoints_dir) else None
    return queue_rows(checkpoints_dir), note
