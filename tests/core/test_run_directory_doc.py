"""docs/RUN_DIRECTORY.md holds the writers: real jobs emit exactly the documented fields."""

from __future__ import annotations

import ast
import json
import re
from collections.abc import Iterator
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any

import pytest

from core.paths import REPO_ROOT
from core.runs import sidecar
from core.runs.rule import effective_history
from core.runs.schema import RunState, RunStatus
from core.runs.writers import GpuLogger, JsonlWriter
from core.telemetry.nvml import GpuSample, ProcessMem
from core.training.checkpoint import TrainerState
from core.training.config import TrainConfig
from core.training.faults import NAN_ENV, OOM_ENV
from core.training.launch import LaunchError, launch
from tests.core.train_helpers import job_env, make_paths, read_metrics, tiny_config

DOC = REPO_ROOT / "docs" / "RUN_DIRECTORY.md"
MARKER = re.compile(r"<!-- (\w+): ?([^>]*?) ?-->")
TICKED = re.compile(r"`([^`]+)`")
JSON_TYPES = {"str", "int", "float", "bool", "list", "object", "null"}


# --------------------------------------------------------------------------- the document
def doc_text() -> str:
    return DOC.read_text(encoding="utf-8")


def doc_tables() -> dict[str, list[list[str]]]:
    """Rows (cells stripped) of every table that follows a `<!-- kind: name -->` marker."""
    lines = doc_text().splitlines()
    tables: dict[str, list[list[str]]] = {}
    for i, line in enumerate(lines):
        m = MARKER.fullmatch(line.strip())
        if not m or m.group(1) == "example":
            continue
        rows = []
        for row in lines[i + 1:]:
            if not row.startswith("|"):
                break
            rows.append([c.strip() for c in row.strip().strip("|").split("|")])
        key = f"{m.group(1)}: {m.group(2)}"
        assert len(rows) > 2, f"{DOC.name}: the table after <!-- {key} --> is empty"
        tables[key] = rows[2:]  # header and separator rows off
    return tables


@dataclass(frozen=True)
class Field:
    """One documented field: the JSON types it may hold and whether every line has it."""

    name: str
    types: frozenset[str]
    required: bool


def field_table(name: str) -> dict[str, Field]:
    out = {}
    for cells in doc_tables()[f"fields: {name}"]:
        key = TICKED.fullmatch(cells[0])
        assert key, f"{DOC.name} [{name}]: field cell {cells[0]!r} is not one `name`"
        types = frozenset(t.strip() for t in cells[1].split(" or "))
        assert types <= JSON_TYPES, f"{DOC.name} [{name}] {cells[0]}: unknown type {cells[1]!r}"
        assert cells[3] in ("yes", "no"), f"{DOC.name} [{name}] {cells[0]}: required is yes|no"
        out[key.group(1)] = Field(key.group(1), types, cells[3] == "yes")
    return out


def event_table() -> dict[str, set[str]]:
    """Event name → the fields documented for it (besides the common ones)."""
    out = {}
    for cells in doc_tables()["names: events"]:
        out[TICKED.fullmatch(cells[0]).group(1)] = set(TICKED.findall(cells[1]))
    return out


def json_type(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "bool"
    return {int: "int", float: "float", str: "str", list: "list", dict: "object"}[type(value)]


def problems(rec: dict[str, Any], spec: dict[str, Field], where: str) -> list[str]:
    """Undocumented fields, missing required fields and values of an undocumented type."""
    out = [f"{where}: field {k!r} is not documented" for k in rec if k not in spec]
    for f in spec.values():
        if f.name not in rec:
            if f.required:
                out.append(f"{where}: required field {f.name!r} is missing")
            continue
        got = json_type(rec[f.name])
        if got not in f.types and not (got == "int" and "float" in f.types):
            out.append(f"{where}: {f.name}={rec[f.name]!r} is {got}, documented {' or '.join(sorted(f.types))}")
    return out


# --------------------------------------------------------------------------- real writers
@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Two real tiny jobs: one with an OOM at step 4 that auto-relaunches and resumes from
    checkpoint-3 (two segments, every common line kind), one whose loss turns NaN."""
    with pytest.MonkeyPatch.context() as mp:
        for k, v in job_env().items():
            mp.setenv(k, v)
        paths = make_paths(tmp_path_factory.mktemp("rundoc"))
        mp.setenv(OOM_ENV, "4:4")
        resumed = launch(paths, tiny_config(max_steps=6, save_steps=3, eval_steps=3,
                                            auto_oom=True, run_name="resumed"), foreground=True)
        mp.delenv(OOM_ENV)
        mp.setenv(NAN_ENV, "2")
        with pytest.raises(LaunchError, match="NaN"):
            launch(paths, tiny_config(max_steps=4, nan_patience=1, eval_steps=100,
                                      save_steps=100, run_name="nan"), foreground=True)
    nan = next(p.name for p in paths.checkpoints_dir.iterdir() if p.name.endswith("-nan"))
    return {"resumed": paths.run(resumed), "nan": paths.run(nan)}


def line_kind(rec: dict[str, Any]) -> str:
    if "event" in rec:
        return "event"
    if "probe" in rec:
        return "probe"
    if "quality" in rec:
        return "quality"
    if "eval_loss" in rec:
        return "eval"
    return "train"


def test_status_and_config_match_the_doc(runs: dict[str, Path]) -> None:
    errors: list[str] = []
    for name, run in runs.items():
        status = json.loads((run / "status.json").read_text(encoding="utf-8"))
        errors += problems(status, field_table("status.json"), f"{name}/status.json")
        config = json.loads((run / "config.json").read_text(encoding="utf-8"))
        errors += problems(config, field_table("config.json"), f"{name}/config.json")
        for part in ("dataset", "tokenizer", "model", "versions", "paths", "train"):
            errors += problems(config[part], field_table(f"config.json {part}"), f"{name}/config.json {part}")
    assert not errors, "\n".join(errors)
    # The train table is every TrainConfig field, so a new option cannot go undocumented.
    assert set(field_table("config.json train")) == {f.name for f in fields(TrainConfig)}
    # A run with --tokenizer records everything it loaded.
    tok = json.loads((runs["nan"] / "config.json").read_text(encoding="utf-8"))["tokenizer"]
    assert set(field_table("config.json tokenizer")) - {"error"} == set(tok)
    states = set(TICKED.findall(doc_tables()["fields: status.json"][0][4]))
    assert states == {s.value for s in RunState} - {RunState.DIED.value}


def test_every_metrics_line_and_event_matches_the_doc(runs: dict[str, Path]) -> None:
    common = field_table("metrics event")
    events = event_table()
    errors: list[str] = []
    seen: dict[str, set[str]] = {}
    for name, run in runs.items():
        for i, rec in enumerate(read_metrics(run), 1):
            kind = line_kind(rec)
            where = f"{name}/metrics.jsonl line {i} ({rec.get('event', kind)})"
            errors += problems(rec, field_table(f"metrics {kind}"), where)
            seen.setdefault(kind, set()).add(rec.get("event", kind))
            if kind == "probe":
                for item in rec["probe"]:
                    errors += problems(item, field_table("metrics probe item"), where)
            if kind == "quality":
                for part in ("quality", "baseline"):
                    if part in rec:
                        errors += problems(rec[part], field_table("metrics quality figures"), where)
                        if set(rec[part]) != set(field_table("metrics quality figures")):
                            errors.append(f"{where}: {part} holds {sorted(rec[part])}")
            if kind == "event":
                own = set(rec) - {f.name for f in common.values() if f.required}
                want = events.get(rec["event"])
                if want is None:
                    errors.append(f"{where}: event {rec['event']!r} is not documented")
                elif own != want:
                    errors.append(f"{where}: fields {sorted(own)}, documented {sorted(want)}")
    assert not errors, "\n".join(errors)
    assert set(seen) == {"train", "eval", "probe", "quality", "event"}
    assert {"started", "saved", "oom", "auto_oom_relaunch", "resumed", "skipped",
            "finished", "nan", "failed"} <= seen["event"]


def test_resumed_run_follows_the_documented_segment_rule(runs: dict[str, Path]) -> None:
    recs = read_metrics(runs["resumed"])
    resumed = [r for r in recs if r.get("event") == "resumed"]
    assert [(r["segment"], r["step"], r["checkpoint"]) for r in resumed] == [(1, 3, "checkpoint-3")]
    kept = [(r["step"], r["segment"]) for r in effective_history(recs) if "loss" in r]
    assert kept == [(1, 0), (2, 0), (3, 0), (4, 1), (5, 1), (6, 1)]


def test_pandas_example_gives_the_effective_history(runs: dict[str, Path]) -> None:
    text = doc_text()
    at = text.index("<!-- example: pandas -->")
    code = re.search(r"```python\n(.*?)```", text[at:], re.S).group(1)
    run_line = re.search(r"^run = Path\(.*$", code, re.M)
    assert run_line, "the pandas example must start from `run = Path(...)`"
    code = code.replace(run_line.group(0), f"run = Path({str(runs['resumed'])!r})")
    scope: dict[str, Any] = {}
    exec(compile(code, f"{DOC.name} (pandas example)", "exec"), scope)
    want = [r for r in effective_history(read_metrics(runs["resumed"])) if "loss" in r]
    assert scope["train"]["step"].tolist() == [r["step"] for r in want]
    assert scope["train"]["segment"].tolist() == [r["segment"] for r in want]
    assert scope["evals"]["step"].tolist() == [3, 6]


def test_gpu_lines_match_the_doc(runs: dict[str, Path], tmp_path: Path) -> None:
    # Real samples need a GPU; the job's own logger is driven with readings instead.
    logger = GpuLogger(tmp_path)
    t0 = 1000.0
    logger.drive(JsonlWriter(tmp_path / "gpu.jsonl"), t0)
    for i in range(40):
        t = t0 + 2 * i
        logger.tick([GpuSample(t, 0, "NVIDIA H200", 90.0 + i % 2 * 10, 70000.0 + i * 300, 143771.0,
                               60.0, 450.0, [ProcessMem(4242, 69000.0)]),
                     GpuSample(t, 1, "NVIDIA H200", None, None, None, None, None)], t)
    logger.stop()
    lines = [(str(tmp_path), json.loads(x)) for x in (tmp_path / "gpu.jsonl").read_text().splitlines()]
    for name, run in runs.items():
        lines += [(name, json.loads(x)) for x in (run / "gpu.jsonl").read_text().splitlines()]
    errors: list[str] = []
    seen = set()
    for where, rec in lines:
        kind = "unavailable" if "available" in rec else "aggregate" if rec.get("res") == 60.0 else "sample"
        seen.add(kind)
        errors += problems(rec, field_table(f"gpu {kind}"), f"{where}/gpu.jsonl ({kind})")
    assert not errors, "\n".join(errors)
    assert {"sample", "aggregate"} <= seen


def test_run_folder_and_checkpoints_hold_only_documented_files(runs: dict[str, Path]) -> None:
    patterns = [TICKED.fullmatch(c[0]).group(1) for c in doc_tables()["files: run directory"]]
    regexes = [re.compile(re.sub(r"<[^>]+>", ".+", re.escape(p.rstrip("/")))) for p in patterns]
    for run in runs.values():
        for entry in run.iterdir():
            assert any(r.fullmatch(entry.name) for r in regexes), f"{entry.name} is not documented"
    ck = runs["resumed"] / "checkpoint-6"
    documented = {TICKED.fullmatch(c[0]).group(1) for c in doc_tables()["files: checkpoint"]}
    assert {p.name for p in ck.iterdir()} == documented
    state = json.loads((ck / "trainer_state.json").read_text(encoding="utf-8"))
    assert not problems(state, field_table("trainer_state.json"), "trainer_state.json")
    assert set(field_table("trainer_state.json")) == {f.name for f in fields(TrainerState)}
    assert (ck / "COMPLETE").read_text() == "6\n"


def test_metrics_bin_layout_matches_the_doc() -> None:
    tables = doc_tables()
    head = {c[1].strip("`"): (int(c[0]), c[2]) for c in tables["layout: metrics.bin header"]}
    assert sidecar.header() == sidecar.MAGIC + sidecar.RECORD.itemsize.to_bytes(8, "little")
    assert f"`{sidecar.MAGIC.decode()}`" in tables["layout: metrics.bin header"][0][3]
    assert head == {"magic": (0, "8 bytes"), "record_size": (8, "int64")}
    assert f"({sidecar.RECORD.itemsize})" in tables["layout: metrics.bin header"][1][3]
    names = {"<i8": "int64", "<i4": "int32", "<f8": "float64"}
    real = [(off, name, names[dt.str]) for name, (dt, off) in sidecar.RECORD.fields.items()]
    documented = [(int(c[0]), c[1].strip("`"), c[2]) for c in tables["layout: metrics.bin record"]]
    assert documented == sorted(real)


# --------------------------------------------------------------------------- code, statically
def _event_calls() -> Iterator[tuple[str, str | None, set[str]]]:
    """(file:line, event name or None when computed, keyword names) of every event the job
    code writes: `metrics.event(step, "name", ...)` and the loop's `_event("name", ...)`."""
    for path in sorted((REPO_ROOT / "core" / "training").glob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)):
                continue
            attr = node.func.attr
            if attr not in ("event", "_event") or any(k.arg is None for k in node.keywords):
                continue  # a forwarder (**fields) is not a call site
            arg = node.args[1 if attr == "event" else 0]
            name = arg.value if isinstance(arg, ast.Constant) else None
            yield f"{path.name}:{node.lineno}", name, {k.arg for k in node.keywords if k.arg}


def _status_keywords() -> set[str]:
    """Keyword names the job code sets on status.json (StatusWriter.update / Loop._status)."""
    out = set()
    for path in sorted((REPO_ROOT / "core" / "training").glob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)):
                continue
            receiver = ast.unparse(node.func.value)
            if node.func.attr == "_status" or (node.func.attr == "update" and receiver.endswith("status")):
                out |= {k.arg for k in node.keywords if k.arg and k.arg != "write"}
    return out


def test_every_event_the_code_writes_is_documented_with_its_fields() -> None:
    events = event_table()
    final_states = {RunState.FINISHED.value, RunState.FAILED.value, RunState.STOPPED.value}
    errors = []
    named = set()
    for where, name, kw in _event_calls():
        if name is None:  # the job's final event is named after its final state
            for state in final_states:
                if events.get(state) != kw:
                    errors.append(f"{where}: final event {state!r} writes {sorted(kw)}, documented {sorted(events.get(state, ()))}")
            continue
        named.add(name)
        if name not in events:
            errors.append(f"{where}: event {name!r} is not documented")
        elif events[name] != kw:
            errors.append(f"{where}: event {name!r} writes {sorted(kw)}, documented {sorted(events[name])}")
    assert not errors, "\n".join(errors)
    assert set(events) == named | final_states, "documented events that no code writes"
    documented_fields = {f for fs in events.values() for f in fs}
    optional = {f.name for f in field_table("metrics event").values() if not f.required}
    assert documented_fields == optional


def test_every_status_field_the_code_sets_is_documented() -> None:
    documented = set(field_table("status.json"))
    own = {f.name for f in fields(RunStatus)} - {"extra"}
    assert documented == own | _status_keywords()
    required = {f.name for f in field_table("status.json").values() if f.required}
    assert required == own
