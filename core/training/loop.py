"""The training loop: one segment of steps, with evals, probes and saves on their intervals.

Written for throughput on a GPU: pre-tokenized columns gathered by offset, shapes padded to a
few repeating buckets, fused AdamW, bf16 autocast, TF32, opt-in torch.compile with symbolic
lengths (one graph for every bucket, eager fallback), SDPA, and no
host synchronisation inside a step (losses stay on the device and are read once per
`log_steps`). Only rank 0 writes files. What the loop calls but is not the step itself lives
beside it: evaluate, saving (with save_guards), window_log, meter, optim, schedule, faults,
compile_policy, context.
"""

from __future__ import annotations

import math
import time
from typing import Any

import numpy as np

from core.training.batching import Collator, Prefetcher
from core.training.checkpoint import TrainerState
from core.training.compile_policy import (
    compile_errors,
    compile_model,
    fall_back_to_eager,
    mark_lengths_dynamic,
    record_compile_time,
)
from core.training.config import resolve_compile
from core.training.context import LoopContext, StopTraining
from core.training.early_stop import EarlyStopper
from core.training.evaluate import evaluate
from core.training.faults import Faults
from core.training.meter import StepMeter, peak_memory
from core.training.optim import lr_lambda_factory, make_optimizer, resolve_precision
from core.training.saving import save
from core.training.schedule import rank_batches, steps_per_epoch, total_steps
from core.training.window_log import log_window


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
        self.steps_per_epoch = steps_per_epoch(len(ctx.train), ctx.plan_batch, self.split, ctx.grad_accum,
                                               ctx.dist.world)
        self.total_steps = total_steps(self.cfg, self.steps_per_epoch)
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
        self.disk_warned = False
        self.faults = Faults.from_env()
        self.early_stop = EarlyStopper.for_loop(ctx)
        self.compile_mode = "off"  # set by setup()
        self.compile_t0: float | None = None

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
        ctx = self.ctx
        return rank_batches(self.cfg, self.src_lengths, self.tgt_lengths, ctx.plan_batch, self.split,
                            ctx.grad_accum, ctx.dist, self.steps_per_epoch, epoch, first_step)

    def save(self, reason: str) -> None:
        """Checkpoint at the current step (see saving.save)."""
        save(self, reason)

    def _epoch_float(self) -> float:
        return self.state.epoch + self.state.steps_in_epoch / max(1, self.steps_per_epoch)

    # ------------------------------------------------------------------ main loop
    def run(self) -> None:
        """Train from the current step to `total_steps`: the whole loop, read top to bottom."""
        cfg, ctx, st = self.cfg, self.ctx, self.state
        self._begin()
        while st.step < self.total_steps:
            if st.steps_in_epoch >= self.steps_per_epoch:
                st.epoch += 1
                st.steps_in_epoch = 0
            # A resumed epoch skips the batches its checkpoint already trained on.
            pre = Prefetcher(ctx.train, self._rank_batches(st.epoch, st.steps_in_epoch), self.collate,
                             pin=self.device.type == "cuda")
            batches = iter(pre)
            try:
                while st.steps_in_epoch < self.steps_per_epoch and st.step < self.total_steps:
                    # The step's micro-batches go to the device together: a compile failure
                    # can then replay the whole step eagerly.
                    micro = [self._to_device(next(batches)) for _ in range(ctx.grad_accum)]
                    samples = sum(int(b["input_ids"].shape[0]) for b in micro)
                    tokens = sum(int(b.pop("n_src_tokens")) + int(b.pop("n_tgt_tokens")) for b in micro)
                    loss = self._forward_backward(micro)
                    norm = self._optimizer_step()
                    st.step += 1
                    st.steps_in_epoch += 1
                    if not self.meter.started and self.compile_t0 is not None:
                        # The first step built the graph: report its cost before the rate clock starts.
                        record_compile_time(self)
                    self.meter.add(st.step, loss, norm, samples, tokens)
                    self.faults.pause()
                    last = st.step >= self.total_steps
                    if st.step % cfg.log_steps == 0 or last:
                        # The only host sync of the window: NaN and stop checks ride on it.
                        log_window(self)
                        if self._stop_requested():
                            self._finish_stop()
                    elif ctx.dist.world == 1 and ctx.stop_flag["stop"]:
                        # Alone, a stop needs no agreement between ranks: honour it at once.
                        self._finish_stop()
                    if st.step % cfg.eval_steps == 0 or last:
                        self._do_eval()
                        # Eval and save pauses are not training: the rate clock starts again.
                        self.meter.restart_clock()
                    if st.step % cfg.save_steps == 0 or last:
                        self.save("final" if last else "interval")
                        self.meter.restart_clock()
            finally:
                pre.close()
        self._status(write=True, step=st.step, epoch=self._epoch_float(), eta_s=0.0)

    def _begin(self) -> None:
        """Announce the segment (compile, skipped batches, running status) before its first step."""
        ctx, st = self.ctx, self.state
        self.eval_step = -1
        self.meter = StepMeter(self.device, st.step, ctx.dist.world)
        # torch.compile builds its graph inside the first step; record_compile_time reports the cost.
        # The event first, so a watcher of a quiet first minute or two sees why.
        self.compile_t0 = time.time() if self.compiled else None
        if self.compiled:
            self._event("compiling", mode=self.compile_mode)
        if ctx.resume_state is not None and st.steps_in_epoch:
            self._event("skipped", batches=st.steps_in_epoch * ctx.grad_accum * ctx.dist.world,
                        epoch=st.epoch, steps=st.steps_in_epoch)
        self._status(write=True, state="running", phase="train", total_steps=self.total_steps,
                     step=st.step, epoch=self._epoch_float(), batch_size=ctx.batch_size,
                     grad_accum=ctx.grad_accum, precision=self.precision, compiled=self.compiled,
                     compile=self.compile_mode)
        self.phase = "train"
        if ctx.stop_flag["stop"] and ctx.dist.world == 1:
            # Asked to stop while still setting up: nothing new to save.
            raise StopTraining("stopped", f"stopped on request ({ctx.stop_flag['signal']}) before training", 0)

    def _forward_backward(self, micro: list[dict[str, Any]]) -> Any:
        """The step's mean loss (on the device), replayed eagerly if torch.compile fails."""
        try:
            return self._accumulate(micro)
        except compile_errors() as exc:
            if not self.compiled:
                raise
            fall_back_to_eager(self, exc)
            return self._accumulate(micro)

    def _optimizer_step(self) -> Any:
        """Clip, step and zero the gradients; the pre-clip grad norm (on the device)."""
        self.phase = "optimizer"
        if self.scaler is not None:
            self.scaler.unscale_(self.optimizer)
        norm = self.torch.nn.utils.clip_grad_norm_(self.raw_model.parameters(), self.cfg.max_grad_norm)
        if self.scaler is not None:
            self.scaler.step(self.optimizer)
            self.scaler.update()
        else:
            self.optimizer.step()
        self.scheduler.step()
        self.optimizer.zero_grad(set_to_none=True)
        return norm

    def _accumulate(self, micro: list[dict[str, Any]]) -> Any:
        """Forward and backward over one optimizer step's micro-batches; the mean loss (on device)."""
        A = len(micro)
        step_loss = self.torch.zeros((), device=self.device)
        for k, batch in enumerate(micro):
            self.phase = "forward"
            self.faults.raise_oom(self.state.step + 1, self.ctx.batch_size)
            if self.compile_mode == "on":
                mark_lengths_dynamic(batch)
            # DDP all-reduces gradients on the last micro-batch only.
            with self._no_sync(k < A - 1):
                with self._autocast():
                    loss = self._loss(self.model, batch)
                loss = self.faults.poison(loss, self.state.step + 1)
                self.phase = "backward"
                scaled = loss / A
                if self.scaler is not None:
                    self.scaler.scale(scaled).backward()
                else:
                    scaled.backward()
            step_loss += loss.detach().float() / A
        return step_loss

    def _do_eval(self) -> None:
        if self.ctx.dist.main:
            evaluate(self)
        self.eval_step = self.state.step
        self.ctx.dist.barrier()
        self.early_stop.check(self)

    def _no_sync(self, skip: bool) -> Any:
        import contextlib

        if skip and self.ctx.dist.world > 1:
            return self.ddp_model.no_sync()
        return contextlib.nullcontext()

    def _stop_requested(self) -> bool:
        # Every rank must stop at the same step, or the others would wait in a collective forever.
        return self.ctx.dist.any_rank(bool(self.ctx.stop_flag["stop"]), self.device)

    def _finish_stop(self) -> None:
        sig = self.ctx.stop_flag.get("signal") or "SIGTERM"
        self._status(write=True, state="stopping")
        self._event("stopping", reason=f"{sig} received")
        if self.last_saved_step != self.state.step:
            self.save("stop")
        raise StopTraining("stopped", f"stopped on request ({sig}) at step {self.state.step}", 0)

    def oom_report(self, exc: BaseException) -> str:
        return (f"out of memory during {self.phase} at step {self.state.step + 1} "
                f"(micro-batch {self.ctx.batch_size} × accumulation {self.ctx.grad_accum}); "
                f"{peak_memory(self.device)}")
