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
import json  # noqa: E402
import math  # noqa: E402
import shutil  # noqa: E402
import time  # noqa: E402
import traceback  # noqa: E402
import warnings  # noqa: E402
from typing import Any  # noqa: E402

from bench.throughput.hf_variants import run_hf  # noqa: E402
from bench.throughput.project_variant import run_project  # noqa: E402
from bench.throughput.report import print_report, summary  # noqa: E402
from bench.throughput.workload import (  # noqa: E402
    EFFECTIVE,
    Plan,
    free_memory,
    mfu,
    synthetic_pairs,
    vocab_tokenizer,
)

ALL_VARIANTS = ("seed", "stock", "grouped", "stock_order", "project", "project_compiled",
                "project_eager", "project_static", "project_dynamic")
# Most wanted first: if a GPU lease runs out mid-run, the printed "done" lines hold them.
GPU_DEFAULT = ("stock", "project", "project_compiled", "stock_order", "seed")
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


def parse_args(argv: list[str] | None) -> argparse.Namespace:
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
    return parser.parse_args(argv)


def make_plan(args: argparse.Namespace) -> tuple[Plan, str] | None:
    """(the plan, the device's name) from the arguments; None when --device cuda finds no GPU."""
    import torch

    from core.training.config import pick_batch_split

    want_cuda = args.device == "cuda" or (args.device == "auto" and not args.tiny)
    if want_cuda and not torch.cuda.is_available():
        if args.device == "cuda":
            print("error: --device cuda but no CUDA GPU is visible", file=sys.stderr)
            return None
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
    return plan, name


def pick_variants(args: argparse.Namespace, cuda: bool) -> list[str] | None:
    """The variants to run, in order; None (after saying which) when one is unknown."""
    variants = [v.strip() for v in (args.variants or ",".join(TINY_DEFAULT if args.tiny or not cuda else GPU_DEFAULT)).split(",") if v.strip()]
    bad = [v for v in variants if v not in ALL_VARIANTS]
    if bad:
        print(f"error: unknown variant(s) {', '.join(bad)}; choose from {', '.join(ALL_VARIANTS)}", file=sys.stderr)
        return None
    if args.grouped and "grouped" not in variants:
        variants.insert(variants.index("stock") + 1 if "stock" in variants else 0, "grouped")
    if args.skip_seed:
        variants = [v for v in variants if v != "seed"]
    return variants


def run_variants(variants: list[str], plan: Plan) -> list[dict[str, Any]]:
    """Each variant's figures (or its error), with a `done` line as each one ends."""
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
        free_memory(plan.device)
        brief = {k: res.get(k) for k in ("variant", "samples_per_s", "tokens_per_s", "peak_mem_gib",
                                         "mfu", "variant_wall_s", "error") if k in res}
        print(f"  done {json.dumps(brief)}", flush=True)
    return results


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    import transformers

    transformers.logging.set_verbosity_error()
    transformers.utils.logging.disable_progress_bar()  # a shard bar per checkpoint save
    # EncoderDecoderModel warns on every forward with labels (the Trainer runs).
    warnings.filterwarnings("ignore", category=FutureWarning, module="transformers.models.encoder_decoder")
    made = make_plan(args)
    if made is None:
        return 2
    plan, name = made
    cuda = plan.device.type == "cuda"
    variants = pick_variants(args, cuda)
    if variants is None:
        return 2
    t_start = time.perf_counter()
    banner = "TINY SMOKE RUN on the CPU: no speed claims" if not cuda else f"device: {name}"
    print(f"{banner} | preset {plan.preset} | effective batch {plan.micro * plan.accum} = {plan.micro} × "
          f"{plan.accum} | stock/project: {plan.warmup} warm-up + {plan.steps} timed + {plan.log_steps} tail "
          f"steps | seed: {plan.seed_warmup} + {plan.seed_steps} | variants: {', '.join(variants)}", flush=True)
    results = run_variants(variants, plan)
    result = summary(results, plan, name, t_start)
    print_report(results, result, plan)
    shutil.rmtree(plan.root, ignore_errors=True)
    line = json.dumps(result, ensure_ascii=False)
    if args.out:
        args.out.write_text(line + "\n", encoding="utf-8")
    print(line, flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
