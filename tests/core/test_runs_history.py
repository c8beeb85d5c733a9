"""Run history: JsonlTail offsets and torn lines, fast parser, resume rule, downsampler, EMA, ETA."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np

from core.runs.alerts import AlertTracker, stall_limit_s
from core.runs.eta import estimate
from core.runs.history import RunHistory
from core.runs.parse import MetricsParser
from core.runs.reader import RunReader, read_status
from core.runs.series import MinMaxPyramid, ema, minmax_buckets
from core.runs.tail import JsonlTail
from core.timefmt import format_duration
from tests.synthetic_run import FakeRun


def test_jsonl_tail_reads_only_new_bytes_and_holds_back_torn_line(tmp_path: Path) -> None:
    p = tmp_path / "m.jsonl"
    p.write_text('{"a":1}\n{"a":2}\n{"a":')
    tail = JsonlTail(p)
    assert [r["a"] for r in tail.poll()] == [1, 2]
    first_offset = tail.offset
    assert first_offset == len(b'{"a":1}\n{"a":2}\n')
    assert tail.poll() == []  # the torn line is not complete yet
    with open(p, "a") as fh:
        fh.write('3}\n{"a":4}\n')
    assert [r["a"] for r in tail.poll()] == [3, 4]
    read_before = tail.bytes_read
    assert tail.poll() == [] and tail.bytes_read == read_before  # nothing new: nothing read


def test_glued_line_after_a_kill_keeps_the_new_writers_record(tmp_path: Path) -> None:
    p = tmp_path / "m.jsonl"
    p.write_text('{"t":1,"step":1,"loss":2.0}\n{"t":2,"step":2,"lo{"t":3,"step":3,"loss":1.5}\n')
    tail = JsonlTail(p)
    assert [r["step"] for r in tail.poll()] == [1, 3]


def test_fast_parser_matches_json_and_survives_bad_lines(tmp_path: Path) -> None:
    fr = FakeRun(tmp_path / "r", total_steps=400, eval_every=100, save_every=200).create()
    text = fr.lines_for(300)
    lines = text.splitlines()
    lines.insert(50, '{"t": 1, "step": "x", "lo')  # garbage mid-file
    lines.insert(80, '{"t": 1, "loss": "not a number", "lr": 1}')
    blob = ("\n".join(lines) + "\n").encode()
    chunk = MetricsParser().parse(blob)
    ref = [json.loads(x) for x in text.splitlines()]
    ref_train = [r for r in ref if "loss" in r]
    assert chunk.n_train == len(ref_train) + 1  # the string-loss line is a train line (NaN)
    steps = [s for s in chunk.train["step"].tolist() if s >= 0]
    assert steps == [r["step"] for r in ref_train]
    assert len(chunk.evals) == 3 and len(chunk.probes) == 3 and len(chunk.events) == 1
    assert chunk.bad_lines == 1
    assert chunk.probes[0]["probe"][0]["title"]  # Japanese text survives


def test_resume_supersedes_later_lines_of_the_old_segment(tmp_path: Path) -> None:
    fr = FakeRun(tmp_path / "r", total_steps=1000, eval_every=100, save_every=200).create()
    fr.advance(350)
    fr.append('{"t":1,"step":351,"lo')  # killed mid-line
    reader, h = RunReader(fr.run_dir), RunHistory()
    h.apply(reader.poll_metric_chunk())
    assert h.n_train == 350 and [e["step"] for e in h.evals] == [100, 200, 300]
    fr.append("\n")  # what the resumed job does before its first line
    fr.resume_from(200)
    fr.advance(50)
    res = h.apply(reader.poll_metric_chunk())
    steps = h.train["step"]
    assert res.truncated == 150 and h.n_train == 250
    assert np.all(np.diff(steps) > 0) and steps[-1] == 250
    assert [e["step"] for e in h.evals] == [100, 200]  # the old step-300 eval is superseded
    assert int(h.train["segment"][h.segment_start]) == 1
    assert h.bad_lines == 1


def test_resume_in_one_chunk_equals_incremental(tmp_path: Path) -> None:
    fr = FakeRun(tmp_path / "r", total_steps=1000).create()
    fr.advance(300)
    fr.resume_from(120)
    fr.advance(100)
    h = RunHistory()
    h.apply(RunReader(fr.run_dir).poll_metric_chunk())
    assert h.train["step"].tolist() == list(range(1, 221))
    assert h.train["segment"][:120].tolist() == [0] * 120
    assert h.segment_start == 120


def test_downsampler_keeps_spikes_min_and_max() -> None:
    n = 1_000_000
    x = np.arange(n, dtype=np.float64)
    y = np.ones(n)
    y[123_457] = 50.0  # one spike up
    y[876_543] = -7.0  # one dip
    pyr = MinMaxPyramid()
    pyr.update(y, 0)
    for pyramid in (pyr, None):
        b = minmax_buckets(x, y, 0, n, 100, pyramid)
        assert np.nanmax(b.hi) == 50.0 and np.nanmin(b.lo) == -7.0
        assert int(np.nanargmax(b.hi)) == 12 and int(np.nanargmin(b.lo)) == 87
    naive = y[:: n // 100]  # plain decimation loses both
    assert naive.max() == 1.0 and naive.min() == 1.0


def test_pyramid_incremental_equals_full() -> None:
    rng = np.random.default_rng(0)
    y = rng.normal(size=5000)
    inc = MinMaxPyramid()
    prev = 0
    for end in (100, 257, 1000, 4000, 5000):
        inc.update(y[:end], prev)
        prev = end
    full = MinMaxPyramid()
    full.update(y, 0)
    assert np.array_equal(inc.mins, full.mins) and np.array_equal(inc.maxs, full.maxs)


def test_ema_matches_recurrence_and_continues() -> None:
    y = np.random.default_rng(1).random(3000)
    for a in (0.0, 0.3, 0.9, 0.99):
        ref, e = [], y[0]
        for v in y:
            e = a * e + (1 - a) * v
            ref.append(e)
        assert np.allclose(ema(y, a), ref)
    first = ema(y[:1000], 0.9)
    assert np.allclose(np.r_[first, ema(y[1000:], 0.9, start=first[-1])], ema(y, 0.9))
    y[10] = math.nan
    assert np.isfinite(ema(y, 0.9)).all()  # NaN points are skipped, not propagated


def test_eta_uses_rate_since_last_resume() -> None:
    # Segment 0: 100 steps at 1 step/s; segment 1 (after resume) at 4 steps/s.
    t = np.r_[np.arange(100.0), 5000 + np.arange(0, 50) / 4.0]
    steps = np.r_[np.arange(1, 101), np.arange(81, 131)]
    eta = estimate(t, steps, 100, total_steps=1130, save_every=200)
    assert eta.steps_per_s is not None and abs(eta.steps_per_s - 4.0) < 1e-9
    assert abs(eta.eta_end_s - (1130 - 130) / 4.0) < 1e-6
    assert eta.next_checkpoint_step == 200 and abs(eta.eta_checkpoint_s - 70 / 4.0) < 1e-6
    whole = estimate(t, steps, 0, 1130, 200)
    assert whole.steps_per_s is not None and whole.steps_per_s < 0.1  # the gap would skew it
    assert format_duration(3725) == "01:02:05" and format_duration(None) == "—"


def test_alerts_transitions_nan_and_stall() -> None:
    tr = AlertTracker("r1")
    assert tr.observe_state("finished") == []  # first sight of an old run: silent
    tr = AlertTracker("r2")
    assert tr.observe_state("running") == []
    kinds = [a.kind for a in tr.observe_state("died")]
    assert kinds == ["died"]
    assert [a.kind for a in tr.observe_nan([7], now=100.0)] == ["nan"]
    assert tr.observe_nan([8], now=110.0) == []  # not again within a minute
    t = np.arange(0, 100, 2.0)  # a step every 2 s
    steps = np.arange(1, 51)
    limit = stall_limit_s(t, steps, 0)
    assert limit is not None and limit >= 10.0
    st = AlertTracker("r3")
    assert st.observe_progress(t, steps, 0, "running", now=t[-1] + 1) == []
    assert st.observe_progress(t, steps, 0, "running", now=t[-1] + limit - 1) == []
    stalls = st.observe_progress(t, steps, 0, "running", now=t[-1] + limit + 1)
    assert [a.kind for a in stalls] == ["stall"]
    assert st.observe_progress(t, steps, 0, "running", now=t[-1] + limit + 50) == []  # once


def test_died_from_stale_heartbeat_or_dead_pid(tmp_path: Path) -> None:
    fr = FakeRun(tmp_path / "r").create()
    fr.write_status("running", updated_at=1.0)  # heartbeat long ago
    st = read_status(fr.run_dir)
    assert st is not None and st.state == "died" and st.extra["written_state"] == "running"
    import subprocess
    import sys

    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    fr.write_status("running", pid=proc.pid)
    assert read_status(fr.run_dir).state == "died"  # type: ignore[union-attr]


# ------------------------------------------------------------------ metrics.bin sidecar
def _load_all(run_dir: Path, use_sidecar: bool) -> tuple[RunHistory, RunReader]:
    reader, h = RunReader(run_dir), RunHistory()
    reader.use_sidecar = use_sidecar
    while True:
        chunk = reader.poll_metric_chunk(1 << 16)
        if chunk.lines == 0:
            return h, reader
        h.apply(chunk)


def _assert_same(a: RunHistory, b: RunHistory) -> None:
    assert a.n_train == b.n_train > 0
    for k in a.train.names():
        if k == "ema":  # summed in other chunk sizes: equal up to rounding
            np.testing.assert_allclose(a.train[k], b.train[k], rtol=1e-12)
        else:
            np.testing.assert_array_equal(a.train[k], b.train[k], err_msg=k)
    assert a.evals == b.evals and a.probes == b.probes and a.events == b.events
    assert (a.lines, a.bad_lines, a.segment_start) == (b.lines, b.bad_lines, b.segment_start)


def _resumed_run(tmp_path: Path) -> FakeRun:
    fr = FakeRun(tmp_path / "r", total_steps=1000, eval_every=100, save_every=200).create()
    fr.advance(350, nan_at=77)
    fr.append('{"t":1,"step":351,"lo')  # killed mid-line
    fr.append("\n")
    fr.resume_from(200)
    fr.advance(120)
    return fr


def test_sidecar_gives_what_the_jsonl_parse_gives_resume_included(tmp_path: Path) -> None:
    from core.runs.sidecar import SIDECAR_FILE

    fr = _resumed_run(tmp_path)
    assert (fr.run_dir / SIDECAR_FILE).stat().st_size > 0
    fast, reader = _load_all(fr.run_dir, True)
    slow, _ = _load_all(fr.run_dir, False)
    assert reader.sidecar_bytes == (fr.run_dir / "metrics.jsonl").stat().st_size
    _assert_same(fast, slow)
    assert fast.train["step"].tolist() == list(range(1, 321))  # superseded 201..350 gone
    assert [e["step"] for e in fast.evals] == [100, 200, 300]
    assert fast.bad_lines == 1
    # The NaN alert still fires from a sidecar load.
    tail = RunReader(fr.run_dir)
    assert tail.poll_metric_chunk().non_finite_steps == [77]


def test_sidecar_torn_record_ignored_then_cut_by_the_next_writer(tmp_path: Path) -> None:
    from core.runs.sidecar import RECORD, SIDECAR_FILE

    fr = _resumed_run(tmp_path)
    side = fr.run_dir / SIDECAR_FILE
    size = side.stat().st_size
    with open(side, "ab") as fh:
        fh.write(b"\x01" * (RECORD.itemsize // 2))  # killed mid-record
    fast, reader = _load_all(fr.run_dir, True)
    assert reader.sidecar_bytes > 0
    _assert_same(fast, _load_all(fr.run_dir, False)[0])
    fr.advance(10)
    assert (side.stat().st_size - size) % RECORD.itemsize == 0
    fast, reader = _load_all(fr.run_dir, True)
    assert reader.sidecar_bytes == (fr.run_dir / "metrics.jsonl").stat().st_size
    _assert_same(fast, _load_all(fr.run_dir, False)[0])


def test_sidecar_absent_or_behind_falls_back_to_the_jsonl(tmp_path: Path) -> None:
    from core.runs.sidecar import SIDECAR_FILE
    from core.runs.writers import MetricsWriter

    fr = _resumed_run(tmp_path)
    fr.append(fr.lines_for(40))  # appended behind the writer's back: not in the sidecar
    fast, reader = _load_all(fr.run_dir, True)
    assert 0 < reader.sidecar_bytes < (fr.run_dir / "metrics.jsonl").stat().st_size
    _assert_same(fast, _load_all(fr.run_dir, False)[0])
    fr.advance(5)  # the writer back-fills the gap before its own lines
    fast, reader = _load_all(fr.run_dir, True)
    assert reader.sidecar_bytes == (fr.run_dir / "metrics.jsonl").stat().st_size
    _assert_same(fast, _load_all(fr.run_dir, False)[0])
    (fr.run_dir / SIDECAR_FILE).unlink()  # an older run
    fast, reader = _load_all(fr.run_dir, True)
    assert reader.sidecar_bytes == 0
    _assert_same(fast, _load_all(fr.run_dir, False)[0])
    MetricsWriter(fr.run_dir, 2).close()  # a resume of an older run starts no partial sidecar
    assert not (fr.run_dir / SIDECAR_FILE).exists()


def test_sidecar_of_another_file_is_not_trusted(tmp_path: Path) -> None:
    fr = FakeRun(tmp_path / "r", total_steps=1000).create()
    fr.advance(100)
    (fr.run_dir / "metrics.jsonl").write_text(fr.lines_for(10))  # replaced, shorter
    fast, reader = _load_all(fr.run_dir, True)
    assert reader.sidecar_bytes == 0 and fast.n_train == 10


def test_compile_activity_explains_a_quiet_first_step_only_while_it_lasts() -> None:
    from core.runs.history import compile_activity

    started = {"t": 100.0, "step": 0, "event": "started"}
    compiling = {"t": 100.5, "step": 0, "event": "compiling", "mode": "on"}
    assert compile_activity([started], 200.0) is None
    assert compile_activity([started, compiling], 190.5) == (
        "compiling the model (torch.compile on, first step) for 1m30s…")
    # Another event meanwhile (a disk warning) does not hide it; the outcome ends it.
    warn = {"t": 150.0, "step": 0, "event": "disk_low"}
    assert compile_activity([started, compiling, warn], 160.5).endswith("for 1m00s…")
    for done in ("compiled", "compile_failed"):
        assert compile_activity([started, compiling, {"t": 200.0, "event": done}], 300.0) is None
    # A resumed segment that has not begun compiling yet shows nothing from the old segment.
    assert compile_activity([started, compiling, {"t": 300.0, "event": "resumed"}], 400.0) is None
