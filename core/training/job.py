"""The training job process: `python -m core.training.job RUN_DIR [--resume] [--batch-size N
--grad-accum M]`. Knows nothing of any UI; talks only through its run directory."""

from __future__ import annotations

import argparse
import logging
import os
import signal
import sys
import time
import traceback
from pathlib import Path
from typing import Any

from core.durable import read_json
from core.paths import Paths
from core.runs.schema import METRICS_FILE, TOKENIZER_DIR, RunState, RunStatus
from core.runs.writers import GpuLogger, MetricsWriter, StatusWriter, last_segment
from core.training.config import TrainConfig, pick_batch_split
from core.training.context import Dist, LoopContext, OomRelaunch, StopTraining
from core.training.locks import LockBusy, RunLock
from core.training.queue.runner import job_hands_over, job_holds_devices


def dist_from_env() -> Dist:
    return Dist(
        rank=int(os.environ.get("RANK", "0")),
        world=int(os.environ.get("WORLD_SIZE", "1")),
        local_rank=int(os.environ.get("LOCAL_RANK", "0")),
    )


def _device(cfg: TrainConfig, dist: Dist) -> Any:
    import torch

    if cfg.device == "cpu" or (cfg.device == "auto" and not torch.cuda.is_available()):
        return torch.device("cpu")
    if not torch.cuda.is_available():
        raise StopTraining("failed", "device=cuda was asked for but no CUDA GPU is visible", 2)
    torch.cuda.set_device(dist.local_rank)
    return torch.device("cuda", dist.local_rank)


def _device_mem_gib(device: Any) -> float | None:
    import torch

    if device.type != "cuda":
        return None
    return torch.cuda.get_device_properties(device).total_memory / 2**30


class _PrintHandler(logging.Handler):
    """Writes records to whatever sys.stdout is at the time (train.log for a detached job)."""

    def emit(self, record: logging.LogRecord) -> None:
        try:
            print(self.format(record), flush=True)
        except Exception:  # noqa: BLE001 - logging must never stop training
            self.handleError(record)


def _core_logs_to_stdout(dist: Dist) -> None:
    """Put core's log records (the model load report, where weights came from) in train.log
    beside the job's own lines; NAROU_TUI_LOG_LEVEL=debug adds transformers' full report."""
    logger = logging.getLogger("core")
    if not any(isinstance(h, _PrintHandler) for h in logger.handlers):
        handler = _PrintHandler()
        handler.setFormatter(logging.Formatter("[%(asctime)s] %(message)s", "%H:%M:%S"))
        logger.addHandler(handler)
    wanted = os.environ.get("NAROU_TUI_LOG_LEVEL", "info").upper()
    level = logging.getLevelName(wanted) if wanted in ("DEBUG", "INFO", "WARNING", "ERROR") else logging.INFO
    logger.setLevel(level if dist.main else logging.ERROR)


def _tokenizer(run_dir: Path, cfg: TrainConfig, paths: Paths, dist: Dist, log: Any) -> tuple[Any, Path, dict[str, Any]]:
    """(tokenizer, its folder, info) — a scratch run trains its WordPiece vocab once, in the run dir."""
    from core.model import SCRATCH_PRESETS
    from core.tokenization.loader import load_tokenizer

    spec: str | None = cfg.tokenizer or cfg.model
    if spec is None:
        folder = run_dir / TOKENIZER_DIR
        if dist.main and not (folder / "vocab.txt").exists():
            from core.tokenization.vocab_cache import copy_vocab, scratch_vocab

            vocab = cfg.vocab_size or SCRATCH_PRESETS[cfg.scratch or "tiny"].vocab_size
            log(f"WordPiece vocabulary of ≤ {vocab} pieces from the train split of {cfg.dataset!r}")
            cached, reused = scratch_vocab(paths, cfg.dataset, vocab)
            log(f"{'reusing' if reused else 'trained'} {cached}")
            copy_vocab(cached, folder)
        _barrier(dist)
        spec = str(folder)
    loaded = load_tokenizer(spec)
    return loaded.tokenizer, Path(loaded.info.path), loaded.info.to_dict()


def _barrier(dist: Dist) -> None:
    if dist.world > 1:
        import torch.distributed as tdist

        tdist.barrier()


def _probe_rows(paths: Paths, name: str, n: int) -> list[dict[str, Any]]:
    """The fixed probe set: the first `n` validation rows (ncode and reference title)."""
    from core.data.store import load_tables

    table = load_tables(paths, name).get("validation")
    if table is None:
        return []
    n = min(n, table.num_rows)
    cols = set(table.column_names)
    ncodes = table.column("ncode").to_pylist()[:n] if "ncode" in cols else [""] * n
    titles = table.column("title").to_pylist()[:n] if "title" in cols else [""] * n
    return [{"row": i, "story_id": ncodes[i] or f"validation:{i}", "ncode": ncodes[i] or "",
             "reference": titles[i] or ""} for i in range(n)]


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
    old_handlers = _install_signals(stop_flag)
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
            pid = os.getppid() if "TORCHELASTIC_RUN_ID" in os.environ else os.getpid()
            old = None
            if resume:
                from core.runs.reader import read_status
                from core.training.checkpoint import recover_checkpoint_fields

                old = recover_checkpoint_fields(run_dir, read_status(run_dir))
            st = RunStatus(state=RunState.STARTING.value, started_at=time.time(),
                           best_eval_loss=old.best_eval_loss if old else None,
                           best_checkpoint=old.best_checkpoint if old else None,
                           last_complete_checkpoint=old.last_complete_checkpoint if old else None,
                           step=old.step if old else 0, total_steps=old.total_steps if old else None)
            status = StatusWriter(run_dir, st, pid=pid)
            devices, device_fds = job_holds_devices(run_dir, frozen["train"])
            status.update(segment=segment, phase="starting", world_size=dist.world, devices=devices)
            if old is not None and "best_chrf" in old.extra:  # carried over like best_eval_loss
                status.update(best_chrf=old.extra["best_chrf"])
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
        _destroy_dist(dist)
        _restore_signals(old_handlers)
        lock.release()
        job_hands_over(run_dir, device_fds, wake=relaunch is None and dist.main)
    if relaunch is not None:
        return _relaunch(run_dir, relaunch, status, in_process, datasets_dir)
    return code


def _train(run_dir: Path, cfg: TrainConfig, paths: Paths, dist: Dist, resume: bool,
           batch_size: int | None, grad_accum: int | None, status: StatusWriter | None,
           metrics: MetricsWriter | None, segment: int, stop_flag: dict[str, Any],
           holder: dict[str, Any]) -> int:
    import random

    import numpy as np
    import torch

    from core.model import build_model, configure_ids, model_from_checkpoint
    from core.tokenization import tokenize_dataset
    from core.training.batching import PairData
    from core.training.checkpoint import newest_complete, read_trainer_state
    from core.training.loop import Loop
    from core.training.preflight import require_ok, run_preflight
    from core.training.quality import QualityMonitor

    def log(msg: str) -> None:
        if dist.main:
            print(f"[{time.strftime('%H:%M:%S')}] {msg}", flush=True)

    if cfg.threads:
        torch.set_num_threads(cfg.threads)
    from transformers.utils import logging as hf_logging

    hf_logging.disable_progress_bar()  # per-save shard bars would flood train.log
    _core_logs_to_stdout(dist)
    if dist.world > 1:
        import torch.distributed as tdist

        backend = "nccl" if torch.cuda.is_available() and cfg.device != "cpu" else "gloo"
        tdist.init_process_group(backend=backend)
    device = _device(cfg, dist)
    log(f"run {run_dir.name}: rank {dist.rank}/{dist.world} on {device}")
    if status:
        status.update(write=True, phase="tokenizer")
    tokenizer, tok_dir, tok_info = _tokenizer(run_dir, cfg, paths, dist, log)
    findings = run_preflight(paths, cfg, tokenizer, tok_info.get("warnings"))
    for f in findings:
        log(f"preflight {f}")
        if metrics is not None and f.level == "warning":
            metrics.event(0, "warning", reason=f.message)
    try:
        require_ok(findings)
    except Exception as exc:
        raise StopTraining(RunState.FAILED.value, str(exc), 2) from exc

    # Resume point: the newest checkpoint with its COMPLETE marker; incomplete ones skipped.
    resume_folder = None
    resume_state = None
    if resume:
        resume_folder, skipped = newest_complete(run_dir)
        for s in skipped:
            log(f"skipping incomplete checkpoint {s.name} (no COMPLETE marker)")
            if metrics is not None:
                metrics.event(0, "skipped_incomplete", checkpoint=s.name)
        if resume_folder is not None:
            resume_state = read_trainer_state(resume_folder)

    if status:
        status.update(write=True, phase="tokenizing")
    log("tokenizing the dataset (cached after the first run)")
    if dist.main:
        dd = tokenize_dataset(paths, cfg.dataset, tok_dir, cfg.max_source_len, cfg.max_target_len,
                              num_proc=cfg.workers or None)
    _barrier(dist)
    if not dist.main:
        dd = tokenize_dataset(paths, cfg.dataset, tok_dir, cfg.max_source_len, cfg.max_target_len,
                              num_proc=cfg.workers or None)
    train = PairData.from_dataset(dd["train"])
    val = PairData.from_dataset(dd["validation"])
    probe = _probe_rows(paths, cfg.dataset, cfg.probe_size)
    # Only the main process generates and scores titles (the others wait at the eval barrier).
    quality = QualityMonitor.for_run(paths, run_dir, cfg.dataset, cfg.quality_samples) if dist.main else None

    # Split of the effective batch: explicit > saved in the checkpoint > picked from memory.
    if resume_state is not None:
        bs = batch_size or resume_state.batch_size
        ga = grad_accum or (resume_state.grad_accum * resume_state.batch_size // bs)
        plan = resume_state.plan_batch or resume_state.batch_size
    else:
        auto_bs, auto_ga = pick_batch_split(_device_mem_gib(device), cfg.scratch, dist.world)
        bs = batch_size or cfg.batch_size or auto_bs
        if grad_accum or cfg.grad_accum:
            ga = grad_accum or cfg.grad_accum or 1
        else:
            ga = max(1, (auto_bs * auto_ga) // bs) if not cfg.batch_size else max(1, 64 // (bs * dist.world))
        plan = bs
    if plan % bs:
        raise StopTraining(RunState.FAILED.value,
                           f"--batch-size {bs} must divide the run's batch size {plan} (data order is cut with it)", 2)

    random.seed(cfg.seed)
    np.random.seed(cfg.seed)
    torch.manual_seed(cfg.seed)
    if resume_folder is not None:
        model = model_from_checkpoint(resume_folder)
        configure_ids(model, tokenizer, cfg.max_target_len)
    else:
        model = build_model(tokenizer, pretrained=cfg.model, scratch=cfg.scratch,
                            tie_encoder_decoder=cfg.tie_encoder_decoder, max_title_tokens=cfg.max_target_len)
    ctx = LoopContext(run_dir=run_dir, cfg=cfg, model=model, tokenizer=tokenizer, train=train, val=val,
                      probe_rows=probe, device=device, dist=dist, batch_size=bs, grad_accum=ga,
                      plan_batch=plan, status=status, metrics=metrics, resume_state=resume_state,
                      resume_folder=resume_folder, segment=segment, stop_flag=stop_flag, quality=quality)
    loop = Loop(ctx)
    holder["loop"] = loop
    loop.setup()
    if metrics is not None:
        if resume:
            step = resume_state.step if resume_state else 0
            metrics.event(step, "resumed", checkpoint=resume_folder.name if resume_folder else None,
                          batch_size=bs, grad_accum=ga, world_size=dist.world)
        else:
            metrics.event(0, "started", batch_size=bs, grad_accum=ga, world_size=dist.world,
                          precision=loop.precision, compiled=loop.compiled, compile=loop.compile_mode,
                          total_steps=loop.total_steps,
                          steps_per_epoch=loop.steps_per_epoch, device=str(device))
    log(f"{loop.total_steps} steps ({loop.steps_per_epoch}/epoch), micro-batch {bs} × accumulation {ga}"
        f" × {dist.world} process(es), {loop.precision}, compile={loop.compile_mode}")
    try:
        loop.run()
    except torch.cuda.OutOfMemoryError as exc:
        reason = loop.oom_report(exc)
        if metrics is not None:
            metrics.event(loop.state.step, "oom", reason=reason, phase=loop.phase,
                          batch_size=bs, grad_accum=ga)
        log(reason)
        if cfg.auto_oom and dist.world == 1 and bs > 1:
            new_bs, new_ga = bs // 2, ga * 2
            if metrics is not None:
                metrics.event(loop.state.step, "auto_oom_relaunch", batch_size=new_bs, grad_accum=new_ga)
            raise OomRelaunch(new_bs, new_ga, reason) from exc
        hint = (f"; resume with `narou-tui resume {run_dir.name} --batch-size {max(1, bs // 2)} "
                f"--grad-accum {ga * 2}` or launch with --auto-oom")
        raise StopTraining(RunState.FAILED.value, reason + hint, 4) from exc
    log(f"finished at step {loop.state.step}")
    _final(status, metrics, RunState.FINISHED.value, None)
    return 0


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


def _destroy_dist(dist: Dist) -> None:
    if dist.world > 1:
        try:
            import torch.distributed as tdist

            if tdist.is_initialized():
                tdist.destroy_process_group()
        except Exception:
            pass


def _install_signals(flag: dict[str, Any]) -> dict[int, Any]:
    import threading

    if threading.current_thread() is not threading.main_thread():
        return {}

    def on_stop(signum: int, _frame: Any) -> None:
        flag["stop"] = True
        flag["signal"] = signal.Signals(signum).name

    old = {}
    for sig, handler in ((signal.SIGTERM, on_stop), (signal.SIGINT, on_stop), (signal.SIGHUP, signal.SIG_IGN)):
        old[sig] = signal.signal(sig, handler)
    return old


def _restore_signals(old: dict[int, Any]) -> None:
    for sig, handler in old.items():
        signal.signal(sig, handler)


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
