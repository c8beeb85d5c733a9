"""Train pane: launch runs, list them, and watch one live (charts, progress, log, alerts)."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TYPE_CHECKING, ClassVar

from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.screen import Screen
from textual.widgets import ContentSwitcher, DataTable, Footer, Header, Static

from core.runs.compare import RunCache, rank_runs
from core.runs.progress import progress_for
from core.runs.reader import list_runs, run_to_watch
from core.runs.train_charts import ChartView
from tui.context import app_state
from tui.messages.queue import QueueListed
from tui.messages.train import GpuSampled, RunActionDone, RunsListed, RunUpdated
from tui.run_controls import RunControls
from tui.side_column import FoldingSideColumn
from tui.widgets.gpu_panel import GpuPanel
from tui.widgets.launch_form import LaunchForm
from tui.widgets.probe_list import ProbeList
from tui.widgets.queue_list import QueueList
from tui.widgets.run_compare import RunCompare
from tui.widgets.run_events import RunEvents
from tui.widgets.run_list import RunList
from tui.widgets.run_log import RunLog
from tui.widgets.run_progress import RunProgress
from tui.widgets.train_charts import TrainCharts
from tui.workers import ForwardWorkerFailures, background

if TYPE_CHECKING:
    from core.runs.history import RunHistory
    from tui.app import NarouApp
    from tui.run_watch import RunWatch

# The watched run has its own 1 s poll; the list only finds other runs and their states.
RUN_LIST_S = 10.0
# Views of the main area, with the key that shows each.
VIEWS = ("charts", "log", "probes", "launch", "compare")


class TrainScreen(FoldingSideColumn, RunControls, ForwardWorkerFailures, Screen[None]):
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
        self.chart_view = ChartView()  # axis, window and GPU card of the charts (x, w, d)
        self.view = "charts"
        self.refresh_count = 0
        self.last_refresh_ms = 0.0
        self._auto_attached = False
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

    @property
    def history(self) -> RunHistory | None:
        return self.watch.history if self.watch is not None else None

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
                yield RunEvents("", id="train-events")
            with ContentSwitcher(initial="view-charts", id="train-main"):
                yield TrainCharts(id="view-charts")
                yield RunLog(id="view-log")
                yield VerticalScroll(ProbeList("", id="train-probes"), id="view-probes")
                yield LaunchForm(id="view-launch")
                yield RunCompare(self._run_cache, id="view-compare")
        yield Footer()

    def on_mount(self) -> None:
        app = self.narou
        if self not in app.run_listeners:
            app.run_listeners.append(self)
        app.start_gpu_sampler()
        if app.gpu_last is not None:
            self.query_one(GpuPanel).show_sampled(app.gpu_last)
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
        from core.training.queue.runner import queue_snapshot

        runs, order = list_runs(self.narou.paths), self._run_order
        if order == RunList.ORDERS[0]:
            self.post_message(RunsListed(runs))
        else:
            ranked, scores = rank_runs(runs, order, self._run_cache)
            self.post_message(RunsListed(ranked, scores))
        rows, started = queue_snapshot(self.narou.paths.checkpoints_dir)
        self.post_message(QueueListed(rows, "Started the queue runner (none was alive)"
                                      if started else None))

    def on_queue_listed(self, message: QueueListed) -> None:
        self.query_one(QueueList).update_rows(message.rows)
        if message.note:
            self.notify(message.note)

    def on_runs_listed(self, message: RunsListed) -> None:
        watched = self.watch.run_id if self.watch else None
        runs = self.query_one(RunList)
        runs.update_runs(message.runs, type(self).clock(), watched, message.scores)
        if len(runs.marked) >= 2:  # a marked run still training gets its new lines
            self.query_one(RunCompare).compare(runs.marked)
        if not self._auto_attached:
            self._auto_attached = True
            first = run_to_watch(message.runs)
            if self.watch is None and first is not None:
                self.narou.watch_run(first)

    def on_run_list_order_changed(self, message: RunList.OrderChanged) -> None:
        self._run_order = message.order
        self._list_runs()

    def on_run_list_marks_changed(self, message: RunList.MarksChanged) -> None:
        self.refresh_bindings()
        comparison = self.query_one(RunCompare)
        comparison.compare(message.marked)
        if len(message.marked) >= 2:
            if self.view != "launch":
                self.action_view("compare")
        elif self.view == "compare":
            comparison.show(None)
            self.action_view("charts")

    def on_data_table_row_selected(self, event: DataTable.RowSelected) -> None:
        if event.row_key is not None and event.row_key.value:
            self.attach(str(event.row_key.value))
            self.close_side_overlay()

    def attach(self, run_id: str) -> None:
        self.narou.watch_run(run_id)
        self.query_one(TrainCharts).follow(self.history)
        self.query_one(ProbeList).forget()
        self.query_one(RunLog).forget()
        self._list_runs()

    # ------------------------------------------------------------------ live updates
    def on_run_updated(self, message: RunUpdated) -> None:
        self._refresh_all(initial=message.initial, changed=message.appended > 0)

    def _refresh_all(self, initial: bool = False, changed: bool = True) -> None:
        t0 = time.perf_counter()
        watch = self.watch
        if watch is None:
            return
        charts = self.query_one(TrainCharts)
        if changed or initial:
            charts.stale = True
        if charts.stale and self.view == "charts":
            if initial:
                charts.show(watch.history, self.chart_view)
            else:
                charts.show_soon(watch.history, self.chart_view)
        self.query_one(RunProgress).show(progress_for(
            watch.run_id, watch.history, watch.status, watch.config, type(self).clock()))
        self.query_one(RunEvents).show(watch.history.events)
        if self.view == "log":
            self.query_one(RunLog).show(watch.log_tail)
        if self.view == "probes":
            self.query_one(ProbeList).show(watch.history)
        self.refresh_count += 1
        self.last_refresh_ms = (time.perf_counter() - t0) * 1000

    def on_gpu_sampled(self, message: GpuSampled) -> None:
        message.stop()  # handled here; never back to the App, which forwards samples to panes
        self.query_one(GpuPanel).show_sampled(message)

    def update_charts(self) -> None:
        """Redraw every chart now, from the watched run's history and the view options."""
        self.query_one(TrainCharts).show(self.history, self.chart_view)

    # ------------------------------------------------------------------ actions
    def action_view(self, name: str) -> None:
        if name not in VIEWS:
            return
        self.view = name
        self.query_one(ContentSwitcher).current = f"view-{name}"
        watch = self.watch
        if name == "charts" and self.query_one(TrainCharts).stale:
            self.update_charts()
        elif name == "log" and watch is not None:
            self.query_one(RunLog).show(watch.log_tail)
        elif name == "probes" and watch is not None:
            self.query_one(ProbeList).show(watch.history)
        elif name == "launch":
            self.query_one(LaunchForm).open()
        self.refresh_bindings()

    def action_toggle_x(self) -> None:
        if self.view == "compare":
            self.query_one(RunCompare).cycle_axis()
            return
        view = self.chart_view
        view.x_mode = "time" if view.by_step else "step"
        self.update_charts()

    def action_next_gpu(self) -> None:
        self.chart_view.gpu_pick += 1
        self.update_charts()

    def action_window(self) -> None:
        self.chart_view.window_index += 1
        self.update_charts()

    def action_smoothing(self, delta: float) -> None:
        watch = self.watch
        if watch is None:
            return
        alpha = round(min(0.99, max(0.0, watch.history.smoothing + delta)), 2)
        watch.history.set_smoothing(alpha)
        self.update_charts()

    # ------------------------------------------------------------------ launch
    def action_check_launch(self) -> None:
        self.query_one(LaunchForm).check()

    def action_launch(self) -> None:
        self.query_one(LaunchForm).start()

    def on_run_action_done(self, message: RunActionDone) -> None:
        if message.error:  # a refused launch: the form lists the findings itself
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

