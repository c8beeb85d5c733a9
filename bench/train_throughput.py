"""Training throughput: seed recipe and stock bf16 (HF Seq2SeqTrainer) vs the project's loop, one process.

Every variant trains the same BERT2BERT (scratch preset `base` = BERT-base shape, 32768 ids,
same initial weights) on the same synthetic Narou-length pairs, on the same device:

  seed         the seed talk's recipe via Seq2SeqTrainer: fp32 (TF32 off), micro-batch 4 ×
               accumulation 16, padded to 512/64, adamw_torch, random order
  stock        a careful HF user: bf16, the project's micro-batch × accumulation (64 × 1 on a
               big GPU), dynamic padding, adamw_torch_fused, random order
  grouped      stock + train_sampling_strategy="group_by_length"          (--grouped)
  stock_order  stock, but sequential over the project's own batch order and logging every
               step: the loss reference for the project path
  project      core.training.loop.Loop built as core/training/job.py builds it, default config
               (compile=auto, which is eager until this bench shows compiling faster on a GPU)
  project_compiled  the same with compile = on: symbolic lengths, one graph for every bucket;
               against `project` it is the measurement that decides what compile=auto means
  project_eager   the same with TrainConfig.compile = off
  project_static  compile = static: one graph per padded (source, target) shape
  project_dynamic compile = dynamic: torch.compile(dynamic=True), every dimension symbolic

Timing excludes warm-up: Trainer runs are timed by a callback that synchronises the GPU at the
end of optimizer step `warmup` and of step `warmup + steps`; the project's rates come from the
loop's own metrics.jsonl lines (log every 10 steps) between its lines at step `warmup` and
`warmup + steps`. Both kinds train `warmup + steps + tail` steps (same LR schedule), where the
untimed tail window keeps the loop's last line (taken before its final GPU sync) out of the
timing. The seed recipe has its own (smaller) counts: at ~1 s per step it is the slow one.

tokens/s counts real (unpadded) source + target tokens. MFU = 6 × parameters × real tokens /
time / the card's dense bf16 peak (H100 SXM and H200: 989 TFLOP/s; --peak-tflops to override;
None on the CPU or an unknown card). That is the usual 6·N·T convention; it over-counts an
encoder-decoder (each token passes only one half), so it is for comparison, not an absolute.

loss_delta = |mean loss of the last logged window, stock_order − project|: both start from the
same weights and see the same batches in the same order; dropout differs, so expect noise of
the size of `loss_noise` (std of stock_order's per-step losses in that window).

Data: synopsis lengths ~N(220, 90) clipped to [24, 512], titles ~N(28, 10) clipped to [6, 64]
(tokens incl. [CLS]/[SEP]); synopsis ids Zipf-distributed, each title is every other synopsis
token in order, so a model can learn it and the loss falls.

Run on a GPU: `python bench/train_throughput.py` (≈ 3–5 min on an H100 incl. model builds and the
project_compiled variant's one compile). `--tiny`: tiny preset on the CPU in well under a minute, a smoke run with no
speed claims. Last line: one JSON object.
"""

from __future__ import annotations

import sys
from pathlib import Path

# Run as a script: import `core` from this checkout (the repository root), not an install.
_HERE = Path(__file__).resolve().parent
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != _HERE]
sys.path.insert(0, str(_HERE.parent))

import argparse  # noqa: E402
import gc  # noqa: E402
import inspect  # noqa: E402
import json  # noqa: E402
import math  # noqa: E402
import random  # noqa: E402
import shutil  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
import traceback  # noqa: E402
import warnings  # noqa: E402
from dataclasses import dataclass, field  # noqa: E402
from typing import Any  # noqa: E402

import numpy as np  # noqa: E402

PAD, UNK, CLS, SEP, MASK = 0, 1, 2, 3, 4
N_SPECIAL = 5
SRC_MEAN, SRC_STD, SRC_MIN, SRC_MAX = 220, 90, 24, 512
TGT_MEAN, TGT_STD, TGT_MIN, TGT_MAX = 28, 10, 6, 64
EFFECTIVE = 64
ALL_VARIANTS = ("seed", "stock", "grouped", "stock_order", "project", "project_compiled",
                "project_eager", "project_static", "project_dynamic")
# Most wanted first: if a GPU lease runs out mid-run, the printed "done" lines hold them.
GPU_DEFAULT = ("stock", "project", "project_compiled", "stock_order", "seed")
# Optimizer steps of the seed's whole run (13 epochs × 100k pairs at batch 64).
FULL_RUN_STEPS = math.ceil(13 * 100_000 / EFFECTIVE)
TINY_DEFAULT = ("seed", "stock", "stock_order", "project")
HF_VARIANTS = ("seed", "stock", "grouped", "stock_order")
# Dense bf16 peak, FLOP/s, by a substring of the CUDA device name (first match wins).
PEAK_BF16 = (
    ("H100 PCIe", 756e12),
    ("H100", 989e12),
    ("H200", 989e12),
    ("GH200", 989e12),
    ("A100", 312e12),
    ("L40S", 362e12),
    ("A10G", 70e12),
    ("L4", 121e12),
)


@dataclass
class Plan:
    """Shapes and step counts of one bench run (see the module docstring)."""

    device: Any
    tiny: bool
    preset: str
    vocab: int
    n_pairs: int
    micro: int
    accum: int
    warmup: int
    steps: int
    log_steps: int
    seed_warmup: int
    seed_steps: int
    workers: int
    peak_flops: float | None
    compile: str | None = None  # the `project` variant's compile mode; None = what auto picks
    seed: int = 42
    root: Path = field(default_factory=lambda: Path(tempfile.mkdtemp(prefix="train-throughput-")))

    @property
    def total(self) -> int:
        """Optimizer steps of every stock/project run: warm-up, timed steps, one untimed window."""
        return self.warmup + self.steps + self.log_steps


# ---------------------------------------------------------------------------------- data


def synthetic_pairs(n: int, vocab: int, seed: int) -> Any:
    """PairData of `n` Narou-length pairs; a title is every other synopsis token, in order."""
    from core.training.batching import PairData, TokenColumn

    rng = np.random.default_rng(seed)
    src_len = np.clip(np.rint(rng.normal(SRC_MEAN, SRC_STD, n)), SRC_MIN, SRC_MAX).astype(np.int64)
    tgt_len = np.clip(np.rint(rng.normal(TGT_MEAN, TGT_STD, n)), TGT_MIN, TGT_MAX).astype(np.int64)
    src_off = np.zeros(n + 1, dtype=np.int64)
    np.cumsum(src_len, out=src_off[1:])
    # Zipf ranks mapped through a fixed permutation: a few frequent ids, a long tail.
    span = vocab - N_SPECIAL
    ranks = np.minimum(rng.zipf(1.15, int(src_off[-1])) - 1, span - 1)
    src = (N_SPECIAL + rng.permutation(span)[ranks]).astype(np.int64)
    src[src_off[:-1]] = CLS
    src[src_off[1:] - 1] = SEP
    tgt_off = np.zeros(n + 1, dtype=np.int64)
    np.cumsum(tgt_len, out=tgt_off[1:])
    row = np.repeat(np.arange(n), tgt_len)
    j = np.arange(int(tgt_off[-1])) - tgt_off[row]
    body = src_len[row] - 2
    tgt = src[src_off[row] + 1 + (2 * j) % body]
    tgt[tgt_off[1:] - 1] = SEP
    return PairData(TokenColumn(src, src_off), TokenColumn(tgt, tgt_off))


def vocab_tokenizer(folder: Path, size: int) -> Any:
    """A BertTokenizer over `size` made-up pieces ([PAD]=0 [UNK]=1 [CLS]=2 [SEP]=3 [MASK]=4)."""
    from transformers import BertTokenizer

    folder.mkdir(parents=True, exist_ok=True)
    pieces = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"] + [f"p{i}" for i in range(size - N_SPECIAL)]
    (folder / "vocab.txt").write_text("\n".join(pieces) + "\n", encoding="utf-8")
    tok = BertTokenizer(str(folder / "vocab.txt"))
    assert (tok.pad_token_id, tok.cls_token_id, tok.sep_token_id) == (PAD, CLS, SEP)
    return tok


def real_tokens(data: Any, rows: np.ndarray) -> int:
    return int(data.source.lengths()[rows].sum() + data.target.lengths()[rows].sum())


def project_order(data: Any, plan: Plan) -> np.ndarray:
    """Rows in the order the project's loop consumes them in epoch 0 (same sampler, same seed)."""
    from core.training.batching import epoch_batches
    from core.training.config import TrainConfig

    cfg = TrainConfig()
    by_target = cfg.bucket_by == "source_target"
    batches = epoch_batches(data.source.lengths(), plan.micro, plan.seed, 0, cfg.bucket_chunk,
                            target_lengths=data.target.lengths() if by_target else None,
                            bucket_width=cfg.pad_multiple_source)
    return np.concatenate(batches[: plan.total * plan.accum])


# ---------------------------------------------------------------------------------- helpers


def new_model(tok: Any, plan: Plan) -> Any:
    """The project's scratch BERT2BERT; same seed → same initial weights in every variant."""
    import torch

    from core.model import build_model

    random.seed(plan.seed)
    np.random.seed(plan.seed)
    torch.manual_seed(plan.seed)
    return build_model(tok, scratch=plan.preset, max_title_tokens=TGT_MAX)


def sync(device: Any) -> None:
    if device.type == "cuda":
        import torch

        torch.cuda.synchronize(device)


def peak_gib(device: Any) -> float | None:
    if device.type != "cuda":
        return None
    import torch

    return round(torch.cuda.max_memory_allocated(device) / 2**30, 2)


def free_memory(device: Any) -> None:
    import torch

    gc.collect()
    if device.type == "cuda":
        torch.cuda.empty_cache()
        torch.cuda.reset_peak_memory_stats(device)


def mfu(params: int, tokens_per_s: float | None, plan: Plan) -> float | None:
    if plan.peak_flops is None or not tokens_per_s:
        return None
    return round(6 * params * tokens_per_s / plan.peak_flops, 4)


def window_means(losses: dict[int, float], ends: list[int], width: int) -> dict[int, float]:
    """Mean per-step loss over (end − width, end] for each window end that is fully present."""
    out = {}
    for e in ends:
        vals = [losses[s] for s in range(e - width + 1, e + 1) if s in losses]
        if len(vals) == width:
            out[e] = float(np.mean(vals))
    return out


# ---------------------------------------------------------------------------------- HF Trainer


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


# ---------------------------------------------------------------------------------- project


def run_project(name: str, data: Any, val: Any, tok: Any, plan: Plan) -> dict[str, Any]:
    import torch

    from core.model import count_parameters
    from core.runs.writers import MetricsWriter
    from core.training.config import TrainConfig, resolve_compile
    from core.training.context import Dist, LoopContext
    from core.training.loop import Loop

    compile_ = {"project": plan.compile or resolve_compile(TrainConfig().compile), "project_compiled": "on",
                "project_eager": "off", "project_static": "static", "project_dynamic": "dynamic"}[name]
    run_dir = plan.root / name
    run_dir.mkdir()
    # Evaluation and saving only at the last step (the loop always does both there), probes off.
    cfg = TrainConfig(dataset="synthetic", scratch=plan.preset, max_steps=plan.total,
                      batch_size=plan.micro, grad_accum=plan.accum, log_steps=plan.log_steps,
                      eval_steps=10**9, save_steps=10**9, eval_samples=len(val), probe_size=0,
                      compile=compile_, seed=plan.seed, max_target_len=TGT_MAX)
    cfg.validate()
    model = new_model(tok, plan)
    params = count_parameters(model)
    metrics = MetricsWriter(run_dir, 0)
    ctx = LoopContext(run_dir=run_dir, cfg=cfg, model=model, tokenizer=tok, train=data, val=val,
                      probe_rows=[], device=plan.device, dist=Dist(), batch_size=plan.micro,
                      grad_accum=plan.accum, plan_batch=plan.micro, metrics=metrics)
    tf32 = (torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32)
    free_memory(plan.device)
    try:
        loop = Loop(ctx)
        loop.setup()
        t0 = time.perf_counter()
        loop.run()
        wall = time.perf_counter() - t0
    finally:
        metrics.close()
        torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32 = tf32
    recs = [json.loads(line) for line in (run_dir / "metrics.jsonl").read_text(encoding="utf-8").splitlines()]
    logs = {r["step"]: r for r in recs if "loss" in r}
    start, end = plan.warmup, plan.warmup + plan.steps
    if start not in logs or end not in logs:
        raise RuntimeError(f"the loop logged no line at step {start} or {end} (log_steps {plan.log_steps})")
    dt = logs[end]["t"] - logs[start]["t"]
    samples = plan.steps * plan.micro * plan.accum
    # Each window's real tokens = its tokens/s ÷ samples/s × its samples (the loop's own counts).
    win_samples = plan.log_steps * plan.micro * plan.accum
    tokens = sum(logs[s]["tokens_per_s"] / logs[s]["samples_per_s"] * win_samples
                 for s in range(start + plan.log_steps, end + 1, plan.log_steps))
    saved = [r for r in recs if r.get("event") == "saved"]
    compiled = [r for r in recs if r.get("event") == "compiled"]
    failed = [r for r in recs if r.get("event") == "compile_failed"]
    res = {
        "variant": name, "params": params, "micro_batch": plan.micro, "grad_accum": plan.accum,
        "precision": loop.precision, "compiled": loop.compiled, "compile": loop.compile_mode,
        "compile_s": compiled[0]["seconds"] if compiled else None,
        "compile_failed": failed[0]["reason"] if failed else None,
        "warmup_steps": start, "steps_measured": plan.steps, "total_steps": plan.total,
        "seconds": round(dt, 3), "samples_per_s": round(samples / dt, 2),
        "tokens_per_s": round(tokens / dt, 1), "peak_mem_gib": peak_gib(plan.device),
        "wall_s": round(wall, 1), "save_s": saved[-1]["seconds"] if saved else None,
        "window_losses": {s: r["loss"] for s, r in sorted(logs.items())},
    }
    del loop, ctx, model
    if compile_ != "off":
        torch._dynamo.reset()
    shutil.rmtree(run_dir, ignore_errors=True)
    return res


# ---------------------------------------------------------------------------------- report


def compare_losses(ref: dict[str, Any] | None, proj: dict[str, Any] | None, plan: Plan) -> dict[str, Any]:
    """Window-mean losses of stock_order vs a project variant at the same steps."""
    if not ref or not proj or "error" in ref or "error" in proj or ref["total_steps"] != proj["total_steps"]:
        return {"loss_delta": None, "loss_noise": None, "loss_at_steps": None}
    steps = sorted(int(s) for s in proj["window_losses"])
    stock = window_means({int(k): v for k, v in ref["losses"].items()}, steps, plan.log_steps)
    pairs = {s: [round(stock[s], 4), round(proj["window_losses"][s], 4)] for s in steps if s in stock}
    if not pairs:
        return {"loss_delta": None, "loss_noise": None, "loss_at_steps": None}
    last = max(pairs)
    per_step = [ref["losses"][s] for s in range(last - plan.log_steps + 1, last + 1)]
    return {"loss_delta": round(abs(pairs[last][0] - pairs[last][1]), 4),
            "loss_noise": round(float(np.std(per_step)), 4), "loss_at_steps": pairs}


def table(results: list[dict[str, Any]], plan: Plan) -> str:
    head = f"{'variant':<16}{'samples/s':>11}{'tokens/s':>12}{'peak GiB':>10}{'MFU':>8}{'steps':>7}  precision/batch"
    lines = [head, "-" * len(head)]
    for r in results:
        if "error" in r:
            lines.append(f"{r['variant']:<16}  ERROR: {r['error']}")
            continue
        m = r.get("mfu")
        lines.append(
            f"{r['variant']:<16}{r['samples_per_s']:>11.1f}{r['tokens_per_s']:>12.0f}"
            f"{'-' if r['peak_mem_gib'] is None else r['peak_mem_gib']:>10}"
            f"{'-' if m is None else f'{100 * m:.1f}%':>8}{r['steps_measured']:>7}  "
            f"{r['precision']} {r['micro_batch']}×{r['grad_accum']}"
            + (f" compile={r['compile']}" if "compile" in r else ""))
    return "\n".join(lines)


def ratio(a: float | None, b: float | None) -> float | None:
    return round(a / b, 2) if a and b else None


def full_run_minutes(samples_per_s: float, compile_s: float | None = None) -> float:
    """Minutes of the seed's whole run (13 epochs × 100k pairs) at this rate, compile included."""
    return round((FULL_RUN_STEPS * EFFECTIVE / samples_per_s + (compile_s or 0)) / 60, 1)


def compile_decision(compiled: dict[str, Any] | None, eager: dict[str, Any] | None) -> dict[str, Any]:
    """compile=on against the eager loop: what compile=auto should mean on this card.

    Compiled counts as faster only if the seed's whole run, its one-time compile included,
    finishes sooner than eagerly; a faster step that a long compile eats does not count.
    """
    if not compiled or not eager or compiled["compile"] != "on":
        return {"compiled_samples_per_s": None, "eager_samples_per_s": None, "ratio_compiled_vs_eager": None,
                "compile_s": None, "full_run_minutes_compiled": None, "full_run_minutes_eager": None,
                "compiled_faster": None}
    minutes_c = full_run_minutes(compiled["samples_per_s"], compiled["compile_s"])
    minutes_e = full_run_minutes(eager["samples_per_s"])
    return {"compiled_samples_per_s": compiled["samples_per_s"], "eager_samples_per_s": eager["samples_per_s"],
            "ratio_compiled_vs_eager": ratio(compiled["samples_per_s"], eager["samples_per_s"]),
            "compile_s": compiled["compile_s"], "full_run_minutes_compiled": minutes_c,
            "full_run_minutes_eager": minutes_e, "compiled_faster": minutes_c < minutes_e}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--tiny", action="store_true", help="tiny preset on the CPU, < 1 min, no speed claims")
    parser.add_argument("--steps", type=int, help="timed optimizer steps of stock/project runs (GPU 30, tiny 2)")
    parser.add_argument("--warmup", type=int, help="untimed first steps (GPU 10, tiny 2); rounded up to the log interval")
    parser.add_argument("--seed-steps", type=int, help="timed steps of the seed recipe (GPU 6, tiny 1)")
    parser.add_argument("--seed-warmup", type=int, help="untimed first steps of the seed recipe (GPU 2, tiny 1)")
    parser.add_argument("--variants", help=f"comma list from {','.join(ALL_VARIANTS)}")
    parser.add_argument("--grouped", action="store_true", help="add the group_by_length stock variant")
    parser.add_argument("--skip-seed", action="store_true", help="leave out the (slow) seed recipe")
    parser.add_argument("--micro", type=int, help="micro-batch (default: what the job picks for the device)")
    parser.add_argument("--peak-tflops", type=float, help="the card's dense bf16 peak for MFU")
    parser.add_argument("--device", choices=("auto", "cpu", "cuda"), default="auto")
    parser.add_argument("--compile", choices=("on", "off", "static", "dynamic"),
                        help="compile mode of the `project` variant (default: what compile=auto picks)")
    parser.add_argument("--out", type=Path, help="also write the final JSON object here")
    args = parser.parse_args(argv)

    import torch
    import transformers

    from core.training.config import pick_batch_split

    transformers.logging.set_verbosity_error()
    transformers.utils.logging.disable_progress_bar()  # a shard bar per checkpoint save
    # EncoderDecoderModel warns on every forward with labels (the Trainer runs).
    warnings.filterwarnings("ignore", category=FutureWarning, module="transformers.models.encoder_decoder")
    want_cuda = args.device == "cuda" or (args.device == "auto" and not args.tiny)
    if want_cuda and not torch.cuda.is_available():
        if args.device == "cuda":
            print("error: --device cuda but no CUDA GPU is visible", file=sys.stderr)
            return 2
        print("note: no CUDA GPU visible; running on the CPU (figures are not speed claims)", flush=True)
    device = torch.device("cuda" if want_cuda and torch.cuda.is_available() else "cpu")
    cuda = device.type == "cuda"
    preset = "tiny" if args.tiny else "base"
    name = torch.cuda.get_device_name(device) if cuda else "cpu"
    peak = args.peak_tflops * 1e12 if args.peak_tflops else (
        next((f for key, f in PEAK_BF16 if key in name), None) if cuda else None)
    mem = torch.cuda.get_device_properties(device).total_memory / 2**30 if cuda else None
    micro, accum = pick_batch_split(mem, preset)
    if args.micro:
        micro, accum = args.micro, max(1, EFFECTIVE // args.micro)
    log_steps = 2 if args.tiny else 10
    warmup = args.warmup if args.warmup is not None else (2 if args.tiny else 10)
    warmup = max(log_steps, math.ceil(warmup / log_steps) * log_steps)
    steps = args.steps if args.steps is not None else (2 if args.tiny else 30)
    steps = max(log_steps, math.ceil(steps / log_steps) * log_steps)
    plan = Plan(
        device=device, tiny=args.tiny, preset=preset, vocab=4000 if args.tiny else 32768,
        n_pairs=0, micro=micro, accum=accum, warmup=warmup, steps=steps, log_steps=log_steps,
        seed_warmup=args.seed_warmup if args.seed_warmup is not None else (1 if args.tiny else 2),
        seed_steps=args.seed_steps if args.seed_steps is not None else (1 if args.tiny else 6),
        workers=2 if cuda else 0, peak_flops=peak, compile=args.compile,
    )
    # Two epochs' worth of bucketing chunks at least, and enough for every run's steps.
    plan.n_pairs = max(plan.total * EFFECTIVE, 50 * plan.micro) * 2
    variants = [v.strip() for v in (args.variants or ",".join(TINY_DEFAULT if args.tiny or not cuda else GPU_DEFAULT)).split(",") if v.strip()]
    bad = [v for v in variants if v not in ALL_VARIANTS]
    if bad:
        print(f"error: unknown variant(s) {', '.join(bad)}; choose from {', '.join(ALL_VARIANTS)}", file=sys.stderr)
        return 2
    if args.grouped and "grouped" not in variants:
        variants.insert(variants.index("stock") + 1 if "stock" in variants else 0, "grouped")
    if args.skip_seed:
        variants = [v for v in variants if v != "seed"]

    t_start = time.perf_counter()
    banner = "TINY SMOKE RUN on the CPU: no speed claims" if not cuda else f"device: {name}"
    print(f"{banner} | preset {preset} | effective batch {micro * accum} = {micro} × {accum} | "
          f"stock/project: {warmup} warm-up + {steps} timed + {log_steps} tail steps | "
          f"seed: {plan.seed_warmup} + {plan.seed_steps} | variants: {', '.join(variants)}", flush=True)
    data = synthetic_pairs(plan.n_pairs, plan.vocab, seed=0)
    val = synthetic_pairs(64, plan.vocab, seed=1)
    tok = vocab_tokenizer(plan.root / "tokenizer", plan.vocab)

    results: list[dict[str, Any]] = []
    for v in variants:
        t0 = time.perf_counter()
        try:
            res = run_hf(v, data, tok, plan) if v in HF_VARIANTS else run_project(v, data, val, tok, plan)
            res["mfu"] = mfu(res["params"], res["tokens_per_s"], plan)
        except Exception as exc:  # one broken variant must not hide the others' figures
            traceback.print_exc()
            res = {"variant": v, "error": f"{type(exc).__name__}: {exc}"[:500]}
        res["variant_wall_s"] = round(time.perf_counter() - t0, 1)
        results.append(res)
        free_memory(device)
        brief = {k: res.get(k) for k in ("variant", "samples_per_s", "tokens_per_s", "peak_mem_gib",
                                         "mfu", "variant_wall_s", "error") if k in res}
        print(f"  done {json.dumps(brief)}", flush=True)

    by = {r["variant"]: r for r in results}

    def ok(v: str) -> dict[str, Any] | None:
        r = by.get(v)
        return r if r and "error" not in r else None

    main_r = ok("project")
    proj_ok = [r for r in results if r["variant"].startswith("project") and "error" not in r]
    best = max(proj_ok, key=lambda r: r["samples_per_s"]) if proj_ok else None
    sps = main_r["samples_per_s"] if main_r else None
    seed_sps = ok("seed")["samples_per_s"] if ok("seed") else None
    stock_sps = ok("stock")["samples_per_s"] if ok("stock") else None
    eager_sps = ok("project_eager")["samples_per_s"] if ok("project_eager") else None
    decision = compile_decision(ok("project_compiled"), next(
        (r for r in (main_r, ok("project_eager")) if r and r["compile"] == "off"), None))
    loss = compare_losses(ok("stock_order"), main_r, plan)
    per_variant: dict[str, Any] = {}
    for r in results:
        slim = {k: v for k, v in r.items() if k not in ("losses", "window_losses", "variant")}
        if r["variant"].startswith("project") and r["variant"] != "project":
            slim["loss_delta"] = compare_losses(ok("stock_order"), ok(r["variant"]), plan)["loss_delta"]
        per_variant[r["variant"]] = slim

    print()
    print(table(results, plan))
    if loss["loss_at_steps"]:
        print("\nloss at matching steps (window means, stock_order vs project):")
        for s, (a, b) in loss["loss_at_steps"].items():
            print(f"  step {s:>4}: stock {a:.4f}   project {b:.4f}")
    print(f"\nproject {sps} samples/s: {ratio(sps, stock_sps)}× stock, {ratio(sps, seed_sps)}× seed recipe; "
          f"loss_delta {loss['loss_delta']} (noise ≈ {loss['loss_noise']}); "
          f"compile={main_r['compile'] if main_r else None} ({main_r['compile_s'] if main_r else None} s)"
          + ("  [tiny CPU smoke run: no speed claims]" if not cuda else ""))
    if decision["compiled_samples_per_s"]:
        print(f"compile=on vs eager: {decision['compiled_samples_per_s']} vs {decision['eager_samples_per_s']} "
              f"samples/s = {decision['ratio_compiled_vs_eager']}×, compile {decision['compile_s']} s; "
              f"the seed's whole run {decision['full_run_minutes_compiled']} vs "
              f"{decision['full_run_minutes_eager']} min: compiled is "
              f"{'FASTER' if decision['compiled_faster'] else 'not faster'}"
              + ("" if cuda and not args.tiny else "  [not a GPU measurement: decides nothing]"))
    summary = {
        "device": name, "tiny": args.tiny, "speed_claims": cuda and not args.tiny,
        "torch": torch.__version__, "transformers": transformers.__version__, "preset": preset,
        "params": results[0].get("params") if results else None,
        "effective_batch": micro * accum, "micro_batch": micro, "grad_accum": accum,
        "samples_per_s": sps, "tokens_per_s": main_r["tokens_per_s"] if main_r else None,
        "mfu": main_r.get("mfu") if main_r else None, "peak_flops": peak,
        "seed_samples_per_s": seed_sps, "stock_samples_per_s": stock_sps,
        "grouped_samples_per_s": ok("grouped")["samples_per_s"] if ok("grouped") else None,
        "ratio_vs_stock": ratio(sps, stock_sps), "ratio_vs_seed": ratio(sps, seed_sps),
        "compile": main_r["compile"] if main_r else None,
        "compile_s": main_r["compile_s"] if main_r else None,
        "eager_samples_per_s": eager_sps, "ratio_vs_eager": ratio(sps, eager_sps),
        "seed_run_minutes": full_run_minutes(sps, main_r["compile_s"]) if sps and main_r else None,
        "best_project_variant": best["variant"] if best else None,
        "best_samples_per_s": best["samples_per_s"] if best else None,
        "best_ratio_vs_stock": ratio(best["samples_per_s"], stock_sps) if best else None,
        "peak_mem_gib": main_r["peak_mem_gib"] if main_r else None,
        **loss,
        "compile_decision": decision,
        "steps": {"warmup": warmup, "measured": steps, "tail": log_steps, "total": plan.total,
                  "seed_warmup": plan.seed_warmup, "seed_measured": plan.seed_steps},
        "n_pairs": plan.n_pairs, "wall_s": round(time.perf_counter() - t_start, 1),
        "variants": per_variant,
    }
    shutil.rmtree(plan.root, ignore_errors=True)
    line = json.dumps(summary, ensure_ascii=False)
    if args.out:
        args.out.write_text(line + "\n", encoding="utf-8")
    print(line, flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
