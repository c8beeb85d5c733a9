"""The training job process: `python -m core.training.job RUN_DIR [--resume] [--batch-size N
--grad-accum M]`. Knows nothing of any UI; talks only through its run directory."""

from __future__ import annotations

import argparse
import os
import sys
import time
import traceback
from pathlib import Path
from typing import TYPE_CHECKING, Any

from core.durable import read_json
from core.paths import Paths
from core.runs.schema import METRICS_FILE, RunState, RunStatus
from core.runs.writers import GpuLogger, MetricsWriter, StatusWriter, last_segment
from core.training.config import TrainConfig
from core.training.context import LoopContext, OomRelaunch, StopTraining
from core.training.dist import Dist, destroy_process_group, dist_from_env
from core.training.job_log import job_logger
from core.training.job_setup import (
    Log,
    batch_split,
    check_preflight,
    job_model,
    load_job_tokenizer,
    prepare_process,
    probe_rows,
    resume_point,
    tokenized_pairs,
)
from core.training.locks import LockBusy, RunLock
from core.training.queue.runner import job_hands_over, job_holds_devices
from core.training.signals import install_stop_handlers, restore_handlers

if TYPE_CHECKING:
    from core.training.loop import Loop


def run_job(run_dir: Path, resume: bool = False, batch_size: int | None = None,
            grad_accum: int | None = None, in_process: bool = False,
            datasets_dir: Path | None = None) -> int:
    """Run (or resume) the training in `run_dir` until it finishes, stops or fails.

    Returns the exit code: 0 finished or stopped, 1 crashed, 2 refused (preflight, lock,
    config), 3 NaN/inf, 4 out of memory. `in_process` (foreground from Python) restores
    signal handlers afterwards and never exec()s.
    """
    run_dir = Path(run_dir).resolve()
    dist = dist_from_env()
    lock = RunLock(run_dir)
    if dist.main:
        try:
            lock.acquire()
        except LockBusy as exc:
            print(f"narou-tui job: {exc}", file=sys.stderr, flush=True)
            return 2
    stop_flag: dict[str, Any] = {"stop": False, "signal": None}
    old_handlers = install_stop_handlers(stop_flag)
    status: StatusWriter | None = None
    metrics: MetricsWriter | None = None
    gpu: GpuLogger | None = None
    relaunch: OomRelaunch | None = None
    device_fds: list[int] = []
    code = 1
    try:
        frozen = read_json(run_dir / "config.json")
        cfg = TrainConfig.from_frozen(frozen["train"], source=str(run_dir / "config.json"))
        # The run's own parent is its checkpoints folder wherever the run has been moved to.
        paths = Paths(Path(datasets_dir or frozen["paths"]["datasets_dir"]), run_dir.parent,
                      Path(frozen["paths"].get("config_dir", run_dir)))
        segment = last_segment(run_dir / METRICS_FILE) + 1 if resume else 0
        if dist.main:
            # Under torchrun the job is the agent process: the pid a stop request must reach.
            pid = os.getppid() if "TORCHELASTIC_RUN_ID" in os.environ else os.getpid()
            status = StatusWriter(run_dir, _starting_status(run_dir, resume), pid=pid)
            devices, device_fds = job_holds_devices(run_dir, frozen["train"])
            status.update(segment=segment, phase="starting", world_size=dist.world, devices=devices)
            status.start()
            metrics = MetricsWriter(run_dir, segment)
            gpu = GpuLogger(run_dir)
            gpu.start()
        ctx_holder: dict[str, Any] = {}
        code = _train(run_dir, cfg, paths, dist, resume, batch_size, grad_accum, status, metrics,
                      segment, stop_flag, ctx_holder)
    except StopTraining as stop:
        code = stop.code
        _final(status, metrics, stop.state, stop.reason)
        print(f"narou-tui job: {stop.state}: {stop.reason}", flush=True)
    except OomRelaunch as oom:
        relaunch = oom
        code = 4
    except Exception as exc:
        import torch

        if isinstance(exc, torch.cuda.OutOfMemoryError):
            code = 4
            reason = f"CUDA {exc}"
        else:
            code = 1
            reason = f"{type(exc).__name__}: {exc}"
        traceback.print_exc()
        if metrics is not None:
            metrics.event(status.status.step if status else 0, "crashed", reason=reason)
        _final(status, metrics, RunState.FAILED.value, reason)
    finally:
        if gpu is not None:
            gpu.stop()
        if status is not None:
            status.stop()
        if metrics is not None:
            metrics.close()
        destroy_process_group(dist)
        restore_handlers(old_handlers)
        lock.release()
        job_hands_over(run_dir, device_fds, wake=relaunch is None and dist.main)
    if relaunch is not None:
        return _relaunch(run_dir, relaunch, status, in_process, datasets_dir)
    return code


def _starting_status(run_dir: Path, resume: bool) -> RunStatus:
    """A new segment's first status; a resume carries over the bests and the last checkpoint."""
    if not resume:
        return RunStatus(state=RunState.STARTING.value, started_at=time.time())
    from core.runs.reader import read_status
    from core.training.checkpoint import recover_checkpoint_fields

    old = recover_checkpoint_fields(run_dir, read_status(run_dir))
    st = RunStatus(state=RunState.STARTING.value, started_at=time.time(), best_eval_loss=old.best_eval_loss,
                   best_checkpoint=old.best_checkpoint, last_complete_checkpoint=old.last_complete_checkpoint,
                   step=old.step, total_steps=old.total_steps)
    if "best_chrf" in old.extra:  # carried over like best_eval_loss
        st.extra["best_chrf"] = old.extra["best_chrf"]
    return st


def _train(run_dir: Path, cfg: TrainConfig, paths: Paths, dist: Dist, resume: bool,
           batch_size: int | None, grad_accum: int | None, status: StatusWriter | None,
           metrics: MetricsWriter | None, segment: int, stop_flag: dict[str, Any],
           holder: dict[str, Any]) -> int:
    """Prepare the loop's context step by step, run the loop, and say how it ended."""
    import torch

    from core.training.loop import Loop
    from core.training.quality import QualityMonitor

    log = job_logger(dist)
    device = prepare_process(cfg, dist)
    log(f"run {run_dir.name}: rank {dist.rank}/{dist.world} on {device}")
    if status:
        status.update(write=True, phase="tokenizer")
    tokenizer, tok_dir, tok_info = load_job_tokenizer(run_dir, cfg, paths, dist, log)
    check_preflight(paths, cfg, tokenizer, tok_info.get("warnings"), metrics, log)
    resume_folder, resume_state = resume_point(run_dir, metrics, log) if resume else (None, None)
    if status:
        status.update(write=True, phase="tokenizing")
    log("tokenizing the dataset (cached after the first run)")
    train, val = tokenized_pairs(paths, cfg, tok_dir, dist)
    probe = probe_rows(paths, cfg.dataset, cfg.probe_size)
    # Only the main process generates and scores titles (the others wait at the eval barrier).
    quality = QualityMonitor.for_run(paths, run_dir, cfg.dataset, cfg.quality_samples) if dist.main else None
    bs, ga, plan = batch_split(cfg, resume_state, batch_size, grad_accum, device, dist)
    model = job_model(cfg, tokenizer, resume_folder)
    ctx = LoopContext(run_dir=run_dir, cfg=cfg, model=model, tokenizer=tokenizer, train=train, val=val,
                      probe_rows=probe, device=device, dist=dist, batch_size=bs, grad_accum=ga,
                      plan_batch=plan, status=status, metrics=metrics, resume_state=resume_state,
                      resume_folder=resume_folder, segment=segment, stop_flag=stop_flag, quality=quality)
    loop = Loop(ctx)
    holder["loop"] = loop
    loop.setup()
    _announce(loop, metrics, resume, log)
    try:
        loop.run()
    except torch.cuda.OutOfMemoryError as exc:
        raise _after_oom(loop, exc, log) from exc
    log(f"finished at step {loop.state.step}")
    _final(status, metrics, RunState.FINISHED.value, None)
    return 0


def _announce(loop: Loop, metrics: MetricsWriter | None, resume: bool, log: Log) -> None:
    """The segment's first event (`started` or `resumed`, with the batch it really uses) and log line."""
    ctx = loop.ctx
    bs, ga, world = ctx.batch_size, ctx.grad_accum, ctx.dist.world
    if metrics is not None:
        if resume:
            step = ctx.resume_state.step if ctx.resume_state else 0
            metrics.event(step, "resumed", checkpoint=ctx.resume_folder.name if ctx.resume_folder else None,
                          batch_size=bs, grad_accum=ga, world_size=world)
        else:
            metrics.event(0, "started", batch_size=bs, grad_accum=ga, world_size=world,
                          precision=loop.precision, compiled=loop.compiled, compile=loop.compile_mode,
                          total_steps=loop.total_steps,
                          steps_per_epoch=loop.steps_per_epoch, device=str(ctx.device))
    log(f"{loop.total_steps} steps ({loop.steps_per_epoch}/epoch), micro-batch {bs} × accumulation {ga}"
        f" × {world} process(es), {loop.precision}, compile={loop.compile_mode}")


def _after_oom(loop: Loop, exc: BaseException, log: Log) -> Exception:
    """What an out-of-memory ends in: a relaunch with half the micro-batch (--auto-oom, one
    process) or a failed run whose reason says how to resume with less memory."""
    ctx = loop.ctx
    bs, ga, metrics = ctx.batch_size, ctx.grad_accum, ctx.metrics
    reason = loop.oom_report(exc)
    if metrics is not None:
        metrics.event(loop.state.step, "oom", reason=reason, phase=loop.phase, batch_size=bs, grad_accum=ga)
    log(reason)
    if ctx.cfg.auto_oom and ctx.dist.world == 1 and bs > 1:
        new_bs, new_ga = bs // 2, ga * 2
        if metrics is not None:
            metrics.event(loop.state.step, "auto_oom_relaunch", batch_size=new_bs, grad_accum=new_ga)
        return OomRelaunch(new_bs, new_ga, reason)
    hint = (f"; resume with `narou-tui resume {ctx.run_dir.name} --batch-size {max(1, bs // 2)} "
            f"--grad-accum {ga * 2}` or launch with --auto-oom")
    return StopTraining(RunState.FAILED.value, reason + hint, 4)


def _final(status: StatusWriter | None, metrics: MetricsWriter | None, state: str, reason: str | None) -> None:
    if metrics is not None:
        step = status.status.step if status else 0
        metrics.event(step, state, reason=reason)
    if status is not None:
        status.update(write=True, state=state, exit_reason=reason, phase=state)


def _relaunch(run_dir: Path, oom: OomRelaunch, status: StatusWriter | None, in_process: bool,
              datasets_dir: Path | None) -> int:
    """Replace this process with a resumed job using half the micro-batch (same pid)."""
    argv = [sys.executable, "-m", "core.training.job", str(run_dir), "--resume",
            "--batch-size", str(oom.batch_size), "--grad-accum", str(oom.grad_accum)]
    if datasets_dir is not None:
        argv += ["--datasets-dir", str(datasets_dir)]
    if status is not None:
        # exec keeps the pid and its start time; the argv it records must be the new one.
        status.update(write=True, state=RunState.STARTING.value, exit_reason=None,
                      phase=f"relaunching after OOM with micro-batch {oom.batch_size}",
                      **({} if in_process else {"cmdline": argv}))
    if in_process:
        return run_job(run_dir, resume=True, batch_size=oom.batch_size, grad_accum=oom.grad_accum,
                       in_process=True, datasets_dir=datasets_dir)
    sys.stdout.flush()
    sys.stderr.flush()
    os.execv(sys.executable, argv)
    return 4  # not reached


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m core.training.job")
    parser.add_argument("run_dir", type=Path)
    parser.add_argument("--resume", action="store_true")
    parser.add_argument("--batch-size", type=int)
    parser.add_argument("--grad-accum", type=int)
    parser.add_argument("--datasets-dir", type=Path)
    args = parser.parse_args(argv)
    return run_job(args.run_dir, args.resume, args.batch_size, args.grad_accum,
                   datasets_dir=args.datasets_dir)


if __name__ == "__main__":
    sys.exit(main())
