"""One rule for which metrics lines count: live view == fresh reattach (JSONL and metrics.bin)."""

from __future__ import annotations

import json
import math
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from core.cli.main import main as cli_main
from core.runs.history import RunHistory, read_history
from core.runs.parse import TRAIN_FIELDS
from core.runs.reader import RunReader
from core.runs.rule import BACKWARD, NO_STEP, STALE, effective_history, ignored_lines, is_train
from core.runs.sidecar import SIDECAR_FILE
from core.runs.tail import parse_line
from core.runs.writers import MetricsWriter
from tests.synthetic_run import FakeRun

HUGE = 200_000  # longer than the parser's bisection floor (64 KiB) and than any poll here


def _reattach(run_dir: Path, use_sidecar: bool, max_bytes: int | None = None) -> tuple[RunHistory, RunReader]:
    reader, h = RunReader(run_dir), RunHistory()
    reader.use_sidecar = use_sidecar
    while True:
        chunk = reader.poll_metric_chunk(max_bytes)
        if chunk.lines == 0:
            return h, reader
        h.apply(chunk)


def _same(a: RunHistory, b: RunHistory) -> None:
    assert a.n_train == b.n_train
    for k in (*TRAIN_FIELDS, "step", "segment"):
        np.testing.assert_array_equal(a.train[k], b.train[k], err_msg=k)
    np.testing.assert_allclose(a.train["ema"], b.train["ema"], rtol=1e-9)
    assert a.evals == b.evals and a.probes == b.probes and a.events == b.events
    assert a.ignored == b.ignored
    assert (a.lines, a.bad_lines, a.segment_start) == (b.lines, b.bad_lines, b.segment_start)


@dataclass
class Scenario:
    """A run directory written by a job (MetricsWriter) and damaged by hand, with the history
    the rule must give: every good line not replaced by a real resume, nothing else."""

    run_dir: Path
    draw: Any
    segment: int = 0
    step: int = 0  # last good step written
    last: int = -1  # the rule's "last kept step"
    steps: list[tuple[int, int]] = field(default_factory=list)  # expected (step, segment)
    evals: list[int] = field(default_factory=list)
    ignored: dict[str, int] = field(default_factory=dict)
    pending: bytes = b""  # rest of a torn line, if one is open

    def __post_init__(self) -> None:
        self.run_dir.mkdir(parents=True)
        MetricsWriter(self.run_dir, 0).close(sync=False)  # the job creates metrics.bin first
        self.live, self.h = RunReader(self.run_dir), RunHistory()

    # ------------------------------------------------------------- writing
    def good_record(self, variant: str) -> dict[str, Any]:
        self.step += 1
        loss: Any = 3.0 / self.step
        if variant == "nan":
            loss = math.nan
        elif variant == "string":
            loss = "oops"
        rec = {"t": 1000.0 + self.step, "step": self.step, "epoch": self.step / 100, "loss": loss,
               "lr": 1e-4, "grad_norm": 1.5, "samples_per_s": 300.0}
        if variant == "huge":
            rec["note"] = "x" * HUGE
        self.steps.append((self.step, self.segment))
        self.last = self.step
        return rec

    def write(self, records: list[dict[str, Any]], heal: bool = False) -> None:
        # A torn line is now never completed: a resumed job's heal newline ends it, or
        # else the first line written glues onto it (and a reader recovers that line).
        self.pending = b""
        w = MetricsWriter(self.run_dir, self.segment, heal=heal)
        try:
            w.write_many(records)
        finally:
            w.close(sync=False)
        self.check()

    def raw(self, data: bytes) -> None:
        """Append by hand, in up to three pieces of drawn sizes, the live view polled after
        each piece."""
        if self.pending:
            data = b"\n" + data  # a torn line never completed: it stays one bad line
            self.pending = b""
        for left in (2, 1, 0):
            if not data:
                break
            n = len(data) if not left else self.draw(st.integers(1, len(data)))
            with open(self.run_dir / "metrics.jsonl", "ab") as fh:
                fh.write(data[:n])
            data = data[n:]
            self.check(model=not data)

    def ignore(self, reason: str) -> None:
        self.ignored[reason] = self.ignored.get(reason, 0) + 1

    # ------------------------------------------------------------- actions
    def act(self, action: tuple[Any, ...]) -> None:
        kind = action[0]
        if kind == "good":
            self.write([self.good_record(action[2]) for _ in range(action[1])])
        elif kind == "raw_good":
            recs = [{**self.good_record("plain"), "segment": self.segment} for _ in range(action[1])]
            self.raw(b"".join(json.dumps(r).encode() + b"\n" for r in recs))
        elif kind == "eval" and self.step > (self.evals[-1] if self.evals else 0):
            self.evals.append(self.step)
            self.write([{"t": 1000.0 + self.step, "step": self.step, "eval_loss": 2.0},
                        {"t": 1000.0 + self.step, "step": self.step,
                         "probe": [{"story_id": "n1", "title": "転生したら"}]}])
        elif kind == "resume":
            back = min(action[1], self.step)
            at = self.step - back
            self.segment += 1
            self.step = at
            self.last = min(self.last, at)
            self.steps = [(s, g) for s, g in self.steps if s <= at]
            self.evals = [s for s in self.evals if s <= at]
            self.write([{"t": 2000.0, "step": at, "event": "resumed", "checkpoint": None}], heal=True)
        elif kind == "backward" and self.last >= 0:
            rec: dict[str, Any] = {"t": 1.0, "step": min(action[1], self.last), "loss": 9.0}
            if action[2]:
                rec["segment"] = self.segment
            self.ignore(BACKWARD)
            self.raw(json.dumps(rec).encode() + b"\n")
        elif kind == "stale" and self.segment > 0:  # a writer of a replaced segment goes on
            self.ignore(STALE)
            rec = {"t": 1.0, "step": self.step + 1000, "segment": self.segment - 1,
                   **({"loss": 9.0} if action[1] else {"eval_loss": 9.0})}
            self.raw(json.dumps(rec).encode() + b"\n")
        elif kind == "bad_step":
            self.ignore(NO_STEP)
            self.raw(b'{"t": 1, "step": ' + action[1] + b', "loss": 1.0}\n')
        elif kind == "garbage":
            self.raw(action[1].replace(b"\n", b"") + b"\n")
        elif kind == "huge_garbage":
            self.raw(b'{"loss": 1, "step": 5' + b"9" * HUGE + b"\n")
        elif kind == "torn":
            step, last, steps = self.step, self.last, list(self.steps)
            line = json.dumps({**self.good_record("plain"), "segment": self.segment}).encode() + b"\n"
            self.step, self.last, self.steps = step, last, steps  # counted when the rest arrives
            cut = max(1, min(len(line) - 1, action[1]))
            self.raw(line[:cut])
            self.pending = line[cut:]
        elif kind == "finish" and self.pending:
            rest, self.pending = self.pending, b""
            self.good_record("plain")
            with open(self.run_dir / "metrics.jsonl", "ab") as fh:
                fh.write(rest)
            self.check()

    # ------------------------------------------------------------- the property
    def check(self, model: bool = True) -> None:
        while True:
            chunk = self.live.poll_metric_chunk(self.draw(st.sampled_from([64, 700, 1 << 16])))
            if chunk.lines == 0:
                break
            self.h.apply(chunk)
        jsonl, _ = _reattach(self.run_dir, False)
        side, reader = _reattach(self.run_dir, True)
        _same(self.h, jsonl)
        _same(self.h, side)
        if not model or self.pending:
            return
        assert [(int(s), int(g)) for s, g in zip(self.h.train["step"], self.h.train["segment"],
                                                 strict=True)] == self.steps
        assert [e["step"] for e in self.h.evals] == self.evals
        assert [p["step"] for p in self.h.probes] == self.evals
        assert self.h.ignored == self.ignored
        blob = (self.run_dir / "metrics.jsonl").read_bytes()
        recs = [r for r in (parse_line(x) for x in blob.split(b"\n")[:-1]) if r is not None]
        kept = [r["step"] for r in effective_history(recs) if is_train(r)]
        assert kept == [s for s, _ in self.steps]


ACTIONS = st.one_of(
    st.tuples(st.just("good"), st.integers(1, 4), st.sampled_from(["plain", "plain", "nan", "string"])),
    st.tuples(st.just("good"), st.just(1), st.just("huge")),
    st.tuples(st.just("raw_good"), st.integers(1, 3)),
    st.tuples(st.just("eval")),
    st.tuples(st.just("resume"), st.integers(0, 6)),
    st.tuples(st.just("backward"), st.integers(0, 50), st.booleans()),
    st.tuples(st.just("stale"), st.booleans()),
    st.tuples(st.just("bad_step"), st.sampled_from([b'"x"', b"NaN", b"null", b"1e999", b"-3"])),
    st.tuples(st.just("garbage"), st.binary(max_size=40)),
    st.tuples(st.just("huge_garbage")),
    st.tuples(st.just("torn"), st.integers(1, 120)),
    st.tuples(st.just("finish")),
)


@settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(ACTIONS, min_size=1, max_size=15), st.data())
def test_live_view_equals_a_fresh_reattach_after_every_append(actions: list[tuple[Any, ...]],
                                                              data: st.DataObject) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        sc = Scenario(Path(tmp) / "run", data.draw)
        for action in actions:
            sc.act(action)
        sc.act(("good", 1, "plain"))  # a writer line after everything: the sidecar catches up
        assert (Path(tmp) / "run" / SIDECAR_FILE).stat().st_size > 16


# ------------------------------------------------------------------ the reported damage
def test_a_backward_line_keeps_the_whole_history_and_is_reported(tmp_path: Path, capsys) -> None:
    root = tmp_path / "checkpoints"
    fr = FakeRun(root / "r1", total_steps=3000, eval_every=500, save_every=1000).create()
    fr.advance(2000)
    live, h = RunReader(fr.run_dir), RunHistory()
    h.apply(live.poll_metric_chunk())
    assert h.n_train == 2000
    fr.append('{"t": 1, "step": 5, "loss": 1.0, "lr": 1e-5}\n')  # no resume, no segment
    fr.append('{"t": 1, "step": 1999, "loss": 1.0, "segment": 0}\n')  # same segment
    res = h.apply(live.poll_metric_chunk())
    assert (res.appended, res.truncated, res.ignored) == (0, 0, 2)
    assert h.n_train == 2000 and h.train["step"][-1] == 2000
    assert [e["step"] for e in h.evals] == [500, 1000, 1500, 2000]
    assert ignored_lines(h.ignored) == ["2 lines ignored: step went back without a resume"]
    _same(h, read_history(fr.run_dir))
    fr.advance(10)  # the job goes on: its lines still count
    h.apply(live.poll_metric_chunk())
    assert h.train["step"][-1] == 2010
    assert cli_main(["status", "r1", "--checkpoints-dir", str(root)]) == 0
    out = capsys.readouterr().out
    assert "2 lines ignored: step went back without a resume" in out
    assert "2,010 train points" in out


@pytest.mark.parametrize("sidecar", [True, False])
def test_a_real_resume_still_replaces_what_came_after_its_step(tmp_path: Path, sidecar: bool) -> None:
    fr = FakeRun(tmp_path / "r", total_steps=1000, eval_every=100, save_every=200).create()
    fr.advance(350)
    fr.resume_from(200)
    fr.advance(30)
    h, _ = _reattach(fr.run_dir, sidecar, 1 << 12)
    assert h.train["step"].tolist() == list(range(1, 231)) and h.ignored == {}
    assert int(h.train["segment"][h.segment_start]) == 1 and h.segment_start == 200
    assert [e["step"] for e in h.evals] == [100, 200]
    # A new segment value without a resumed event is a resume the writer recorded too.
    fr.segment = 2
    fr.step = 219
    fr.advance(5)
    h2, _ = _reattach(fr.run_dir, sidecar)
    assert h2.train["step"].tolist()[-6:] == [219, 220, 221, 222, 223, 224]
    assert h2.train["segment"].tolist()[-5:] == [2] * 5 and h2.ignored == {}
