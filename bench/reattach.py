"""Reattach benchmark: a synthetic 50-hour run (≥ 1M metric lines + 50 h of gpu.jsonl), then
time-to-history in the real Train pane, per-refresh cost under a 100 lines/s writer (a
separate process, as a real job is), memory, and a LlamaBoard-style baseline (re-read and
re-plot the whole log every refresh). The run is written through the job's MetricsWriter, so
it has the metrics.bin sidecar a real run has; `reattach_jsonl_only_s` is the same reattach
with the sidecar moved away (an older run: every line parsed from metrics.jsonl).

    .venv/bin/python bench/reattach.py [--lines 1000000] [--refreshes 10] [--keep DIR]
    .venv/bin/python bench/reattach.py --only-watch-cost [--watch-cost 30]
Last line of output: one JSON object with the figures.

Watching cost: the real TUI (`narou-tui attach`) in a detached tmux session, attached to a
synthetic 20,000-step run; its CPU time (utime + stime from /proc/<pid>/stat) over a window,
as a percentage of one core, first with nothing new but the job's status heartbeat (every 5 s),
then with a writer process also appending one metrics line per second.
"""

from __future__ import annotations

import sys

# Run as a script: import `core` from this checkout (the repository root), not an install.
sys.path[0] = __file__.rsplit("/", 2)[0] or "."

import argparse  # noqa: E402
import asyncio  # noqa: E402
import json  # noqa: E402
import os  # noqa: E402
import shutil  # noqa: E402
import subprocess  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402
import psutil  # noqa: E402

from core.paths import Paths  # noqa: E402
from core.runs import sidecar  # noqa: E402
from core.runs.history import RunHistory  # noqa: E402
from core.runs.parse import MetricsParser  # noqa: E402
from core.runs.schema import HEARTBEAT_S  # noqa: E402
from core.runs.series import ChartData, ChartSeries  # noqa: E402
from tests.synthetic_run import FakeRun  # noqa: E402
from tui.widgets.line_chart import LineChart  # noqa: E402

HOURS = 50.0


def write_run(root: Path, lines: int) -> tuple[FakeRun, float]:
    t0 = time.perf_counter()
    step_s = HOURS * 3600 / lines
    fr = FakeRun(root / "checkpoints" / "long-run", total_steps=int(lines * 1.2),
                 eval_every=2000, save_every=10000, step_s=step_s,
                 t0=time.time() - HOURS * 3600).create()
    block = 20_000
    # Through the job's MetricsWriter (JSONL + metrics.bin sidecar), a block per flush.
    while fr.step < lines:
        fr.advance(min(block, lines - fr.step))
    with open(fr.run_dir / "gpu.jsonl", "a", encoding="utf-8") as fh:
        fh.write(fr.gpu_lines(fr.t0, fr.t0 + HOURS * 3600))
    fr.log("step 1 ...\n" * 50)
    return fr, time.perf_counter() - t0


def baseline_refresh(metrics: Path) -> float:
    """LlamaBoard-style: read the whole file, json-parse every line, rebuild, re-plot."""
    t0 = time.perf_counter()
    steps, losses = [], []
    with open(metrics, encoding="utf-8") as fh:
        for line in fh:
            try:
                rec = json.loads(line)
            except ValueError:
                continue
            if "loss" in rec:
                steps.append(rec["step"])
                losses.append(rec["loss"])
    x = np.array(steps, np.float64)
    y = np.array(losses, np.float64)
    chart = LineChart("loss")
    chart.data = ChartData([ChartSeries("loss", x, y)])
    chart.draw(100, 14)
    return time.perf_counter() - t0


def writer_main(run_dir: str, step: int, total: int, step_s: float, t0: float) -> None:
    """The appending job: 100 lines/s (20 steps every 0.2 s) until terminated."""
    fr = FakeRun(Path(run_dir), total_steps=total, eval_every=2000, save_every=10000,
                 step_s=step_s, t0=t0, seed=1)
    fr.step = step
    while True:
        fr.advance(20)
        time.sleep(0.2)


def slow_writer_main(run_dir: str, step: int, total: int, lines: bool, pid: int) -> None:
    """The watched job: a status heartbeat every HEARTBEAT_S as a real job writes it, and with
    `lines` one metrics line per second; until terminated."""
    fr = FakeRun(Path(run_dir), total_steps=total, eval_every=10**9, save_every=10**9,
                 step_s=1.0, t0=time.time() - step, seed=2)
    fr.step = step
    tick = 0
    while True:
        if lines:
            fr.advance(1)
        if tick % int(HEARTBEAT_S) == 0:
            fr.write_status("running", pid=pid)
        tick += 1
        time.sleep(1.0)


def cpu_seconds(pid: int) -> float:
    """utime + stime of a process, in seconds (fields 14 and 15 of /proc/<pid>/stat)."""
    raw = Path(f"/proc/{pid}/stat").read_text()
    # The command name (field 2) may hold spaces; the fields after its ')' are fixed.
    fields = raw[raw.rindex(")") + 2:].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def core_share(pid: int, seconds: float) -> float:
    """Percent of one core the process used over the next `seconds` of wall time."""
    c0, t0 = cpu_seconds(pid), time.monotonic()
    time.sleep(seconds)
    return 100 * (cpu_seconds(pid) - c0) / (time.monotonic() - t0)


def watch_cost(seconds: float, steps: int = 20_000) -> dict[str, float]:
    """CPU share of an attached TUI: with only the job's heartbeat, then with one new metrics
    line per second as well."""
    root = Path(tempfile.mkdtemp(prefix="narou-watch-"))
    sock = f"narou-watch-{os.getpid()}"
    writer: subprocess.Popen[bytes] | None = None
    try:
        fr = FakeRun(root / "checkpoints" / "watched", total_steps=steps * 2, eval_every=500,
                     save_every=5000, step_s=1.0, t0=time.time() - steps).create()
        while fr.step < steps:
            fr.advance(min(5000, steps - fr.step))
        with open(fr.run_dir / "gpu.jsonl", "a", encoding="utf-8") as fh:
            fh.write(fr.gpu_lines(fr.t0, time.time()))
        (root / "datasets").mkdir()
        repo = Path(__file__).resolve().parents[1]
        cmd = (f"cd {repo} && PYTHONPATH={repo} exec {sys.executable} -m tui "
               f"--datasets-dir {root / 'datasets'} --checkpoints-dir {root / 'checkpoints'} "
               f"attach watched --readonly")
        pid = int(subprocess.check_output(
            ["tmux", "-L", sock, "new-session", "-d", "-x", "120", "-y", "40", "-P", "-F",
             "#{pane_pid}", cmd], text=True).strip())
        # Let it start and chart the history before the window opens.
        time.sleep(12)
        if not Path(f"/proc/{pid}").exists():
            raise SystemExit(f"the attached TUI exited during start-up; run by hand to see why: {cmd}")
        shares = []
        for lines in (False, True):
            writer = subprocess.Popen([sys.executable, __file__, "--slow-writer", str(fr.run_dir),
                                       str(fr.step), str(fr.total_steps), str(int(lines)),
                                       str(os.getpid())])
            time.sleep(3)  # the writer's interpreter starts
            shares.append(core_share(pid, seconds))
            writer.terminate()
            writer.wait()
            writer = None
        idle, busy = shares
        return {"watch_idle_core_pct": idle, "watch_1line_s_core_pct": busy,
                "watch_window_s": seconds}
    finally:
        if writer is not None:
            writer.terminate()
            writer.wait()
        subprocess.run(["tmux", "-L", sock, "kill-server"], check=False,
                       stderr=subprocess.DEVNULL)
        shutil.rmtree(root, ignore_errors=True)


def train_records(run_dir: Path) -> int:
    got = sidecar.load(run_dir)
    assert got is not None, "the bench run has no usable metrics.bin"
    return int((got[0]["kind"] == sidecar.TRAIN).sum())


async def measure(root: Path, fr: FakeRun, refreshes: int, expect: int) -> dict[str, float]:
    from tui.app import LaunchOptions, NarouApp
    from tui.screens.train import TrainScreen

    paths = Paths(root / "datasets", root / "checkpoints", root / "config")
    paths.datasets_dir.mkdir(exist_ok=True)
    t_start = time.perf_counter()
    app = NarouApp(paths, LaunchOptions("train", "long-run", readonly=True))
    NarouApp.RUN_POLL_S = 0.25
    out: dict[str, float] = {}
    async with app.run_test(size=(140, 45)) as pilot:
        while True:
            screen = app.screen
            watch = app.run_watch
            if (isinstance(screen, TrainScreen) and watch is not None and watch.polls
                    and screen.refresh_count and watch.history.n_train >= expect):
                await pilot.pause()
                break
            await asyncio.sleep(0.01)
        out["reattach_s"] = time.perf_counter() - t_start
        out["history_points"] = watch.history.n_train
        out["sidecar_bytes"] = float(watch.reader.sidecar_bytes)
        if not refreshes:
            return out
        # Writer: 100 lines/s appended by another process (20 lines every 0.2 s).
        proc = subprocess.Popen([sys.executable, __file__, "--writer", str(fr.run_dir),
                                 str(fr.step), str(fr.total_steps), repr(fr.step_s),
                                 repr(fr.t0)])
        polls, cpus, applies, draws, bytes_read, new_lines = [], [], [], [], [], []
        # The writer is a fresh interpreter: count refreshes from its first delivered line on,
        # or the first few refreshes (made while it was still importing) read nothing.
        lines_before = watch.history.lines
        started = time.perf_counter() + 60
        while watch.history.lines == lines_before and time.perf_counter() < started:
            await asyncio.sleep(0.05)
        seen = watch.polls
        lines_before = watch.history.lines
        deadline = time.perf_counter() + 30 + 5 * refreshes
        while len(polls) < refreshes and time.perf_counter() < deadline:
            await asyncio.sleep(0.05)
            if os.environ.get("BENCH_DEBUG"):
                print(watch.polls, seen, screen.refresh_count, app._exception, flush=True)
            if watch.polls != seen and screen.refresh_count:
                seen = watch.polls
                polls.append(watch.last_poll_ms)
                cpus.append(watch.last_poll_cpu_ms)
                applies.append(watch.last_apply_ms)
                draws.append(screen.last_refresh_ms)
                bytes_read.append(watch.last_bytes)
                new_lines.append(watch.history.lines - lines_before)
                lines_before = watch.history.lines
        proc.terminate()
        proc.wait()
        # Chart drawing itself (render of every chart at its real size), forced once more.
        t0 = time.perf_counter()
        charts = list(screen.query(LineChart))
        for c in charts:
            c.draw(max(c.content_size.width, 40), max(c.content_size.height, 8))
        out["draw_all_charts_ms"] = (time.perf_counter() - t0) * 1000
        out["poll_ms"] = float(np.median(polls))
        out["poll_cpu_ms"] = float(np.median(cpus))
        out["apply_ms"] = float(np.median(applies))
        out["pane_update_ms"] = float(np.median(draws))
        out["refresh_ms"] = out["poll_ms"] + out["apply_ms"] + out["pane_update_ms"]
        out["bytes_per_refresh"] = float(np.median(bytes_read))
        out["lines_per_refresh"] = float(np.median(new_lines))
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--lines", type=int, default=1_000_000)
    ap.add_argument("--refreshes", type=int, default=10)
    ap.add_argument("--baseline-runs", type=int, default=2)
    ap.add_argument("--keep", type=Path, default=None, help="write the run here and keep it")
    ap.add_argument("--watch-cost", type=float, default=30.0, metavar="S",
                    help="seconds in each watching-cost window (0: skip that part)")
    ap.add_argument("--only-watch-cost", action="store_true",
                    help="measure only the watching cost")
    ap.add_argument("--writer", nargs=5, help=argparse.SUPPRESS)
    ap.add_argument("--slow-writer", nargs=5, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.writer:
        d, step, total, step_s, t0 = args.writer
        writer_main(d, int(step), int(total), float(step_s), float(t0))
        return
    if args.slow_writer:
        d, step, total, lines, pid = args.slow_writer
        slow_writer_main(d, int(step), int(total), lines == "1", int(pid))
        return
    if args.only_watch_cost:
        res = watch_cost(args.watch_cost)
        print(f"watching a 20k-step run, idle:       {res['watch_idle_core_pct']:.2f}% of one core")
        print(f"  same, one new metrics line/second: {res['watch_1line_s_core_pct']:.2f}% of one core")
        print(json.dumps({k: round(v, 4) for k, v in res.items()}))
        return
    root = args.keep or Path(tempfile.mkdtemp(prefix="narou-reattach-"))
    try:
        fr, write_s = write_run(root, args.lines)
        metrics = fr.run_dir / "metrics.jsonl"
        size_mb = metrics.stat().st_size / 2**20
        gpu_lines = (fr.run_dir / "gpu.jsonl").read_bytes().count(b"\n")
        # Parse-only figure (no TUI) for reference.
        t0 = time.perf_counter()
        h = RunHistory()
        h.apply(MetricsParser().parse(metrics.read_bytes()))
        parse_only_s = time.perf_counter() - t0
        del h
        n_lines = fr.step
        res = asyncio.run(measure(root, fr, args.refreshes, fr.step))
        # The same reattach without the sidecar (an older run): every line parsed as JSON.
        expect = train_records(fr.run_dir)
        (fr.run_dir / sidecar.SIDECAR_FILE).rename(fr.run_dir / "metrics.bin.away")
        res["reattach_jsonl_only_s"] = asyncio.run(measure(root, fr, 0, expect))["reattach_s"]
        rss_mb = psutil.Process(os.getpid()).memory_info().rss / 2**20
        base = [baseline_refresh(metrics) for _ in range(args.baseline_runs)]
        res["baseline_refresh_ms"] = float(np.median(base)) * 1000
        res["rss_mb"] = rss_mb
        res["metric_lines"] = float(n_lines)
        res["metrics_mb"] = size_mb
        res["gpu_lines"] = float(gpu_lines)
        res["parse_only_s"] = parse_only_s
        res["write_s"] = write_s
        res["refresh_speedup"] = res["baseline_refresh_ms"] / res["refresh_ms"]
        if args.watch_cost > 0:
            res.update(watch_cost(args.watch_cost))
        rows = [
            ("metric lines (train steps)", f"{res['metric_lines']:,.0f}"),
            ("metrics.jsonl", f"{size_mb:,.0f} MiB"),
            ("gpu.jsonl lines (50 h)", f"{gpu_lines:,}"),
            ("parse all lines, no UI", f"{parse_only_s:.2f} s"),
            ("reattach: app start → whole history charted", f"{res['reattach_s']:.2f} s"),
            ("  same, without metrics.bin (JSONL only)", f"{res['reattach_jsonl_only_s']:.2f} s"),
            ("refresh: poll + apply + pane update", f"{res['refresh_ms']:.1f} ms"),
            ("  poll (read + parse new bytes), wall", f"{res['poll_ms']:.2f} ms"),
            ("  poll, CPU time of its thread", f"{res['poll_cpu_ms']:.2f} ms"),
            ("  apply (append to history)", f"{res['apply_ms']:.2f} ms"),
            ("  pane update (charts, progress)", f"{res['pane_update_ms']:.2f} ms"),
            ("  bytes read per refresh", f"{res['bytes_per_refresh']:,.0f}"),
            ("  new lines per refresh", f"{res['lines_per_refresh']:,.0f}"),
            ("draw all 8 charts once", f"{res['draw_all_charts_ms']:.1f} ms"),
            ("baseline refresh (re-read + re-plot all)", f"{res['baseline_refresh_ms']:.0f} ms"),
            ("refresh speed-up vs baseline", f"{res['refresh_speedup']:.0f}x"),
            ("process RSS", f"{rss_mb:.0f} MiB"),
        ]
        if args.watch_cost > 0:
            rows += [
                ("watching a 20k-step run, idle (% of a core)", f"{res['watch_idle_core_pct']:.2f}%"),
                ("  same, one new metrics line per second", f"{res['watch_1line_s_core_pct']:.2f}%"),
            ]
        w = max(len(a) for a, _ in rows)
        for a, b in rows:
            print(f"{a.ljust(w)}  {b}")
        print(json.dumps({k: round(v, 4) for k, v in res.items()}))
    finally:
        if args.keep is None:
            shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
