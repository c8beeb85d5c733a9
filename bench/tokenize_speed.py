"""Batch tokenization: BertJapaneseTokenizer in one process vs the fast exact path, on 100k synopses.

Corpus: the bundled sample stories plus, when present, the 2,000 real synopses in
../shared/data/narou_real/narou.json, cut into sentences at 。！？ and recombined (fixed seed)
into N synopses of 2-7 sentences each, so lengths look like real Narou synopses while the
text is not 2,000 strings repeated verbatim. Vocabulary: a scratch WordPiece vocabulary
(default 32768 requested; a small corpus fills fewer pieces) trained on the base texts and
reused from the temp folder on later runs. The reference rate comes from a subset (default
5,000) in this process; the fast path runs over all N with one worker per CPU, pool start-up
included. Ids are compared on the reference subset. Last line: one JSON object.

    .venv/bin/python bench/tokenize_speed.py [--n 100000] [--reference-n 5000] [--vocab-size 32768]
"""

from __future__ import annotations

import sys
from pathlib import Path

# Run as a script: import `core` from this checkout (the repository root), not an install.
_HERE = Path(__file__).resolve().parent
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != _HERE]
REPO = _HERE.parent
sys.path.insert(0, str(REPO))

import argparse  # noqa: E402
import json  # noqa: E402
import os  # noqa: E402
import random  # noqa: E402
import re  # noqa: E402
import resource  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402


def base_texts() -> tuple[list[str], str]:
    """Stories to recombine and a note on where they came from."""
    rows = [json.loads(x) for x in (REPO / "datasets/sample/sample.jsonl").read_text(encoding="utf-8").splitlines()
            if x.strip()]
    texts = [r["story"] for r in rows]
    source = f"{len(texts)} sample stories"
    real = REPO.parent / "shared" / "data" / "narou_real" / "narou.json"
    if real.is_file():
        extra = [r["abstract"] for r in json.loads(real.read_text(encoding="utf-8"))]
        texts += extra
        source += f" + {len(extra)} real synopses"
    return texts, source


def build_corpus(texts: list[str], n: int, seed: int = 0) -> list[str]:
    sentences = [s for t in texts for s in re.split(r"(?<=[。！？!?])", t) if s.strip()]
    rng = random.Random(seed)
    return ["".join(rng.choices(sentences, k=rng.randint(2, 7))) for _ in range(n)]


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=100_000, help="synopses in the corpus")
    ap.add_argument("--reference-n", type=int, default=5_000, help="synopses timed through BertJapaneseTokenizer")
    ap.add_argument("--vocab-size", type=int, default=32768)
    ap.add_argument("--max-length", type=int, default=512)
    ap.add_argument("--num-proc", type=int, default=None, help="fast-path workers (default: CPUs)")
    args = ap.parse_args()

    from core.tokenization.fast import default_procs, encode_many, spec_from_dir, split_flat
    from core.tokenization.loader import load_tokenizer
    from core.tokenization.scratch import train_wordpiece

    texts, source = base_texts()
    corpus = build_corpus(texts, args.n)
    chars = sum(map(len, corpus))
    vocab_dir = Path(tempfile.gettempdir()) / f"narou-tui-bench-vocab-{args.vocab_size}-{len(texts)}"
    t0 = time.perf_counter()
    if not (vocab_dir / "vocab.txt").is_file():
        train_wordpiece(texts, args.vocab_size, vocab_dir)
    vocab_s = time.perf_counter() - t0
    tok = load_tokenizer(vocab_dir).tokenizer
    spec = spec_from_dir(vocab_dir, "unidic_lite")
    procs = args.num_proc or default_procs()

    subset = corpus[: args.reference_n]
    half = len(subset) // 2

    def run_reference(texts: list[str]) -> tuple[list[list[int]], float, float]:
        t0, c0 = time.perf_counter(), time.process_time()
        ids = [tok(t, max_length=args.max_length, truncation=True)["input_ids"] for t in texts]
        return ids, time.perf_counter() - t0, time.process_time() - c0

    def children_cpu() -> float:
        usage = resource.getrusage(resource.RUSAGE_CHILDREN)
        return usage.ru_utime + usage.ru_stime

    # The machine is shared: time the reference in two halves, before and after the fast
    # path, so load that comes and goes weighs on both figures alike.
    load_before = os.getloadavg()[0]
    ref_a, ref_s_a, ref_c_a = run_reference(subset[:half])
    t0, c0, k0 = time.perf_counter(), time.process_time(), children_cpu()
    flat, lengths = encode_many(spec, corpus, "source", args.max_length, num_proc=procs)
    fast_s = time.perf_counter() - t0
    # CPU seconds of this process plus its (reaped) worker processes: a figure that other
    # programs competing for the same cores cannot inflate.
    fast_cpu = (time.process_time() - c0) + (children_cpu() - k0)
    ref_b, ref_s_b, ref_c_b = run_reference(subset[half:])
    reference, ref_s, ref_cpu = ref_a + ref_b, ref_s_a + ref_s_b, ref_c_a + ref_c_b
    load_after = os.getloadavg()[0]
    fast = split_flat(flat, lengths[: len(subset)]) if subset else []
    mismatches = sum(a != b for a, b in zip(fast, reference, strict=True))

    ref_rate = len(subset) / ref_s
    fast_rate = len(corpus) / fast_s
    pieces = len(flat)
    print(f"corpus: {len(corpus)} synopses recombined from {source}; {chars / len(corpus):.0f} chars avg, "
          f"{pieces / len(corpus):.0f} ids avg (max_length {args.max_length})")
    print(f"vocab: {len(tok.vocab)} pieces at {vocab_dir} ({'trained' if vocab_s > 0.05 else 'reused'}"
          f" in {vocab_s:.1f} s)")
    print(f"{'path':<44} {'synopses':>9} {'seconds':>8} {'synopses/s':>11}")
    print(f"{'BertJapaneseTokenizer, 1 process':<44} {len(subset):>9} {ref_s:>8.2f} {ref_rate:>11.0f}")
    print(f"{f'fast path (wakati + WordPiece), {procs} proc':<44} {len(corpus):>9} {fast_s:>8.2f} {fast_rate:>11.0f}")
    ref_cpu_rate, fast_cpu_rate = len(subset) / ref_cpu, len(corpus) / fast_cpu
    print(f"per CPU-second: reference {ref_cpu_rate:.0f}, fast {fast_cpu_rate:.0f} synopses "
          f"({fast_cpu_rate / ref_cpu_rate:.2f}x per core); load average {load_before:.1f} → {load_after:.1f} "
          f"on {os.cpu_count()} CPUs")
    print(f"ratio {fast_rate / ref_rate:.2f}x wall-clock; identical ids on {len(subset)} synopses: "
          f"{mismatches == 0} ({mismatches} differ)")
    print(json.dumps({
        "fast_per_s": round(fast_rate, 1),
        "reference_per_s": round(ref_rate, 1),
        "ratio": round(fast_rate / ref_rate, 2),
        "identical": mismatches == 0,
        "n": len(corpus),
        "reference_n": len(subset),
        "compared": len(subset),
        "procs": procs,
        "reference_cpu_per_s": round(ref_cpu_rate, 1),
        "fast_cpu_per_s": round(fast_cpu_rate, 1),
        "cpu_ratio": round(fast_cpu_rate / ref_cpu_rate, 2),
        "load_avg": [round(load_before, 2), round(load_after, 2)],
        "vocab_size": len(tok.vocab),
        "max_length": args.max_length,
    }))
    return 0 if mismatches == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
