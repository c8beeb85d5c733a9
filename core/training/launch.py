"""Start and resume training jobs: what `narou-tui train/resume` and the Train pane call (stopping: stop.py).

    launch(paths, config, foreground=False, on_warning=None) -> run_id
    preflight(paths, config) -> list[Finding]
    resume_run(paths, run_id, foreground=False, batch_size=None, grad_accum=None) -> run_id

A detached job runs in its own session (survives the terminal, SSH and the TUI), reads
stdin from /dev/null and writes stdout/stderr to train.log; a foreground job prints to the
terminal and appends the same output to train.log. Several processes (gpus > 1 or
nnodes > 1) go through torchrun into the same run dir; only rank 0 writes files.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from core.durable import read_json
from core.paths import REPO_ROOT, Paths
from core.runs.provenance import environment_versions, git_revision
from core.runs.reader import read_status
from core.runs.schema import CONFIG_FILE, LOG_FILE, STATUS_FILE, RunState, RunStatus
from core.runs.writers import StatusWriter, create_run_dir, new_run_id, write_config
from core.training.checkpoint import recover_checkpoint_fields
from core.training.config import TrainConfig
from core.training.locks import LockBusy, RunLock
from core.training.preflight import Finding, require_ok, run_preflight
from core.training.tee import tee_output


class LaunchError(RuntimeError):
    """A run could not be started, stopped or resumed; the message says why."""


def preflight(paths: Paths, config: TrainConfig) -> list[Finding]:
    """Every check that can run before a job exists (loads the tokenizer unless a scratch run
    will train its own). Findings with level "error" mean `launch` would refuse."""
    tokenizer, warnings = None, []
    spec = config.tokenizer or config.model
    if spec is not None:
        try:
            from core.tokenization.loader import load_tokenizer

            loaded = load_tokenizer(spec)
            tokenizer, warnings = loaded.tokenizer, list(loaded.info.warnings)
        except Exception as exc:  # TokenizerLoadError carries the how-to-fix message
            return [Finding("error", f"tokenizer {spec!r}: {exc}")]
    return run_preflight(paths, config, tokenizer, warnings)


def frozen_config(paths: Paths, config: TrainConfig, run_id: str) -> dict[str, Any]:
    """The contents of config.json: everything needed to reproduce the run."""
    from core.model import SCRATCH_PRESETS

    meta: dict[str, Any] = {}
    try:
        from core.data.store import read_meta

        meta = read_meta(paths, config.dataset)
    except Exception:
        pass
    tok: dict[str, Any] = {"spec": config.tokenizer or config.model,
                           "scratch_vocab": config.tokenizer is None and config.model is None}
    if tok["spec"]:
        try:
            from core.tokenization.loader import load_tokenizer

            tok.update(load_tokenizer(tok["spec"]).info.to_dict())
        except Exception as exc:
            tok["error"] = str(exc)
    preset = SCRATCH_PRESETS.get(config.scratch or "")
    return {
        "schema": 1,
        "run_id": run_id,
        "created": time.time(),
        "train": config.to_json(),
        "command": config.cli_command(),
        "dataset": {"name": config.dataset, "path": str(paths.dataset(config.dataset)),
                    "fingerprint": meta.get("fingerprint"), "counts": meta.get("counts")},
        "tokenizer": tok,
        "model": {"pretrained": config.model, "scratch": config.scratch,
                  "preset": preset.__dict__ if preset else None,
                  "tie_encoder_decoder": config.tie_encoder_decoder},
        "versions": environment_versions(),
        "git_revision": git_revision(REPO_ROOT),
        "paths": {"datasets_dir": str(paths.datasets_dir), "checkpoints_dir": str(paths.checkpoints_dir),
                  "config_dir": str(paths.config_dir)},
    }


def launch(paths: Paths, config: TrainConfig, foreground: bool = False,
           on_warning: Callable[[Finding], None] | None = None,
           queue: dict[str, Any] | None = None) -> str:
    """Check, create checkpoints/<run-id>/, freeze config.json and start the job.

    Detached (default): returns the run id at once while the job trains in its own session.
    foreground: trains in this process (or an attached torchrun) and returns when it ends.
    on_warning: receives each preflight warning (nothing is printed: the TUI owns the screen;
        warnings also reach metrics.jsonl as `warning` events).
    queue: leave the run queued instead (core.training.queue starts it when its devices are free);
        these tables (`queue`, and `sweep` for a sweep's runs) join its config.json.
    Raises LaunchError (with every preflight error listed) instead of starting a bad run.
    """
    try:
        config.validate()
        findings = require_ok(preflight(paths, config))
    except Exception as exc:
        raise LaunchError(str(exc)) from exc
    for f in findings:
        if on_warning is not None:
            on_warning(f)
    run_id = new_run_id(paths, config.run_name)
    run_dir = create_run_dir(paths, run_id)
    if queue is not None:
        from core.training.queue.runner import ensure_runner
        from core.training.queue.store import enqueue

        write_config(run_dir, {**frozen_config(paths, config, run_id), **queue})
        enqueue(paths, run_id)
        ensure_runner(paths.checkpoints_dir)
        return run_id
    write_config(run_dir, frozen_config(paths, config, run_id))
    _start(run_dir, config, foreground, resume=False)
    return run_id


def resume_run(paths: Paths, run_id: str, foreground: bool = False,
               batch_size: int | None = None, grad_accum: int | None = None) -> str:
    """Continue a died/stopped/failed run from its newest complete checkpoint.

    batch_size / grad_accum override the split (e.g. after an OOM: half and double)."""
    run_dir = paths.run(run_id)
    if not (run_dir / CONFIG_FILE).exists():
        raise LaunchError(f"no run {run_id!r} in {paths.checkpoints_dir}")
    status = read_status(run_dir)
    if status is not None and RunState(status.state).live:
        raise LaunchError(f"run {run_id} is still {status.state} (pid {status.pid}); stop it first")
    if status is not None and status.state == RunState.QUEUED.value:
        raise LaunchError(f"run {run_id} is queued: it starts by itself (see `narou-tui queue`)")
    # A job killed a moment ago may still be tearing down its threads (and holding the lock).
    lock = RunLock(run_dir)
    deadline = time.time() + 5.0
    while not lock.is_free():
        if time.time() > deadline:
            raise LaunchError(f"run {run_id} is locked by a live job")
        time.sleep(0.1)
    if status is not None and status.state == RunState.FINISHED.value:
        raise LaunchError(f"run {run_id} has finished; start a new run to train further")
    config = _frozen_train_config(run_dir)
    if not paths.dataset(config.dataset).exists():
        raise LaunchError(f"dataset {config.dataset!r} of run {run_id} is missing from {paths.datasets_dir}")
    check_resume_split(run_dir, batch_size, grad_accum)
    extra = []
    if batch_size:
        extra += ["--batch-size", str(batch_size)]
    if grad_accum:
        extra += ["--grad-accum", str(grad_accum)]
    # The run may have been copied from another machine or folder: its job reads the dataset
    # from the datasets folder in use now, not the one frozen into config.json.
    extra += ["--datasets-dir", str(paths.datasets_dir)]
    _start(run_dir, config, foreground, resume=True, extra=extra)
    return run_id


def _frozen_train_config(run_dir: Path) -> TrainConfig:
    path = run_dir / CONFIG_FILE
    try:
        frozen = read_json(path)
        return TrainConfig.from_frozen(frozen["train"], source=str(path))
    except (OSError, ValueError, KeyError, TypeError, AttributeError) as exc:
        why = f"no {exc} table" if isinstance(exc, KeyError) else str(exc)
        raise LaunchError(f"{path} is damaged ({why}); the run cannot be resumed") from exc


def check_resume_split(run_dir: Path, batch_size: int | None, grad_accum: int | None) -> None:
    """LaunchError unless a resume's new micro-batch/accumulation keeps the effective batch of
    the newest complete checkpoint (the job would otherwise fail after detaching, or train on
    with a different effective batch than the run's)."""
    from core.training.checkpoint import newest_complete, read_trainer_state

    if batch_size is None and grad_accum is None:
        return
    for name, value in (("--batch-size", batch_size), ("--grad-accum", grad_accum)):
        if value is not None and value < 1:
            raise LaunchError(f"{name} must be ≥ 1, got {value}")
    folder, _ = newest_complete(run_dir)
    if folder is None:
        return  # nothing saved yet: the run starts over with the new split
    try:
        saved = read_trainer_state(folder)
    except (OSError, ValueError, TypeError) as exc:
        raise LaunchError(f"{folder.name}: cannot read its trainer state ({exc})") from exc
    if saved.batch_size < 1 or saved.grad_accum < 1:
        return  # an older checkpoint without the split: the job decides
    effective = saved.batch_size * saved.grad_accum
    plan = saved.plan_batch or saved.batch_size
    bs = batch_size or saved.batch_size
    if plan % bs:
        fits = [d for d in range(1, plan + 1) if plan % d == 0]
        raise LaunchError(f"--batch-size {bs} must divide the run's batch size {plan} "
                          f"(its data order is cut in pieces of it): use one of {', '.join(map(str, fits))}")
    keep = effective // bs
    ga = grad_accum or keep
    if bs * ga != effective:
        raise LaunchError(f"--batch-size {bs} × --grad-accum {ga} = {bs * ga} would change the run's "
                          f"effective batch of {effective} per process ({saved.batch_size} × "
                          f"{saved.grad_accum}); resume keeps it: use --grad-accum {keep} or leave "
                          "--grad-accum out")


def job_command(run_dir: Path, config: TrainConfig, resume: bool, extra: list[str] | None = None) -> list[str]:
    """argv of the job: the job module directly, or through torchrun for several processes."""
    job = ["-m", "core.training.job", str(run_dir)] + (["--resume"] if resume else []) + (extra or [])
    if not config.distributed:
        return [sys.executable, *job]
    cmd = [sys.executable, "-m", "torch.distributed.run", f"--nproc-per-node={config.gpus}",
           f"--nnodes={config.nnodes}", f"--node-rank={config.node_rank}"]
    if config.nnodes == 1:
        cmd.append("--standalone")
    else:
        cmd += [f"--master-addr={config.master_addr}", f"--master-port={config.master_port}"]
    return cmd + job


def _job_env(config: TrainConfig) -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO_ROOT), env.get("PYTHONPATH")]))
    env["PYTHONUNBUFFERED"] = "1"
    if config.threads:
        env["OMP_NUM_THREADS"] = str(config.threads)
    return env


def _start(run_dir: Path, config: TrainConfig, foreground: bool, resume: bool,
           extra: list[str] | None = None, keep_fds: tuple[int, ...] = ()) -> None:
    """Start the job; `keep_fds` (the queue's device locks) are inherited by it."""
    if foreground:
        # The terminal sees the output and train.log keeps a copy: a run directory looks the
        # same however its job was started.
        with tee_output(run_dir / LOG_FILE):
            _run_attached(run_dir, config, resume, extra)
        return
    cmd = job_command(run_dir, config, resume, extra)
    with open(run_dir / LOG_FILE, "ab") as log:
        proc = subprocess.Popen(
            cmd, cwd=REPO_ROOT, env=_job_env(config), stdin=subprocess.DEVNULL,
            stdout=log, stderr=subprocess.STDOUT, start_new_session=True, close_fds=True,
            pass_fds=keep_fds,
        )
    # Until the job writes its own status, readers see "starting" owned by the child's pid.
    status = _resumed_status(run_dir) if resume else RunStatus()
    status.state, status.exit_reason = RunState.STARTING.value, None
    status.started_at = time.time()
    status.extra.pop("written_state", None)
    status.extra.pop("died_because", None)
    StatusWriter(run_dir, status, pid=proc.pid).write()
    _reap_later(proc)


def _run_attached(run_dir: Path, config: TrainConfig, resume: bool, extra: list[str] | None) -> None:
    """Train in this process (one process) or an attached torchrun; raise when it did not finish."""
    if not config.distributed:
        from core.training.job import run_job

        bs = int(extra[extra.index("--batch-size") + 1]) if extra and "--batch-size" in extra else None
        ga = int(extra[extra.index("--grad-accum") + 1]) if extra and "--grad-accum" in extra else None
        ds = Path(extra[extra.index("--datasets-dir") + 1]) if extra and "--datasets-dir" in extra else None
        code = run_job(run_dir, resume=resume, batch_size=bs, grad_accum=ga, in_process=True,
                       datasets_dir=ds)
        if code not in (0,):
            st = read_status(run_dir)
            raise LaunchError(f"run {run_dir.name} ended {st.state if st else 'badly'}: "
                              f"{(st.exit_reason if st else None) or f'exit code {code}'}")
        return
    code = subprocess.call(job_command(run_dir, config, resume, extra), cwd=REPO_ROOT, env=_job_env(config))
    if code != 0:
        raise LaunchError(f"run {run_dir.name}: job exited with code {code}")


def _resumed_status(run_dir: Path) -> RunStatus:
    """The status a resume starts from: a damaged status.json is kept aside (never lost) and
    the checkpoint fields are rebuilt from the complete checkpoints in the folder."""
    path = run_dir / STATUS_FILE
    old = read_status(run_dir)
    if old is None and path.exists():
        shutil.copyfile(path, path.with_name(f"{STATUS_FILE}.damaged-{time.strftime('%Y%m%d-%H%M%S')}"))
    return recover_checkpoint_fields(run_dir, old)


_children: list[subprocess.Popen[bytes]] = []


def _reap_later(proc: subprocess.Popen[bytes]) -> None:
    # Keep a reference so the exit status is collected (no zombie while this process lives).
    for p in list(_children):
        if p.poll() is not None:
            _children.remove(p)
    _children.append(proc)


def poll_children() -> None:
    """Collect the exit status of jobs this process started that have ended (each keeps its
    `returncode`): a zombie still holds its pid, and a waiter would take it for the live job."""
    for p in list(_children):
        p.poll()


__all__ = ["LaunchError", "LockBusy", "launch", "preflight", "resume_run"]
