"""Generation speed: narou-tui's generation service vs what a competent user writes, same titles.

Baseline (the headline ratios): the same checkpoint loaded once, `model.generate` under
`torch.inference_mode` with exactly the service's decoding settings (beams, returned sequences,
min/max new tokens, repetition penalties, length penalty, early stopping and the same
`suppress_tokens`), batched with the same batch size in input order. Both sides must produce
the same titles: if any title differs, the bench says which and exits with status 1.

Extra rows, for scale and not as the headline: the baseline reloading the model on every
request (a script that loads per call), and the baseline with one synopsis per `generate` call.

narou-tui (`core.generation.service`): the model loaded once and cached by the service,
`torch.inference_mode`, KV cache, batches sorted by length so they pad little, and a score
per title (that extra work is counted on narou-tui's side).

Run: `python bench/generate.py` (tiny model, CPU; a few minutes on 2 cores; add `--threads 1`
where other jobs share the cores, as idle torch threads spin there) or `--preset base` on a GPU
(random-init BERT2BERT-base shape). Last line: one JSON object.
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
from collections.abc import Callable  # noqa: E402
from typing import Any  # noqa: E402

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


def interleaved(fns: list[Callable[[], Any]], repeat: int) -> tuple[list[float], list[Any]]:
    """Median seconds of each function and its last result; the functions take turns each round
    so load from other processes on a shared machine falls on all of them alike."""
    times: list[list[float]] = [[] for _ in fns]
    results: list[Any] = [None] * len(fns)
    for _ in range(repeat):
        for i, fn in enumerate(fns):
            t0 = time.perf_counter()
            results[i] = fn()
            times[i].append(time.perf_counter() - t0)
    return [statistics.median(t) for t in times], results


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--preset", default="tiny", choices=("tiny", "small", "base"))
    ap.add_argument("--device", default="auto", help="auto, cpu or cuda")
    ap.add_argument("--batch", type=int, default=64, help="synopses in the throughput test")
    ap.add_argument("--batch-size", type=int, default=32, help="synopses per generate call")
    ap.add_argument("--max-new-tokens", type=int, default=24)
    ap.add_argument("--repeat", type=int, default=7, help="latency repetitions (median)")
    ap.add_argument("--batch-repeat", type=int, default=3, help="batch repetitions (median)")
    ap.add_argument("--threads", type=int, default=0, help="torch CPU threads for both sides (0 = torch's default)")
    args = ap.parse_args()

    import torch
    from transformers import EncoderDecoderModel

    from core.generation.loading import decode_ids
    from core.generation.options import DecodingOptions
    from core.generation.service import GenerationService, generate_batch, title_suppressed_ids
    from core.model import load_tokenizer_dir
    from core.paths import Paths

    torch.manual_seed(0)
    if args.threads:
        torch.set_num_threads(args.threads)
    stories = _stories()
    # Every synopsis distinct, with a spread of lengths, so batching order matters.
    synopses = [stories[i % len(stories)] for i in range(0, args.batch * 5, 5)]
    device = args.device
    if device == "auto":
        device = "cuda" if torch.cuda.is_available() else "cpu"
    n = args.max_new_tokens
    # min = max tokens: a random-init model and a trained one do the same amount of work.
    interactive = DecodingOptions(num_beams=4, num_return_sequences=4, min_new_tokens=n, max_new_tokens=n)
    batch_opts = interactive.with_changes(num_return_sequences=1)
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        ck = build_checkpoint(root, args.preset, stories)
        service = GenerationService(Paths(root / "ds", root, root / "cfg"),
                                    prefer_device="cpu" if device == "cpu" else "cuda")
        t0 = time.perf_counter()
        loaded = service.load("bench-run")
        cold_load_s = time.perf_counter() - t0
        dev = loaded.device.device

        # ---- the baseline, written as a user would: load once, same settings, same batches.
        model = EncoderDecoderModel.from_pretrained(str(ck)).to(dev).eval()
        tok = load_tokenizer_dir(ck)
        suppress = title_suppressed_ids(tok)

        def sync() -> None:
            if dev.startswith("cuda"):
                torch.cuda.synchronize()

        def baseline(texts: list[str], opts: DecodingOptions, batch_size: int,
                     m: Any = None, t: Any = None) -> list[list[str]]:
            m, t = m or model, t or tok
            titles: list[list[str]] = []
            with torch.inference_mode():
                for s in range(0, len(texts), batch_size):
                    enc = t(texts[s:s + batch_size], padding=True, truncation=True, max_length=512,
                            return_tensors="pt").to(dev)
                    out = m.generate(**enc, **opts.generate_kwargs(), suppress_tokens=suppress).tolist()
                    k = opts.num_return_sequences
                    titles += [[title_text(t, ids) for ids in out[j:j + k]] for j in range(0, len(out), k)]
            sync()
            return titles

        def baseline_reload(texts: list[str]) -> list[list[str]]:
            m = EncoderDecoderModel.from_pretrained(str(ck)).to(dev).eval()
            return baseline(texts, interactive, 1, m, load_tokenizer_dir(ck))

        def ours(texts: list[str], opts: DecodingOptions, batch_size: int) -> list[list[str]]:
            got = generate_batch(service.load("bench-run"), texts, opts, batch_size)  # a cache hit
            sync()
            return [[c.text for c in cands] for cands in got]

        def title_text(t: Any, ids: list[int]) -> str:
            body = ids[1:]  # after the decoder start token, up to the first [SEP]/[PAD]
            for stop in (t.sep_token_id, t.pad_token_id):
                if stop in body:
                    body = body[:body.index(stop)]
            return decode_ids(t, body)

        story = [synopses[0]]
        print(f"model built and loaded in {cold_load_s:.1f} s; timing latency ({args.repeat} rounds)", flush=True)
        ours(story, interactive, 1)  # warm-up both sides (allocator, kernels)
        baseline(story, interactive, 1)
        (lat, lat_base, lat_reload), (t_ours, t_base, t_reload) = interleaved(
            [lambda: ours(story, interactive, 1), lambda: baseline(story, interactive, 1),
             lambda: baseline_reload(story)], args.repeat)
        print(f"timing the batch of {len(synopses)} ({args.batch_repeat} rounds)", flush=True)
        (b_ours, b_base, b_one), (bt_ours, bt_base, bt_one) = interleaved(
            [lambda: ours(synopses, batch_opts, args.batch_size),
             lambda: baseline(synopses, batch_opts, args.batch_size),
             lambda: baseline(synopses, batch_opts, 1)], args.batch_repeat)

    # Beam candidates of equal length may come back in another order: compare them as sets.
    differ = {
        "interactive": int(sorted(t_ours[0]) != sorted(t_base[0])) + int(sorted(t_ours[0]) != sorted(t_reload[0])),
        "batch": sum(a != b for a, b in zip(bt_ours, bt_base, strict=True)),
        "batch_size_1": sum(a != b for a, b in zip(bt_ours, bt_one, strict=True)),
    }
    nb = len(synopses)
    fig = {
        "preset": args.preset, "device": dev,
        "device_name": torch.cuda.get_device_name(0) if dev.startswith("cuda") else "cpu",
        "threads": torch.get_num_threads(), "load_avg": round(os.getloadavg()[0], 2),
        "num_beams": interactive.num_beams, "max_new_tokens": n, "batch_n": nb, "batch_size": args.batch_size,
        "cold_load_ms": round(cold_load_s * 1000, 1),
        "latency_ms": round(lat * 1000, 1), "baseline_latency_ms": round(lat_base * 1000, 1),
        "latency_speedup": round(lat_base / lat, 2),
        "baseline_reload_latency_ms": round(lat_reload * 1000, 1),
        "latency_speedup_vs_reload": round(lat_reload / lat, 2),
        "batch_per_s": round(nb / b_ours, 2), "baseline_batch_per_s": round(nb / b_base, 2),
        "batch_speedup": round(b_base / b_ours, 2),
        "baseline_batch1_per_s": round(nb / b_one, 2), "batch_speedup_vs_batch1": round(b_one / b_ours, 2),
        "titles_differ": differ, "same_titles": not any(differ.values()),
    }
    print(f"generation bench: {args.preset} on {fig['device_name']} ({fig['threads']} threads, load "
          f"{fig['load_avg']}), {interactive.num_beams} beams, {n} title tokens, {nb} distinct synopses")
    print(f"{'':44}{'narou-tui':>11}{'baseline':>11}{'ratio':>8}")
    print(f"{'latency, 1 synopsis → 4 titles (ms)':44}{lat * 1000:>11.1f}{lat_base * 1000:>11.1f}"
          f"{lat_base / lat:>7.2f}×")
    print(f"{'  extra row: baseline reloading per request':44}{'':>11}{lat_reload * 1000:>11.1f}"
          f"{lat_reload / lat:>7.2f}×")
    print(f"{f'batch of {nb}, {args.batch_size} per call (titles/s)':44}{nb / b_ours:>11.1f}{nb / b_base:>11.1f}"
          f"{b_base / b_ours:>7.2f}×")
    print(f"{'  extra row: baseline one synopsis per call':44}{'':>11}{nb / b_one:>11.1f}{b_one / b_ours:>7.2f}×")
    print(f"identical titles: batch {nb - differ['batch']}/{nb}, one-per-call {nb - differ['batch_size_1']}/{nb}, "
          f"interactive {'yes' if not differ['interactive'] else 'NO'} (4 titles, also with the reload)")
    print("baseline: the same model loaded once, model.generate under inference_mode with the same "
          "settings and suppress_tokens, same batch size, input order")
    print(json.dumps(fig, ensure_ascii=False))
    if not fig["same_titles"]:
        print(f"error: the two sides produced different titles ({differ}); the comparison is void",
              file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    sys.exit(main())
