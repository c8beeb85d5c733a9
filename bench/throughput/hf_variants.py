"""The stock HF Seq2SeqTrainer variants (seed, stock, grouped, stock_order), timed by a callback."""

from __future__ import annotations

import inspect
import time
from dataclasses import dataclass
from typing import Any

import numpy as np

from bench.throughput.workload import (
    PAD,
    SRC_MAX,
    TGT_MAX,
    Plan,
    free_memory,
    new_model,
    peak_gib,
    project_order,
    real_tokens,
    sync,
)


class _Rows:
    """torch-style Dataset over PairData rows in a given order."""

    def __init__(self, data: Any, order: np.ndarray) -> None:
        self.data = data
        self.order = order

    def __len__(self) -> int:
        return len(self.order)

    def __getitem__(self, i: int) -> dict[str, Any]:
        import torch

        r = int(self.order[i])
        return {"input_ids": torch.from_numpy(self.data.source.row(r).astype(np.int64)),
                "labels": torch.from_numpy(self.data.target.row(r).astype(np.int64))}


@dataclass
class _PadCollate:
    """Right-pads a batch: to the batch's longest row, or to fixed lengths (the seed's 512/64)."""

    fixed: tuple[int, int] | None

    def __call__(self, rows: list[dict[str, Any]]) -> dict[str, Any]:
        import torch

        s_len = self.fixed[0] if self.fixed else max(len(r["input_ids"]) for r in rows)
        t_len = self.fixed[1] if self.fixed else max(len(r["labels"]) for r in rows)
        ids = torch.full((len(rows), s_len), PAD, dtype=torch.long)
        mask = torch.zeros((len(rows), s_len), dtype=torch.long)
        labels = torch.full((len(rows), t_len), -100, dtype=torch.long)
        for k, r in enumerate(rows):
            n, m = len(r["input_ids"]), len(r["labels"])
            ids[k, :n] = r["input_ids"]
            mask[k, :n] = 1
            labels[k, :m] = r["labels"]
        return {"input_ids": ids, "attention_mask": mask, "labels": labels}


def _clock_callback(device: Any, start: int, end: int) -> Any:
    from transformers import TrainerCallback

    class StepClock(TrainerCallback):
        """Synchronised wall clock at the end of optimizer steps `start` and `end`; losses."""

        def __init__(self) -> None:
            self.marks: dict[int, float] = {}
            self.losses: dict[int, float] = {}

        def on_step_end(self, args: Any, state: Any, control: Any, **kw: Any) -> None:
            if state.global_step in (start, end):
                sync(device)
                self.marks[state.global_step] = time.perf_counter()

        def on_log(self, args: Any, state: Any, control: Any, logs: Any = None, **kw: Any) -> None:
            if logs and "loss" in logs:
                self.losses[state.global_step] = float(logs["loss"])

    return StepClock()


def _sequential_trainer(base: Any) -> Any:
    import torch

    class SequentialTrainer(base):  # type: ignore[misc, valid-type]
        """The stock Trainer reading its dataset in order (for versions without 'sequential')."""

        def _get_train_sampler(self, *args: Any, **kwargs: Any) -> Any:
            return torch.utils.data.SequentialSampler(self.train_dataset)

    return SequentialTrainer


def run_hf(name: str, data: Any, tok: Any, plan: Plan) -> dict[str, Any]:
    import torch
    from transformers import Seq2SeqTrainer, Seq2SeqTrainingArguments
    from transformers.trainer_callback import PrinterCallback

    from core.model import count_parameters
    from core.training.config import TrainConfig

    cuda = plan.device.type == "cuda"
    defaults = TrainConfig()
    if name == "seed":
        micro, accum, fixed, warm, steps, total = 4, 16, (SRC_MAX, TGT_MAX), plan.seed_warmup, plan.seed_steps, plan.seed_warmup + plan.seed_steps
    else:
        micro, accum, fixed, warm, steps, total = plan.micro, plan.accum, None, plan.warmup, plan.steps, plan.total
    order = project_order(data, plan) if name == "stock_order" else np.arange(len(data))
    # transformers ≥ 5.2x: train_sampling_strategy; older 5.x/4.x: group_by_length and no
    # sequential option (then the Trainer's sampler is swapped for a SequentialSampler below).
    has_strategy = "train_sampling_strategy" in inspect.signature(Seq2SeqTrainingArguments.__init__).parameters
    extra: dict[str, Any] = {}
    if name == "grouped":
        extra = {"train_sampling_strategy": "group_by_length"} if has_strategy else {"group_by_length": True}
    elif name == "stock_order" and has_strategy:
        extra["train_sampling_strategy"] = "sequential"
    trainer_cls = Seq2SeqTrainer
    if name == "stock_order" and not has_strategy:
        trainer_cls = _sequential_trainer(Seq2SeqTrainer)
    bf16 = cuda and name != "seed"
    args = Seq2SeqTrainingArguments(
        output_dir=str(plan.root / f"hf-{name}"), per_device_train_batch_size=micro,
        gradient_accumulation_steps=accum, learning_rate=defaults.lr, lr_scheduler_type="linear",
        warmup_steps=defaults.warmup, weight_decay=defaults.weight_decay,
        max_grad_norm=defaults.max_grad_norm, max_steps=total, bf16=bf16,
        optim="adamw_torch_fused" if bf16 else "adamw_torch",
        # The loss reference logs every step (one host sync per step); the others never log.
        logging_steps=1 if name == "stock_order" else 10**9, save_strategy="no", report_to=[],
        dataloader_num_workers=plan.workers, use_cpu=not cuda, remove_unused_columns=False,
        disable_tqdm=True, seed=plan.seed, **extra,
    )
    model = new_model(tok, plan)
    params = count_parameters(model)
    clock = _clock_callback(plan.device, warm, warm + steps)
    trainer = trainer_cls(model=model, args=args, train_dataset=_Rows(data, order),
                             data_collator=_PadCollate(fixed), callbacks=[clock])
    trainer.remove_callback(PrinterCallback)  # disable_tqdm would print every log dict
    # EncoderDecoderModel.forward takes **kwargs, so the Trainer assumes it normalises the loss
    # by num_items_in_batch and skips dividing by the accumulation steps, but it returns a plain
    # mean: losses and gradients come out × accumulation. Undo that (speed is unaffected).
    trainer.model_accepts_loss_kwargs = False
    tf32 = torch.backends.cuda.matmul.allow_tf32
    if name == "seed":
        torch.backends.cuda.matmul.allow_tf32 = False  # the seed recipe is plain fp32
    free_memory(plan.device)
    try:
        trainer.train()
    finally:
        torch.backends.cuda.matmul.allow_tf32 = tf32
    dt = clock.marks[warm + steps] - clock.marks[warm]
    samples = steps * micro * accum
    if name == "stock_order":
        timed = order[warm * micro * accum:(warm + steps) * micro * accum]
        tokens = real_tokens(data, timed)
    else:  # random order: the dataset's mean real tokens per pair
        tokens = samples * real_tokens(data, np.arange(len(data))) / len(data)
    res = {
        "variant": name, "params": params, "micro_batch": micro, "grad_accum": accum,
        "precision": "bf16" if bf16 else "fp32", "warmup_steps": warm, "steps_measured": steps,
        "total_steps": total, "seconds": round(dt, 3), "samples_per_s": round(samples / dt, 2),
        "tokens_per_s": round(tokens / dt, 1), "peak_mem_gib": peak_gib(plan.device),
        "losses": clock.losses,
    }
    del trainer, model, clock
    return res
