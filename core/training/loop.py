"""The training loop: bucketed batches, AMP, accumulation, eval + probes, saves, faults.

Written for throughput on a GPU: pre-tokenized columns gathered by offset, shapes padded to a
few repeating buckets, fused AdamW, bf16 autocast, TF32, opt-in torch.compile with symbolic
lengths (one graph for every bucket, eager fallback), SDPA, and no
host synchronisation inside a step (losses stay on the device and are read once per
`log_steps`). Only rank 0 writes files.
"""

from __future__ import annotations

import math
import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from core.training.batching import Collator, PairData, Prefetcher, epoch_batches, split_batches
from core.training.checkpoint import (
    TrainerState,
    apply_retention,
    checkpoint_name,
    forecast_bytes,
    free_bytes,
    save_checkpoint,
)
from core.training.config import TrainConfig, resolve_compile
from core.training.early_stop import EarlyStopper

# Fault-injection hooks for tests (never set in normal use):
#   NAROU_TUI_FAULT_OOM="STEP:MAXBATCH" raises a CUDA OOM at optimizer step ≥ STEP while the
#       micro-batch is larger than MAXBATCH (so the auto-OOM relaunch with half gets through).
#   NAROU_TUI_FAULT_NAN_AT_STEP=N makes every loss from optimizer step N on NaN.
#   NAROU_TUI_FAULT_STEP_SLEEP=S sleeps S seconds after each optimizer step (slow runs to kill).
#   NAROU_TUI_COMPILE_BACKEND=NAME gives torch.compile another backend: `aot_eager` traces and
#       differentiates without generating kernels (fast CPU tests), `fail` is a backend that
#       raises (the compile_failed fallback).
OOM_ENV = "NAROU_TUI_FAULT_OOM"
COMPILE_BACKEND_ENV = "NAROU_TUI_COMPILE_BACKEND"
NAN_ENV = "NAROU_TUI_FAULT_NAN_AT_STEP"
STEP_SLEEP_ENV = "NAROU_TUI_FAULT_STEP_SLEEP"


class StopTraining(Exception):
    """Ends the loop with a final state; `state` is a RunState value, `code` the exit code."""

    def __init__(self, state: str, reason: str, code: int) -> None:
        super().__init__(reason)
        self.state = state
        self.reason = reason
        self.code = code


class OomRelaunch(Exception):
    """Raised after an OOM when auto_oom asks for a relaunch with a smaller micro-batch."""

    def __init__(self, batch_size: int, grad_accum: int, reason: str) -> None:
        super().__init__(reason)
        self.batch_size = batch_size
        self.grad_accum = grad_accum


@dataclass
class Dist:
    """Process-group facts (a single process is rank 0 of world 1)."""

    rank: int = 0
    world: int = 1
    local_rank: int = 0

    @property
    def main(self) -> bool:
        return self.rank == 0


@dataclass
class LoopContext:
    """Everything the loop needs, built by the job."""

    run_dir: Path
    cfg: TrainConfig
    model: Any
    tokenizer: Any
    train: PairData
    val: PairData
    probe_rows: list[dict[str, Any]]
    device: Any
    dist: Dist
    batch_size: int
    grad_accum: int
    plan_batch: int
    status: Any = None  # StatusWriter on rank 0
    metrics: Any = None  # MetricsWriter on rank 0
    resume_state: TrainerState | None = None
    resume_folder: Path | None = None
    segment: int = 0
    stop_flag: dict[str, Any] = field(default_factory=lambda: {"stop": False, "signal": None})


def resolve_precision(cfg: TrainConfig, device: Any) -> str:
    import torch

    if device.type != "cuda":
        return "fp32"
    if cfg.precision != "auto":
        return cfg.precision
    return "bf16" if torch.cuda.is_bf16_supported() else "fp16"


def lr_lambda_factory(warmup_steps: int, total_steps: int) -> Any:
    def f(step: int) -> float:
        # Same shape as HF's linear schedule (0 at step 0) so loss curves compare step for step.
        if step < warmup_steps:
            return step / max(1, warmup_steps)
        return max(0.0, (total_steps - step) / max(1, total_steps - warmup_steps))

    return f


def make_optimizer(model: Any, cfg: TrainConfig, device: Any) -> Any:
    import torch

    decay, no_decay = [], []
    seen: set[int] = set()
    for name, p in model.named_parameters():
        if not p.requires_grad or id(p) in seen:
            continue
        seen.add(id(p))
        (no_decay if p.ndim < 2 or "LayerNorm" in name or name.endswith(".bias") else decay).append(p)
    groups = [
        {"params": decay, "weight_decay": cfg.weight_decay},
        {"params": no_decay, "weight_decay": 0.0},
    ]
    fused = device.type == "cuda"
    return torch.optim.AdamW(groups, lr=cfg.lr, betas=(0.9, 0.999), eps=1e-8, fused=fused)


def compile_model(model: Any, mode: str, cfg: TrainConfig) -> Any:
    """`model` wrapped by torch.compile for `mode` (on|static|dynamic); `off` returns it as is."""
    if mode == "off":
        return model
    import torch

    backend: Any = os.environ.get(COMPILE_BACKEND_ENV) or "inductor"
    if backend == "fail":
        backend = _failing_backend
    if mode == "dynamic":
        return torch.compile(model, dynamic=True, backend=backend)
    if mode == "static":
        import torch._dynamo

        # One graph per (source bucket, target bucket); make room for all of them.
        buckets = (cfg.max_source_len // cfg.pad_multiple_source + 1) * (
            cfg.max_target_len // cfg.pad_multiple_target + 1)
        torch._dynamo.config.cache_size_limit = max(64, buckets + 8)
        if hasattr(torch._dynamo.config, "accumulated_cache_size_limit"):
            torch._dynamo.config.accumulated_cache_size_limit = max(256, buckets * 4)
        return torch.compile(model, dynamic=False, backend=backend)
    # "on": the training step marks the length dimension of each batch dynamic
    # (mark_lengths_dynamic), so the first trace already has symbolic lengths and every bucket
    # reuses it; the batch stays a constant, which keeps the kernels' batch-size guards simple.
    return torch.compile(model, backend=backend)


def _failing_backend(gm: Any, example_inputs: Any) -> Any:
    raise RuntimeError(f"compile failure injected by {COMPILE_BACKEND_ENV}=fail")


def mark_lengths_dynamic(batch: dict[str, Any]) -> None:
    """Tell dynamo that dimension 1 (sequence length) of the model inputs varies."""
    import torch._dynamo

    for key in ("input_ids", "attention_mask", "decoder_input_ids"):
        torch._dynamo.maybe_mark_dynamic(batch[key], 1)


def compile_errors() -> tuple[type[BaseException], ...]:
    """Exceptions that mean torch.compile could not build or run a graph (not a model bug)."""
    import torch._dynamo.exc

    types: list[type[BaseException]] = [torch._dynamo.exc.TorchDynamoException]
    try:
        from torch._inductor.exc import CppCompileError

        types.append(CppCompileError)
    except ImportError:  # older torch: the dynamo base class covers what it raises
        pass
    return tuple(types)


class Loop:
    """One job segment of training (fresh start or resume)."""

    def __init__(self, ctx: LoopContext) -> None:
        import torch

        self.ctx = ctx
        self.cfg = ctx.cfg
        self.torch = torch
        self.raw_model = ctx.model
        self.device = ctx.device
        self.precision = resolve_precision(self.cfg, self.device)
        self.amp_dtype = {"bf16": torch.bfloat16, "fp16": torch.float16}.get(self.precision)
        self.scaler = torch.amp.GradScaler("cuda") if self.precision == "fp16" else None
        self.split = ctx.plan_batch // ctx.batch_size
        self.collate = Collator(
            pad_id=ctx.tokenizer.pad_token_id,
            decoder_start_id=ctx.tokenizer.cls_token_id,
            max_source_len=self.cfg.max_source_len,
            max_target_len=self.cfg.max_target_len,
            pad_source=self.cfg.pad_multiple_source,
            pad_target=self.cfg.pad_multiple_target,
        )
        # Truncated lengths: what the collator will pad, so buckets match the padded shapes.
        self.src_lengths = np.minimum(ctx.train.source.lengths(), self.cfg.max_source_len)
        self.tgt_lengths = np.minimum(ctx.train.target.lengths(), self.cfg.max_target_len)
        n_plan = len(ctx.train) // ctx.plan_batch
        self.steps_per_epoch = (n_plan * self.split) // (ctx.grad_accum * ctx.dist.world)
        if self.steps_per_epoch < 1:
            raise StopTraining("failed", (
                f"the training split ({len(ctx.train)} pairs) is smaller than one optimizer step "
                f"({ctx.plan_batch} × {ctx.grad_accum // max(1, self.split) or 1} × {ctx.dist.world} pairs): "
                "lower --batch-size/--grad-accum"), 2)
        if self.cfg.max_steps:
            self.total_steps = int(self.cfg.max_steps)
        else:
            self.total_steps = max(1, math.ceil(self.cfg.epochs * self.steps_per_epoch))
        self.warmup_steps = math.ceil(self.cfg.warmup * self.total_steps)
        self.phase = "setup"
        self.state = ctx.resume_state or TrainerState(
            plan_batch=ctx.plan_batch, batch_size=ctx.batch_size, grad_accum=ctx.grad_accum,
            world_size=ctx.dist.world,
        )
        self.state.total_steps = self.total_steps
        self.state.batch_size, self.state.grad_accum = ctx.batch_size, ctx.grad_accum
        self.state.world_size, self.state.segment = ctx.dist.world, ctx.segment
        self.last_saved_step = self.state.step if ctx.resume_state else -1
        self._disk_warned = False
        self._fault_oom = _parse_oom(os.environ.get(OOM_ENV))
        self._fault_nan = int(os.environ.get(NAN_ENV, "0") or 0)
        self._step_sleep = float(os.environ.get(STEP_SLEEP_ENV, "0") or 0)
        self.early_stop = EarlyStopper.for_loop(ctx)
        self.compile_mode = "off"  # set by setup()
        self._compile_t0: float | None = None

    @property
    def compiled(self) -> bool:
        return self.compile_mode != "off"

    # ------------------------------------------------------------------ setup
    def setup(self) -> None:
        torch = self.torch
        cfg = self.cfg
        if self.device.type == "cuda":
            torch.backends.cuda.matmul.allow_tf32 = True
            torch.backends.cudnn.allow_tf32 = True
        self.raw_model.to(self.device)
        self.raw_model.train()
        self.optimizer = make_optimizer(self.raw_model, cfg, self.device)
        self.scheduler = torch.optim.lr_scheduler.LambdaLR(
            self.optimizer, lr_lambda_factory(self.warmup_steps, self.total_steps)
        )
        if self.ctx.resume_folder is not None:
            from core.training.checkpoint import load_training_state

            load_training_state(self.ctx.resume_folder, self.optimizer, self.scheduler, self.device)
        model = self.raw_model
        if self.ctx.dist.world > 1:
            from torch.nn.parallel import DistributedDataParallel as DDP

            ids = [self.device.index] if self.device.type == "cuda" else None
            model = DDP(model, device_ids=ids)
        self.ddp_model = model
        self.compile_mode = resolve_compile(cfg.compile)
        self.model = compile_model(model, self.compile_mode, cfg)

    # ------------------------------------------------------------------ helpers
    def _autocast(self) -> Any:
        if self.amp_dtype is None:
            import contextlib

            return contextlib.nullcontext()
        return self.torch.autocast(device_type=self.device.type, dtype=self.amp_dtype)

    def _event(self, event: str, **fields: Any) -> None:
        if self.ctx.metrics is not None:
            self.ctx.metrics.event(self.state.step, event, **fields)

    def _status(self, write: bool = False, **fields: Any) -> None:
        if self.ctx.status is not None:
            self.ctx.status.update(write=write, **fields)

    def _loss(self, model: Any, batch: dict[str, Any]) -> Any:
        import torch.nn.functional as F

        out = model(
            input_ids=batch["input_ids"],
            attention_mask=batch["attention_mask"],
            decoder_input_ids=batch["decoder_input_ids"],
            use_cache=False,
        )
        logits = out.logits
        return F.cross_entropy(
            logits.float().reshape(-1, logits.size(-1)), batch["labels"].reshape(-1), ignore_index=-100
        )

    def _to_device(self, batch: dict[str, Any]) -> dict[str, Any]:
        nb = self.device.type == "cuda"
        return {k: v.to(self.device, non_blocking=nb) if v.dim() > 0 else v for k, v in batch.items()}

    def _rank_batches(self, epoch: int, first_step: int) -> list[np.ndarray]:
        by_target = self.cfg.bucket_by == "source_target"
        plan = epoch_batches(self.src_lengths, self.ctx.plan_batch, self.cfg.seed, epoch, self.cfg.bucket_chunk,
                             target_lengths=self.tgt_lengths if by_target else None,
                             bucket_width=self.cfg.pad_multiple_source)
        micro = split_batches(plan, self.split)
        per_step = self.ctx.grad_accum * self.ctx.dist.world
        usable = self.steps_per_epoch * per_step
        mine = []
        for s in range(first_step, self.steps_per_epoch):
            group = micro[s * per_step:(s + 1) * per_step]
            mine.extend(group[self.ctx.dist.rank::self.ctx.dist.world])
        del usable
        return mine

    def _check_disk(self, n_params: int) -> bool:
        """False when the next save would not fit (the save is then refused)."""
        need = forecast_bytes(self.ctx.run_dir, n_params)
        free = free_bytes(self.ctx.run_dir)
        gib = 1 << 30
        if free < need * 1.2:
            msg = f"not enough disk for checkpoint-{self.state.step}: {free / gib:.2f} GiB free, needs ≈ {need / gib:.2f} GiB"
            self._event("save_refused", reason=msg, free_bytes=free, need_bytes=need)
            self._status(write=True, disk_warning=msg)
            print(f"warning: {msg}; previous checkpoints are untouched", flush=True)
            return False
        if free < need * 4 and not self._disk_warned:
            self._disk_warned = True
            msg = f"disk almost full: {free / gib:.2f} GiB free, each checkpoint ≈ {need / gib:.2f} GiB"
            self._event("disk_low", reason=msg, free_bytes=free, need_bytes=need)
            self._status(write=True, disk_warning=msg)
            print(f"warning: {msg}", flush=True)
        return True

    # ------------------------------------------------------------------ eval / save
    def evaluate(self) -> float:
        torch = self.torch
        self.phase = "eval"
        model = self.raw_model
        model.eval()
        val = self.ctx.val
        n = len(val) if self.cfg.eval_samples <= 0 else min(len(val), self.cfg.eval_samples)
        rows = np.arange(n)
        rows = rows[np.argsort(-val.source.lengths()[:n], kind="stable")]
        bs = max(1, self.ctx.batch_size * 2)
        total = torch.zeros((), device=self.device)
        count = 0
        with torch.no_grad(), self._autocast():
            for i in range(0, n, bs):
                chunk = rows[i:i + bs]
                batch = self._to_device({k: torch.from_numpy(np.asarray(v)) for k, v in
                                         self.collate(val, chunk).items()})
                loss = self._loss(model, batch)
                total += loss.float() * len(chunk)
                count += len(chunk)
        eval_loss = (total / max(1, count)).item()
        probe = self.probe()
        model.train()
        self.state.last_eval_loss = eval_loss
        if self.ctx.metrics is not None:
            self.ctx.metrics.write({"t": round(time.time(), 3), "step": self.state.step,
                                    "epoch": round(self._epoch_float(), 4), "eval_loss": eval_loss,
                                    "eval_samples": count})
            if probe:
                titles = [p["title"] for p in probe]
                self.ctx.metrics.write({"t": round(time.time(), 3), "step": self.state.step,
                                        "probe": probe, "distinct": len(set(titles))})
                if len(titles) > 2 and len(set(titles)) == 1:
                    self._event("collapse", reason="every probe synopsis got the same title", title=titles[0])
        self.phase = "train"
        return eval_loss

    def probe(self) -> list[dict[str, Any]]:
        """Greedy titles for the fixed probe synopses (the first `probe_size` validation rows)."""
        from core.tokenization.decode import decode_title

        torch = self.torch
        rows = self.ctx.probe_rows
        if not rows:
            return []
        self.phase = "generate"
        idx = np.array([r["row"] for r in rows])
        batch = self.collate(self.ctx.val, idx)
        with torch.no_grad(), self._autocast():
            out = self.raw_model.generate(
                input_ids=torch.from_numpy(batch["input_ids"]).to(self.device),
                attention_mask=torch.from_numpy(batch["attention_mask"]).to(self.device),
                max_length=self.cfg.max_target_len,
                num_beams=1,
                do_sample=False,
            )
        result = []
        for r, ids in zip(rows, out.tolist(), strict=True):
            result.append({"story_id": r["story_id"], "ncode": r["ncode"],
                           "title": decode_title(self.ctx.tokenizer, ids), "reference": r["reference"]})
        return result

    def save(self, reason: str) -> None:
        """Checkpoint at the current step (rank 0 writes; all ranks wait for it)."""
        from core.model import count_parameters

        self.phase = "save"
        self._refuse_nonfinite_save()
        ok = True
        if self.ctx.dist.main:
            if self._check_disk(count_parameters(self.raw_model)):
                self._status(write=True, phase="saving")
                name = checkpoint_name(self.state.step)
                ev = self.state.last_eval_loss if self._eval_step == self.state.step else None
                if ev is not None and (self.state.best_eval_loss is None or ev < self.state.best_eval_loss):
                    self.state.best_eval_loss = ev
                    self.state.best_checkpoint = name
                t0 = time.time()
                save_checkpoint(self.ctx.run_dir, self.state.step, self.raw_model, self.ctx.tokenizer,
                                self.optimizer, self.scheduler, self.state)
                removed = apply_retention(self.ctx.run_dir, self.cfg.save_total_limit, self.state.best_checkpoint)
                self._event("saved", checkpoint=name, reason=reason, seconds=round(time.time() - t0, 2),
                            removed=removed)
                self._status(write=True, last_complete_checkpoint=name, best_eval_loss=self.state.best_eval_loss,
                             best_checkpoint=self.state.best_checkpoint, phase="train")
            else:
                ok = False
        self._barrier()
        if ok:
            self.last_saved_step = self.state.step
        self.phase = "train"

    def _refuse_nonfinite_save(self) -> None:
        """Stop the run instead of saving a model that is not finite.

        Log steps look at the loss, but saves come on their own interval and on SIGTERM at any
        step: a NaN between two log steps would otherwise be saved, and rotation would then
        delete a good checkpoint for it. One host sync per save: the count of non-finite
        steps since the last save (kept on the device by the loop) and the parameters' norm.
        """
        torch = self.torch
        params = [p.detach() for p in self.raw_model.parameters()]
        weights = torch.nn.utils.get_total_norm(params, error_if_nonfinite=False)
        # With a GradScaler a non-finite step is skipped, not applied: the weights decide.
        loss_bad = self._nonfinite_steps if self.scaler is None else torch.zeros_like(self._nonfinite_steps)
        flags = torch.stack([loss_bad.float(), (~torch.isfinite(weights)).float()])
        if self.ctx.dist.world > 1:
            torch.distributed.all_reduce(flags, op=torch.distributed.ReduceOp.MAX)
        bad_steps, bad_weights = (int(v) for v in flags.tolist())
        self._nonfinite_steps.zero_()
        if not bad_steps and not bad_weights:
            return
        st = self.state
        what = []
        if bad_steps:
            what.append(f"the loss or gradient norm was NaN/inf on {bad_steps} step(s) since "
                        + (f"the save at step {self.last_saved_step}" if self.last_saved_step >= 0
                           else "the start"))
        if bad_weights:
            what.append("the weights hold NaN/inf")
        kept = self.ctx.status.status.last_complete_checkpoint if self.ctx.status else None
        reason = (f"not saving {checkpoint_name(st.step)}: {' and '.join(what)}; "
                  f"{kept or 'no checkpoint'} is the last good one and was kept; "
                  "lower --lr or check the data")
        self._event("nan", reason=reason, phase="save")
        self._status(step=st.step, epoch=self._epoch_float())
        raise StopTraining("failed", reason, 3)

    def _barrier(self) -> None:
        if self.ctx.dist.world > 1:
            self.torch.distributed.barrier()

    def _epoch_float(self) -> float:
        return self.state.epoch + self.state.steps_in_epoch / max(1, self.steps_per_epoch)

    # ------------------------------------------------------------------ main loop
    def run(self) -> None:
        torch = self.torch
        cfg, ctx, st = self.cfg, self.ctx, self.state
        self._eval_step = -1
        A = ctx.grad_accum
        dev = self.device
        zero = torch.zeros((), device=dev)
        window_loss = zero.clone()
        consec_bad = zero.clone()
        self._nonfinite_steps = zero.clone()  # since the last save: checked before each save
        last_norm = zero.clone()
        window_steps = 0
        window_samples = 0
        window_tokens = 0
        window_t = time.time()
        rate_t0: float | None = None
        rate_step0 = st.step
        # torch.compile builds its graph inside the first step; _compile_done reports the cost.
        # The event first, so a watcher of a quiet first minute or two sees why.
        self._compile_t0 = time.time() if self.compiled else None
        if self.compiled:
            self._event("compiling", mode=self.compile_mode)
        if ctx.resume_state is not None and st.steps_in_epoch:
            self._event("skipped", batches=st.steps_in_epoch * A * ctx.dist.world, epoch=st.epoch,
                        steps=st.steps_in_epoch)
        self._status(write=True, state="running", phase="train", total_steps=self.total_steps,
                     step=st.step, epoch=self._epoch_float(), batch_size=ctx.batch_size,
                     grad_accum=A, precision=self.precision, compiled=self.compiled,
                     compile=self.compile_mode)
        self.phase = "train"
        if ctx.stop_flag["stop"] and ctx.dist.world == 1:
            # Asked to stop while still setting up: nothing new to save.
            raise StopTraining("stopped", f"stopped on request ({ctx.stop_flag['signal']}) before training", 0)
        while st.step < self.total_steps:
            if st.steps_in_epoch >= self.steps_per_epoch:
                st.epoch += 1
                st.steps_in_epoch = 0
            batches = self._rank_batches(st.epoch, st.steps_in_epoch)
            pre = Prefetcher(ctx.train, batches, self.collate, pin=dev.type == "cuda")
            it = iter(pre)
            try:
                while st.steps_in_epoch < self.steps_per_epoch and st.step < self.total_steps:
                    # The step's micro-batches go to the device together: a compile failure
                    # can then replay the whole step eagerly.
                    micro = [self._to_device(next(it)) for _ in range(A)]
                    samples = sum(int(b["input_ids"].shape[0]) for b in micro)
                    tokens = sum(int(b.pop("n_src_tokens")) + int(b.pop("n_tgt_tokens")) for b in micro)
                    try:
                        step_loss = self._accumulate(micro)
                    except compile_errors() as exc:
                        if not self.compiled:
                            raise
                        self._compile_failed(exc)
                        step_loss = self._accumulate(micro)
                    self.phase = "optimizer"
                    if self.scaler is not None:
                        self.scaler.unscale_(self.optimizer)
                    norm = torch.nn.utils.clip_grad_norm_(self.raw_model.parameters(), cfg.max_grad_norm)
                    if self.scaler is not None:
                        self.scaler.step(self.optimizer)
                        self.scaler.update()
                    else:
                        self.optimizer.step()
                    self.scheduler.step()
                    self.optimizer.zero_grad(set_to_none=True)
                    st.step += 1
                    st.steps_in_epoch += 1
                    bad = ~torch.isfinite(step_loss)
                    consec_bad = torch.where(bad, consec_bad + 1, torch.zeros_like(consec_bad))
                    self._nonfinite_steps += bad | ~torch.isfinite(norm)
                    window_loss += step_loss
                    last_norm = norm.detach().float()
                    window_steps += 1
                    window_samples += samples * ctx.dist.world
                    window_tokens += tokens * ctx.dist.world
                    if rate_t0 is None:
                        # The first step pays compilation and warm-up: measure the rate after it.
                        if self._compile_t0 is not None:
                            self._compile_done()
                        rate_t0, rate_step0 = time.time(), st.step
                    if self._step_sleep:
                        time.sleep(self._step_sleep)
                    last = st.step >= self.total_steps
                    if st.step % cfg.log_steps == 0 or last:
                        vals = torch.stack([window_loss / window_steps, last_norm, consec_bad]).tolist()
                        # Read the clock after .tolist(): that sync waits for the window's GPU work.
                        now = time.time()
                        dt = max(1e-9, now - window_t)
                        rate = (st.step - rate_step0) / (now - rate_t0) if now > rate_t0 and st.step > rate_step0 else None
                        eta = (self.total_steps - st.step) / rate if rate else None
                        st.samples_per_s = window_samples / dt
                        rec = {
                            "t": round(now, 3), "step": st.step, "epoch": round(self._epoch_float(), 4),
                            "loss": vals[0], "lr": self.scheduler.get_last_lr()[0], "grad_norm": vals[1],
                            "samples_per_s": round(window_samples / dt, 2),
                            "tokens_per_s": round(window_tokens / dt, 1),
                            "mem_alloc": torch.cuda.memory_allocated(dev) if dev.type == "cuda" else None,
                            "mem_reserved": torch.cuda.memory_reserved(dev) if dev.type == "cuda" else None,
                        }
                        if ctx.metrics is not None:
                            ctx.metrics.write(rec)
                        self._status(step=st.step, epoch=self._epoch_float(), eta_s=eta,
                                     samples_per_s=rec["samples_per_s"])
                        window_loss.zero_()
                        window_steps = window_samples = window_tokens = 0
                        window_t = now
                        if vals[2] >= cfg.nan_patience:
                            self._event("nan", reason=f"loss is NaN/inf for {int(vals[2])} steps", phase="train")
                            raise StopTraining("failed", (
                                f"loss became NaN/inf and stayed so for {int(vals[2])} optimizer steps "
                                f"(patience {cfg.nan_patience}) at step {st.step}; lower --lr or check the data"),
                                3)
                        if self._stop_requested():
                            self._finish_stop()
                    elif ctx.dist.world == 1 and ctx.stop_flag["stop"]:
                        self._finish_stop()
                    if st.step % cfg.eval_steps == 0 or last:
                        self._do_eval()
                        window_t = time.time()  # throughput windows count training time only
                    if st.step % cfg.save_steps == 0 or last:
                        self.save("final" if last else "interval")
                        window_t = time.time()
            finally:
                pre.close()
        self._status(write=True, step=st.step, epoch=self._epoch_float(), eta_s=0.0)

    def _accumulate(self, micro: list[dict[str, Any]]) -> Any:
        """Forward and backward over one optimizer step's micro-batches; the mean loss (on device)."""
        A = len(micro)
        step_loss = self.torch.zeros((), device=self.device)
        for k, batch in enumerate(micro):
            self._maybe_fault_oom(batch)
            if self.compile_mode == "on":
                mark_lengths_dynamic(batch)
            with self._no_sync(k < A - 1):
                self.phase = "forward"
                with self._autocast():
                    loss = self._loss(self.model, batch)
                if self._fault_nan and self.state.step + 1 >= self._fault_nan:
                    loss = loss * float("nan")
                self.phase = "backward"
                scaled = loss / A
                if self.scaler is not None:
                    self.scaler.scale(scaled).backward()
                else:
                    scaled.backward()
            step_loss += loss.detach().float() / A
        return step_loss

    def _compile_failed(self, exc: BaseException) -> None:
        """Drop the compiled model for the eager one; the step is then replayed from scratch."""
        # BackendCompilerFailed's own text is a header; the cause is the wrapped exception.
        cause = getattr(exc, "inner_exception", None) or exc
        lines = [ln for ln in str(cause).strip().splitlines() if ln.strip()]
        reason = (f"torch.compile ({self.compile_mode}) failed, training goes on eagerly: "
                  f"{type(cause).__name__}: {lines[0] if lines else ''}")[:500]
        print(f"warning: {reason}", flush=True)
        self._event("compile_failed", reason=reason, mode=self.compile_mode)
        self.model = self.ddp_model
        self.compile_mode = "off"
        self._compile_t0 = None
        # Half-accumulated gradients of the failed attempt must not count twice.
        self.optimizer.zero_grad(set_to_none=True)
        self._status(write=True, compiled=False, compile="off")

    def _compile_done(self) -> None:
        """Record what the first (compiling) step cost, once the GPU has really finished it."""
        if self.device.type == "cuda":
            self.torch.cuda.synchronize(self.device)
        seconds = time.time() - (self._compile_t0 or time.time())
        self._compile_t0 = None
        self._event("compiled", mode=self.compile_mode, seconds=round(seconds, 1))

    def _do_eval(self) -> None:
        if self.ctx.dist.main:
            self.evaluate()
        self._eval_step = self.state.step
        self._barrier()
        self.early_stop.check(self)

    def _no_sync(self, skip: bool) -> Any:
        import contextlib

        if skip and self.ctx.dist.world > 1:
            return self.ddp_model.no_sync()
        return contextlib.nullcontext()

    def _stop_requested(self) -> bool:
        flag = bool(self.ctx.stop_flag["stop"])
        if self.ctx.dist.world > 1:
            t = self.torch.tensor([1 if flag else 0], device=self.device)
            self.torch.distributed.all_reduce(t, op=self.torch.distributed.ReduceOp.MAX)
            flag = bool(t.item())
        return flag

    def _finish_stop(self) -> None:
        sig = self.ctx.stop_flag.get("signal") or "SIGTERM"
        self._status(write=True, state="stopping")
        self._event("stopping", reason=f"{sig} received")
        if self.last_saved_step != self.state.step:
            self.save("stop")
        raise StopTraining("stopped", f"stopped on request ({sig}) at step {self.state.step}", 0)

    def _maybe_fault_oom(self, batch: dict[str, Any]) -> None:
        if self._fault_oom is None:
            return
        at, max_batch = self._fault_oom
        if self.state.step + 1 >= at and self.ctx.batch_size > max_batch:
            self.phase = "forward"
            raise self.torch.cuda.OutOfMemoryError(
                f"simulated CUDA out of memory (fault injection {OOM_ENV})")

    def oom_report(self, exc: BaseException) -> str:
        torch = self.torch
        if self.device.type == "cuda":
            peak = torch.cuda.max_memory_allocated(self.device) / 2**30
            total = torch.cuda.get_device_properties(self.device).total_memory / 2**30
            mem = f"peak {peak:.2f} GiB of {total:.2f} GiB"
        else:
            import resource

            mem = f"peak RSS {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20:.2f} GiB"
        return (f"out of memory during {self.phase} at step {self.state.step + 1} "
                f"(micro-batch {self.ctx.batch_size} × accumulation {self.ctx.grad_accum}); {mem}")


def _parse_oom(value: str | None) -> tuple[int, int] | None:
    if not value:
        return None
    at, _, maxb = value.partition(":")
    return int(at), int(maxb or 0)
