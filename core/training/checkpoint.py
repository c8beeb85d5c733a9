"""checkpoint-<step>/ folders: crash-safe save (marker last), load, retention, disk forecast."""

from __future__ import annotations

import json
import os
import random
import shutil
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from core.durable import fsync_dir, replace
from core.model import write_vocab_fingerprint
from core.runs.reader import complete_checkpoints, incomplete_checkpoints
from core.runs.schema import CHECKPOINT_PREFIX, COMPLETE_MARKER, RunStatus

OPTIMIZER_FILE = "optimizer.pt"
SCHEDULER_FILE = "scheduler.pt"
RNG_FILE = "rng_state.pth"
STATE_FILE = "trainer_state.json"
# Test hook: "SECONDS" or "STEP:SECONDS" to sleep after the files are in place but before the
# marker is written (at every save, or only at that step), so a test can SIGKILL mid-save.
SAVE_SLEEP_ENV = "NAROU_TUI_FAULT_SAVE_SLEEP"
# Test hook: pretend the disk has only this many free bytes.
FREE_BYTES_ENV = "NAROU_TUI_FAULT_FREE_BYTES"


@dataclass
class TrainerState:
    """trainer_state.json: where training stands inside the data and the schedule.

    step: optimizer steps done. epoch: index of the current epoch. steps_in_epoch: optimizer
    steps done inside it (resume skips exactly these). total_steps: planned steps.
    batch_size / grad_accum / world_size: the split in use when saved. plan_batch: the batch
    size the epoch plan is cut with (constant for a run; micro-batches are pieces of it).
    best_eval_loss: lowest validation loss seen at a save. best_chrf: highest title chrF
    seen at a save. best_checkpoint: the save that is best by the run's `best_by`.
    last_eval_loss / last_chrf: the most recent evaluation's figures. samples_per_s: rate
    when saved.
    segment: metrics segment of the job that saved it.
    """

    step: int = 0
    epoch: int = 0
    steps_in_epoch: int = 0
    total_steps: int = 0
    batch_size: int = 0
    grad_accum: int = 0
    world_size: int = 1
    plan_batch: int = 0
    best_eval_loss: float | None = None
    best_checkpoint: str | None = None
    last_eval_loss: float | None = None
    best_chrf: float | None = None
    last_chrf: float | None = None
    samples_per_s: float | None = None
    segment: int = 0
    saved_at: float = 0.0
    extra: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> TrainerState:
        known = set(cls.__dataclass_fields__)
        return cls(**{k: v for k, v in data.items() if k in known})


def record_best(state: TrainerState, name: str, best_by: str) -> None:
    """After an evaluation at the step saved as `name`: update the best figures, and make
    `name` the best checkpoint when it beats the best so far by `best_by` (eval_loss: lower,
    chrf: higher; a tie keeps the earlier one)."""
    loss, chrf = state.last_eval_loss, state.last_chrf
    loss_better = loss is not None and (state.best_eval_loss is None or loss < state.best_eval_loss)
    chrf_better = chrf is not None and (state.best_chrf is None or chrf > state.best_chrf)
    if loss_better:
        state.best_eval_loss = loss
    if chrf_better:
        state.best_chrf = chrf
    if loss_better if best_by == "eval_loss" else chrf_better:
        state.best_checkpoint = name


def checkpoint_name(step: int) -> str:
    return f"{CHECKPOINT_PREFIX}{step}"


def rng_state() -> dict[str, Any]:
    """Python, NumPy and torch (CPU + CUDA) RNG states in types torch.load(weights_only) accepts."""
    import torch

    name, keys, pos, has_gauss, gauss = np.random.get_state()
    state: dict[str, Any] = {
        "python": random.getstate(),
        "numpy": [name, torch.from_numpy(np.asarray(keys, dtype=np.int64)), pos, has_gauss, gauss],
        "torch": torch.get_rng_state(),
    }
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def restore_rng(state: dict[str, Any]) -> None:
    import torch

    py = state["python"]
    random.setstate((py[0], tuple(py[1]), py[2]))
    name, keys, pos, has_gauss, gauss = state["numpy"]
    np.random.set_state((name, keys.numpy().astype(np.uint32), pos, has_gauss, gauss))
    torch.set_rng_state(state["torch"])
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])


def dir_size(path: Path) -> int:
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())


def free_bytes(path: Path) -> int:
    fake = os.environ.get(FREE_BYTES_ENV)
    if fake:
        return int(fake)
    return shutil.disk_usage(path).free


def forecast_bytes(run_dir: Path, n_params: int) -> int:
    """Size of the next checkpoint: the last complete one's, else params × (4 + 2×4) bytes."""
    done = complete_checkpoints(run_dir)
    if done:
        return dir_size(done[-1])
    return checkpoint_bytes(n_params)


def checkpoint_bytes(n_params: int) -> int:
    """Forecast of one checkpoint: fp32 weights + AdamW's two fp32 moments + ~1 MiB of files."""
    return n_params * 12 + (1 << 20)


def _fsync_file(path: Path) -> None:
    with open(path, "rb") as fh:
        os.fsync(fh.fileno())


def save_checkpoint(
    run_dir: Path,
    step: int,
    model: Any,
    tokenizer: Any,
    optimizer: Any,
    scheduler: Any,
    state: TrainerState,
) -> Path:
    """Write checkpoint-<step>/ so that a kill at any moment leaves either nothing usable or a
    complete checkpoint: files go to a hidden temp folder, are fsynced, the folder is renamed,
    and only then is COMPLETE written (and fsynced). Earlier checkpoints are never touched."""
    import torch

    final = run_dir / checkpoint_name(step)
    tmp = run_dir / f".tmp-{checkpoint_name(step)}"
    for stale in (tmp, final):
        if stale.exists():  # leftovers of an interrupted save of this very step
            _remove_dir(stale)
    tmp.mkdir()
    model.save_pretrained(tmp)
    tokenizer.save_pretrained(tmp)
    write_vocab_fingerprint(tmp)
    torch.save(optimizer.state_dict(), tmp / OPTIMIZER_FILE)
    torch.save(scheduler.state_dict(), tmp / SCHEDULER_FILE)
    torch.save(rng_state(), tmp / RNG_FILE)
    state.saved_at = time.time()
    (tmp / STATE_FILE).write_text(json.dumps(asdict(state), indent=1), encoding="utf-8")
    for p in tmp.rglob("*"):
        if p.is_file():
            _fsync_file(p)
    fsync_dir(tmp)
    replace(tmp, final)
    sleep = os.environ.get(SAVE_SLEEP_ENV, "")
    at, _, secs = sleep.rpartition(":")
    if secs and (not at or int(at) == step):
        time.sleep(float(secs))
    marker = final / COMPLETE_MARKER
    with open(marker, "w", encoding="utf-8") as fh:
        fh.write(f"{step}\n")
        fh.flush()
        os.fsync(fh.fileno())
    fsync_dir(final)
    return final


def _remove_dir(path: Path) -> None:
    # Rename first so a kill mid-delete never leaves a half-deleted "checkpoint-N".
    trash = path.with_name(f".trash-{path.name}-{os.getpid()}")
    os.replace(path, trash)
    shutil.rmtree(trash, ignore_errors=True)


def apply_retention(run_dir: Path, keep_last: int, best: str | None) -> list[str]:
    """Delete complete checkpoints beyond the newest `keep_last`, never the best one."""
    done = complete_checkpoints(run_dir)
    keep = {p.name for p in done[-max(1, keep_last):]}
    if best:
        keep.add(best)
    removed = []
    for p in done:
        if p.name not in keep:
            _remove_dir(p)
            removed.append(p.name)
    for leftover in run_dir.glob(".trash-*"):
        shutil.rmtree(leftover, ignore_errors=True)
    return removed


def newest_complete(run_dir: Path) -> tuple[Path | None, list[Path]]:
    """(newest complete checkpoint or None, incomplete checkpoints that were skipped)."""
    done = complete_checkpoints(run_dir)
    newest = done[-1] if done else None
    skipped = [
        p for p in incomplete_checkpoints(run_dir)
        if newest is None or _step(p) > _step(newest)
    ]
    return newest, skipped


def recover_checkpoint_fields(run_dir: Path, status: RunStatus | None) -> RunStatus:
    """`status` (a fresh one when status.json was unreadable) with its checkpoint fields
    rebuilt from the folder when they are missing or name no complete checkpoint: the
    newest complete checkpoint, its step and schedule, and the best one it recorded."""
    status = status if status is not None else RunStatus()
    newest, _ = newest_complete(run_dir)
    if newest is None:
        return status
    recorded = status.last_complete_checkpoint
    if recorded and (run_dir / recorded / COMPLETE_MARKER).is_file() and _step(run_dir / recorded) >= _step(newest):
        return status
    status.last_complete_checkpoint = newest.name
    try:
        state = read_trainer_state(newest)
    except (OSError, ValueError, TypeError):
        status.step = max(status.step if isinstance(status.step, int) else 0, _step(newest))
        return status
    status.step = state.step
    status.total_steps = status.total_steps or state.total_steps or None
    if state.best_checkpoint and (run_dir / state.best_checkpoint / COMPLETE_MARKER).is_file():
        status.best_eval_loss, status.best_checkpoint = state.best_eval_loss, state.best_checkpoint
    return status


def _step(p: Path) -> int:
    tail = p.name[len(CHECKPOINT_PREFIX):]
    return int(tail) if tail.isdigit() else -1


def load_training_state(folder: Path, optimizer: Any, scheduler: Any, map_location: Any) -> TrainerState:
    """Restore optimizer, scheduler and RNG from a complete checkpoint; its TrainerState."""
    import torch

    optimizer.load_state_dict(torch.load(folder / OPTIMIZER_FILE, map_location=map_location, weights_only=True))
    scheduler.load_state_dict(torch.load(folder / SCHEDULER_FILE, weights_only=True))
    restore_rng(torch.load(folder / RNG_FILE, weights_only=True))
    return read_trainer_state(folder)


def read_trainer_state(folder: Path) -> TrainerState:
    return TrainerState.from_json(json.loads((folder / STATE_FILE).read_text(encoding="utf-8")))
