"""Generation speed: interactive latency and batch throughput, optimised path vs naive generate.

Naive (what a script that calls `model.generate` directly does), measured in the same run:
- latency: every request loads tokenizer + model from the checkpoint (no cache), tokenizes,
  and calls `model.generate` under autograd (no `torch.inference_mode`).
  `baseline_latency_noload_ms` is the same with the model already loaded, to separate the
  cost of loading from the cost of decoding.
- batch: one synopsis per `generate` call, fresh tokenization each call, autograd on, model
  loaded once (a generous baseline).
Optimised (`core.generation.service`): the model is loaded once and cached, generation runs
under `torch.inference_mode` with the KV cache on, and batches are sorted by length so they
pad little. Decoding settings are identical on both sides and both produce the same titles.

Run: `.venv/bin/python bench/generate.py` (tiny model, CPU; ≈1–2 min on 2 cores) or
`--preset base` on a GPU (random-init BERT2BERT-base shape, vocab 32768). Last line: JSON.
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
import os  # noqa: E402
import statistics  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402

from core.paths import REPO_ROOT  # noqa: E402

SAMPLE = REPO_ROOT / "datasets" / "sample" / "sample.jsonl"


def _stories() -> list[str]:
    rows = [json.loads(x) for x in SAMPLE.read_text(encoding="utf-8").splitlines() if x.strip()]
    return [r["story"] for r in rows]


def build_checkpoint(out: Path, preset: str, stories: list[str]) -> Path:
    """A random-init model of `preset` shape + a scratch vocabulary, saved as a checkpoint."""
    from core.model import build_model
    from core.runs.schema import COMPLETE_MARKER
    from core.tokenization import load_tokenizer, train_wordpiece

    tok_dir = train_wordpiece(stories, 4000, out / "vocab")
    tok = load_tokenizer(str(tok_dir)).tokenizer
    model = build_model(tok, scratch=preset)
    ck = out / "bench-run" / "checkpoint-0"
    model.save_pretrained(ck)
    tok.save_pretrained(ck)
    (ck / COMPLETE_MARKER).write_text("")
    (ck.parent / "config.json").write_text("{}")
    return ck


def _interleaved_ms(fns, repeat: int) -> list[float]:  # type: ignore[no-untyped-def]
    """Median ms of each function, run in turn each round so load from other processes on a
    shared machine falls on all of them alike."""
    times: list[list[float]] = [[] for _ in fns]
    for _ in range(repeat):
        for i, fn in enumerate(fns):
            t0 = time.perf_counter()
            fn()
            times[i].append((time.perf_counter() - t0) * 1000)
    return [statistics.median(t) for t in times]


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--preset", default="tiny", choices=("tiny", "small", "base"))
    ap.add_argument("--device", default="auto", help="auto, cpu or cuda")
    ap.add_argument("--batch", type=int, default=64, help="synopses in the throughput test")
    ap.add_argument("--batch-size", type=int, default=32, help="synopses per generate call")
    ap.add_argument("--max-new-tokens", type=int, default=24)
    ap.add_argument("--repeat", type=int, default=9, help="latency repetitions (median)")
    args = ap.parse_args()

    import torch
    from transformers import EncoderDecoderModel

    from core.generation.options import DecodingOptions
    from core.generation.service import GenerationService, generate_batch
    from core.model import load_tokenizer_dir
    from core.paths import Paths

    torch.manual_seed(0)
    stories = _stories()
    synopses = [stories[i % len(stories)] for i in range(args.batch)]
    device = args.device
    if device == "auto":
        device = "cuda" if torch.cuda.is_available() else "cpu"
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        ck = build_checkpoint(root, args.preset, stories)
        paths = Paths(root / "ds", root, root / "cfg")
        # Same decoding on both sides; min = max tokens so a random-init model and a trained
        # one do the same amount of work and titles have equal length.
        n = args.max_new_tokens
        inter = DecodingOptions(num_beams=4, num_return_sequences=4, min_new_tokens=n,
                                max_new_tokens=n)
        batch_opts = inter.with_changes(num_return_sequences=1)
        kw_inter = inter.generate_kwargs()
        kw_batch = batch_opts.generate_kwargs()
        interactive_opts = inter.with_changes(num_return_sequences=4)

        service = GenerationService(paths, prefer_device="cpu" if device == "cpu" else "cuda")
        t0 = time.perf_counter()
        loaded = service.load("bench-run")
        cold_load_ms = (time.perf_counter() - t0) * 1000
        dev = loaded.device.device
        story = synopses[0]

        def sync() -> None:
            if dev.startswith("cuda"):
                torch.cuda.synchronize()

        def optimised_one() -> None:
            service.load("bench-run")  # cache hit
            generate_batch(loaded, [story], interactive_opts, 1)
            sync()

        def naive_one(model=None, tok=None) -> None:  # type: ignore[no-untyped-def]
            if model is None:
                model = EncoderDecoderModel.from_pretrained(str(ck)).to(dev)
                tok = load_tokenizer_dir(ck)
            enc = tok(story, return_tensors="pt", truncation=True, max_length=512).to(dev)
            model.generate(**enc, **kw_inter)
            sync()

        naive_model = EncoderDecoderModel.from_pretrained(str(ck)).to(dev).eval()
        naive_tok = load_tokenizer_dir(ck)
        optimised_one()  # warm-up both paths (allocator, kernels)
        naive_one(naive_model, naive_tok)
        latency, base_latency, base_latency_noload = _interleaved_ms(
            [optimised_one, naive_one, lambda: naive_one(naive_model, naive_tok)], args.repeat)

        def optimised_batch() -> list:  # type: ignore[type-arg]
            out = generate_batch(loaded, synopses, batch_opts, args.batch_size)
            sync()
            return out

        def naive_batch() -> list[list[int]]:
            outs = []
            for s in synopses:
                enc = naive_tok(s, return_tensors="pt", truncation=True, max_length=512).to(dev)
                outs.append(naive_model.generate(**enc, **kw_batch)[0].tolist())
            sync()
            return outs

        t0 = time.perf_counter()
        fast = optimised_batch()
        fast_s = time.perf_counter() - t0
        t0 = time.perf_counter()
        slow = naive_batch()
        slow_s = time.perf_counter() - t0
        from core.generation.loading import decode_ids

        same = sum(f[0].text == decode_ids(naive_tok, s) for f, s in zip(fast, slow, strict=True))

    fig = {
        "preset": args.preset,
        "device": dev,
        "device_name": torch.cuda.get_device_name(0) if dev.startswith("cuda") else "cpu",
        "threads": torch.get_num_threads(),
        "cold_load_ms": round(cold_load_ms, 1),
        "latency_ms": round(latency, 1),
        "baseline_latency_ms": round(base_latency, 1),
        "baseline_latency_noload_ms": round(base_latency_noload, 1),
        "latency_speedup": round(base_latency / latency, 2),
        "latency_speedup_noload": round(base_latency_noload / latency, 2),
        "batch_per_s": round(len(synopses) / fast_s, 2),
        "baseline_batch_per_s": round(len(synopses) / slow_s, 2),
        "batch_speedup": round(slow_s / fast_s, 2),
        "batch_n": len(synopses),
        "batch_size": args.batch_size,
        "num_beams": 4,
        "max_new_tokens": args.max_new_tokens,
        "same_titles": same,
    }
    print(f"generation bench: {args.preset} on {fig['device_name']} "
          f"({fig['threads']} threads), 4 beams, {n} title tokens")
    print(f"{'':34}{'optimised':>12}{'naive':>12}{'ratio':>8}")
    print(f"{'latency, 1 synopsis → 4 titles':34}{latency:>10.1f}ms{base_latency:>10.1f}ms"
          f"{base_latency / latency:>7.1f}×")
    print(f"{'  naive with model kept loaded':34}{'':>12}{base_latency_noload:>10.1f}ms"
          f"{base_latency_noload / latency:>7.1f}×")
    print(f"{f'batch, {len(synopses)} synopses (titles/s)':34}{fig['batch_per_s']:>12.1f}"
          f"{fig['baseline_batch_per_s']:>12.1f}{fig['batch_speedup']:>7.1f}×")
    print(json.dumps(fig))
    return 0


if __name__ == "__main__":
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    sys.exit(main())
