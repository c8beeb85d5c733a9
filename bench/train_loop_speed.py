"""Throughput of the project's training loop (core.training.loop) on synthetic Narou-length data.

Runs BERT2BERT (scratch preset, default `base` = BERT-base shape) at effective batch 64 through
the same Loop the job uses, once per variant (eager / torch.compile), and prints samples/s,
tokens/s and peak memory per variant. Last line: one JSON object. `--tiny` runs on the CPU in
well under a minute (smoke only, no speed claims). Run it as `python -m bench.train_loop_speed`.
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np


def synthetic_pairs(n: int, vocab: int, seed: int = 0) -> Any:
    from core.training.batching import PairData, TokenColumn

    rng = np.random.default_rng(seed)
    # Narou-length: synopses ≈ 220 tokens (≤ 512), titles ≈ 28 (≤ 64), as in the anchors.
    src = np.clip(rng.normal(220, 90, n).astype(int), 16, 512)
    tgt = np.clip(rng.normal(28, 10, n).astype(int), 4, 64)

    def column(lengths: np.ndarray, first: int | None) -> TokenColumn:
        offsets = np.zeros(n + 1, dtype=np.int64)
        np.cumsum(lengths, out=offsets[1:])
        values = rng.integers(5, vocab, offsets[-1]).astype(np.int64)
        if first is not None:
            values[offsets[:-1]] = first
        values[offsets[1:] - 1] = 3  # [SEP]
        return TokenColumn(values, offsets)

    return PairData(column(src, 2), column(tgt, None))


def vocab_tokenizer(folder: Path, size: int) -> Any:
    from transformers import BertTokenizer

    folder.mkdir(parents=True, exist_ok=True)
    specials = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]
    words = specials + [f"w{i}" for i in range(size - len(specials))]
    (folder / "vocab.txt").write_text("\n".join(words) + "\n", encoding="utf-8")
    return BertTokenizer(str(folder / "vocab.txt"))


def run_variant(name: str, preset: str, compile_: str, steps: int, micro: int, accum: int,
                device: Any, data: Any, tok: Any, root: Path) -> dict[str, Any]:
    import torch

    from core.model import build_model, count_parameters
    from core.training.config import TrainConfig
    from core.training.loop import Dist, Loop, LoopContext
    from core.training.rundir import MetricsWriter

    run_dir = root / name
    run_dir.mkdir()
    cfg = TrainConfig(dataset="synthetic", scratch=preset, max_steps=steps, batch_size=micro,
                      grad_accum=accum, log_steps=10, eval_steps=10**9, save_steps=10**9,
                      compile=compile_, probe_size=0, eval_samples=64)
    torch.manual_seed(0)
    model = build_model(tok, scratch=preset)
    metrics = MetricsWriter(run_dir, 0)
    ctx = LoopContext(run_dir=run_dir, cfg=cfg, model=model, tokenizer=tok, train=data, val=data,
                      probe_rows=[], device=device, dist=Dist(), batch_size=micro, grad_accum=accum,
                      plan_batch=micro, metrics=metrics)
    loop = Loop(ctx)
    loop.save = lambda reason: None  # measuring steps, not disk
    loop.setup()
    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats(device)
    t0 = time.time()
    loop.run()
    wall = time.time() - t0
    metrics.close()
    recs = [json.loads(line) for line in (run_dir / "metrics.jsonl").read_text().splitlines()]
    logs = [r for r in recs if "loss" in r]
    # Skip the first windows: compilation and allocator warm-up.
    steady = logs[len(logs) // 3:] or logs
    sps = float(np.median([r["samples_per_s"] for r in steady]))
    tps = float(np.median([r["tokens_per_s"] for r in steady]))
    return {
        "variant": name, "compiled": loop.compiled, "precision": loop.precision,
        "params": count_parameters(model), "steps": steps, "wall_s": round(wall, 1),
        "samples_per_s": round(sps, 1), "tokens_per_s": round(tps, 0),
        "loss_first": logs[0]["loss"], "loss_last": logs[-1]["loss"],
        "peak_mem_gib": round(torch.cuda.max_memory_allocated(device) / 2**30, 2) if device.type == "cuda" else None,
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--tiny", action="store_true", help="CPU smoke run of the tiny preset")
    parser.add_argument("--steps", type=int, default=120)
    parser.add_argument("--micro", type=int, default=64)
    parser.add_argument("--variants", default=None, help="comma list of eager,compile")
    args = parser.parse_args()
    import torch

    device = torch.device("cuda" if torch.cuda.is_available() and not args.tiny else "cpu")
    preset = "tiny" if args.tiny else "base"
    steps = 20 if args.tiny else args.steps
    micro = 16 if args.tiny else args.micro
    accum = max(1, 64 // micro)
    vocab = 4000 if args.tiny else 32768
    root = Path(tempfile.mkdtemp(prefix="train-loop-speed-"))
    tok = vocab_tokenizer(root / "tok", vocab)
    data = synthetic_pairs(2000 if args.tiny else 20000, vocab)
    results = []
    variants = args.variants or ("eager" if args.tiny else "eager,compile")
    for v in variants.split(","):
        res = run_variant(v, preset, "on" if v == "compile" else "off", steps, micro, accum,
                          device, data, tok, root)
        results.append(res)
        print(json.dumps(res), flush=True)
    name = torch.cuda.get_device_name(device) if device.type == "cuda" else "cpu"
    best = max(results, key=lambda r: r["samples_per_s"])
    print(json.dumps({"device": name, "preset": preset, "effective_batch": micro * accum,
                      "micro_batch": micro, "samples_per_s": best["samples_per_s"],
                      "best_variant": best["variant"],
                      "variants": {r["variant"]: r["samples_per_s"] for r in results},
                      "peak_mem_gib": best["peak_mem_gib"]}))


if __name__ == "__main__":
    main()
