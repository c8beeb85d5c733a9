"""Find runs' checkpoints, describe them (step, eval loss, date, size) and resolve a spec."""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, replace
from pathlib import Path

from core.paths import PathError, Paths
from core.runs.history import read_history
from core.runs.quality_lines import quality_value
from core.runs.reader import (
    complete_checkpoints,
    incomplete_checkpoints,
    list_runs,
    read_config,
    read_status,
)
from core.runs.rule import float_field, step_of
from core.runs.schema import CHECKPOINT_PREFIX, COMPLETE_MARKER

WEIGHTS_FILE = "model.safetensors"
TRAINER_STATE = "trainer_state.json"


# Exit codes the command line gives these errors (its rule: 2 bad argument, 1 unusable data).
NAMES_NOTHING = 2
CANNOT_BE_USED = 1


class CheckpointError(ValueError):
    """A checkpoint spec that names nothing loadable; the message says what exists.

    exit_code: NAMES_NOTHING when no run or checkpoint has that name (a bad argument),
    CANNOT_BE_USED when it exists but is incomplete, damaged or not saved yet.
    """

    def __init__(self, message: str, exit_code: int = CANNOT_BE_USED) -> None:
        super().__init__(message)
        self.exit_code = exit_code


@dataclass(frozen=True)
class CheckpointInfo:
    """One checkpoint folder as the browser and the CLI show it.

    run_id / name: the run folder and `checkpoint-<step>` folder names.
    step: optimizer step of the save.
    complete: the COMPLETE marker exists (only complete checkpoints are loadable).
    eval_loss: validation loss recorded at this step, if any evaluation ran there.
    saved_at: unix time of the marker (or of the folder when incomplete).
    size_bytes: total size of the files in the folder.
    """

    run_id: str
    name: str
    path: Path
    step: int
    complete: bool
    eval_loss: float | None
    saved_at: float
    size_bytes: int
    # Set when a damaged checkpoint was passed over to reach this one: what the user is told.
    note: str | None = None
    chrf: float | None = None  # title-quality chrF measured at this step, if any

    @property
    def spec(self) -> str:
        return f"{self.run_id}/{self.name}"


@dataclass(frozen=True)
class RunCheckpoints:
    """A run and its checkpoints, newest step first."""

    run_id: str
    path: Path
    state: str
    checkpoints: tuple[CheckpointInfo, ...]
    best: str | None
    best_by: str = "eval_loss"  # what the run ranks its checkpoints by ("eval_loss" or "chrf")

    @property
    def complete(self) -> tuple[CheckpointInfo, ...]:
        return tuple(c for c in self.checkpoints if c.complete)


def _step_of(folder: Path) -> int | None:
    tail = folder.name[len(CHECKPOINT_PREFIX):]
    return int(tail) if tail.isdigit() else None


def _evaluations(run_dir: Path) -> tuple[dict[int, float], dict[int, float]]:
    """(eval loss, chrF) by step, from the metrics lines the run-directory rule keeps: an
    evaluation a resume superseded is not this run's any more."""
    history = read_history(run_dir)
    losses = {step_of(e): v for e in history.evals if math.isfinite(v := float_field(e.get("eval_loss")))}
    chrf = {step_of(q): v for q in history.qualities if (v := quality_value(q, "chrf")) is not None}
    return losses, chrf


def _eval_loss_from_state(folder: Path, step: int) -> float | None:
    try:
        state = json.loads((folder / TRAINER_STATE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    found = None
    for rec in state.get("log_history", []) if isinstance(state, dict) else []:
        if isinstance(rec, dict) and "eval_loss" in rec and rec.get("step", step) <= step:
            found = rec["eval_loss"]
    try:
        return float(found) if found is not None else None
    except (TypeError, ValueError):
        return None


def _folder_size(folder: Path) -> int:
    total = 0
    for p in folder.rglob("*"):
        try:
            if p.is_file():
                total += p.stat().st_size
        except OSError:
            continue
    return total


def describe_run(run_dir: Path) -> RunCheckpoints:
    """Every checkpoint of one run (complete and incomplete), newest step first."""
    status = read_status(run_dir)
    metric_losses, chrf_by_step = _evaluations(run_dir)
    infos = []
    folders = [(p, True) for p in complete_checkpoints(run_dir)]
    folders += [(p, False) for p in incomplete_checkpoints(run_dir)]
    for folder, complete in folders:
        step = _step_of(folder)
        if step is None:
            continue
        marker = folder / COMPLETE_MARKER
        try:
            saved_at = (marker if complete else folder).stat().st_mtime
        except OSError:
            saved_at = 0.0
        loss = metric_losses.get(step)
        if loss is None:
            loss = _eval_loss_from_state(folder, step)
        infos.append(CheckpointInfo(run_dir.name, folder.name, folder, step, complete, loss,
                                    saved_at, _folder_size(folder), chrf=chrf_by_step.get(step)))
    infos.sort(key=lambda c: c.step, reverse=True)
    return RunCheckpoints(
        run_id=run_dir.name,
        path=run_dir,
        state=status.state if status else "unknown",
        checkpoints=tuple(infos),
        best=status.best_checkpoint if status else None,
        best_by=_best_by(run_dir),
    )


def list_checkpoints(paths: Paths) -> list[RunCheckpoints]:
    """All runs under checkpoints_dir (newest first) with their checkpoints."""
    return [describe_run(r.path) for r in list_runs(paths)]


def _best_by(run_dir: Path) -> str:
    train = read_config(run_dir).get("train")
    best_by = train.get("best_by") if isinstance(train, dict) else None
    return best_by if best_by in ("eval_loss", "chrf") else "eval_loss"


def best_checkpoint(run: RunCheckpoints) -> CheckpointInfo | None:
    """The run's recorded best; else the best by the run's own `best_by` measure among the
    complete checkpoints (lowest eval loss, or highest chrF); else the newest complete one."""
    complete = run.complete
    if not complete:
        return None
    by_name = {c.name: c for c in complete}
    if run.best and run.best in by_name:
        return by_name[run.best]
    if run.best_by == "chrf":
        with_chrf = [c for c in complete if c.chrf is not None]
        if with_chrf:  # a tie keeps the earlier checkpoint, as the job itself decides
            return max(with_chrf, key=lambda c: (c.chrf, -c.step))
    with_loss = [c for c in complete if c.eval_loss is not None]
    if with_loss:
        return min(with_loss, key=lambda c: (c.eval_loss, -c.step))
    return complete[0]


def _safetensors_problem(path: Path) -> str | None:
    # The format is an 8-byte header length, a JSON header whose data_offsets index the
    # bytes after it: a save cut short leaves a file shorter than its own header says.
    try:
        size = path.stat().st_size
        with open(path, "rb") as fh:
            head = fh.read(8)
            if len(head) < 8:
                return f"{path.name} is truncated ({size} bytes)"
            n = int.from_bytes(head, "little")
            if n > size - 8:
                return f"{path.name} is truncated (header of {n} bytes, file of {size})"
            header = json.loads(fh.read(n))
    except (OSError, ValueError) as exc:
        return f"{path.name} cannot be read ({exc})"
    if not isinstance(header, dict):
        return f"{path.name} has a damaged header"
    ends = [v.get("data_offsets", [0, 0])[1] for k, v in header.items()
            if k != "__metadata__" and isinstance(v, dict)]
    need = 8 + n + max(ends, default=0)
    if need > size:
        return f"{path.name} is truncated ({size} of {need} bytes)"
    return None


def checkpoint_problem(folder: Path) -> str | None:
    """Why a complete-marked checkpoint cannot be loaded (damaged config.json, truncated
    weights, no vocabulary), naming the file; None when its files look intact."""
    try:
        config = json.loads((folder / "config.json").read_text(encoding="utf-8"))
        if not isinstance(config, dict):
            return "config.json is not a JSON object"
    except FileNotFoundError:
        return "config.json is missing"
    except (OSError, ValueError) as exc:
        return f"config.json is damaged ({exc})"
    from core.generation.loading import check_weights  # it imports this module

    try:
        check_weights(folder)  # present, and safetensors (pickled weights are never loaded)
    except CheckpointError as exc:
        return str(exc).removeprefix(f"{folder} ")
    shards = sorted(folder.glob("model-*.safetensors"))
    for w in shards or [folder / WEIGHTS_FILE]:
        problem = _safetensors_problem(w)
        if problem:
            return problem
    if not (folder / "vocab.txt").exists() and not (folder / "tokenizer.json").exists():
        return "vocab.txt is missing (the tokenizer cannot be loaded)"
    return None


def _intact_choice(run: RunCheckpoints, first: CheckpointInfo) -> CheckpointInfo:
    """`first` if intact, else the newest intact complete checkpoint, with a note saying why."""
    order = [first] + [c for c in run.complete if c.name != first.name]
    passed: list[str] = []
    for c in order:
        problem = checkpoint_problem(c.path)
        if problem is None:
            if not passed:
                return c
            return replace(c, note=f"skipped damaged {'; '.join(passed)}; using {c.spec}")
        passed.append(f"{c.spec} ({problem})")
    raise CheckpointError(f"run {run.run_id!r} has no intact checkpoint: {'; '.join(passed)}")


def resolve_checkpoint(paths: Paths, spec: str) -> CheckpointInfo:
    """`RUN` (its best or newest complete checkpoint; a damaged one is passed over for the
    newest intact one, with a note) or `RUN/checkpoint-N` → a loadable one."""
    spec = spec.strip().rstrip("/")
    run_id, _, ck_name = spec.partition("/")
    try:
        run_dir = paths.run(run_id)
    except PathError as exc:
        raise CheckpointError(str(exc), NAMES_NOTHING) from exc
    if not run_dir.is_dir():
        known = [r.run_id for r in list_runs(paths)]
        hint = f"; runs: {', '.join(known)}" if known else f"; no runs in {paths.checkpoints_dir}"
        raise CheckpointError(f"no run {run_id!r}{hint}", NAMES_NOTHING)
    run = describe_run(run_dir)
    if not ck_name:
        best = best_checkpoint(run)
        if best is None:
            raise CheckpointError(f"run {run_id!r} has no complete checkpoint yet")
        return _intact_choice(run, best)
    for c in run.checkpoints:
        if c.name == ck_name:
            if not c.complete:
                raise CheckpointError(
                    f"{spec} is incomplete (no {COMPLETE_MARKER} marker: the save was "
                    "interrupted) and cannot be loaded"
                )
            problem = checkpoint_problem(c.path)
            if problem:
                others = [o.spec for o in run.complete if o.name != c.name and checkpoint_problem(o.path) is None]
                hint = f"; intact: {', '.join(others)}" if others else ""
                raise CheckpointError(f"{spec} cannot be loaded: {problem}{hint}")
            return c
    names = ", ".join(c.name for c in run.complete) or "none"
    raise CheckpointError(f"no checkpoint {ck_name!r} in run {run_id!r}; complete: {names}",
                          NAMES_NOTHING)
