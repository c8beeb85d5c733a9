"""Padding: how much of each padded training batch is real work, old batching vs the default.

Old (the first release): rows sorted by synopsis length inside chunks of 50 batches, padded
to multiples of 64 (synopsis) and 16 (title). Default: sorted by padded synopsis bucket and
then by title length inside chunks of 100 batches, padded to 32 and 8 (TrainConfig).

Work is counted with a BERT2BERT-base cost model: 170 MFLOP per synopsis token (12 encoder
layers) and 278 MFLOP per title token (12 decoder layers with cross-attention + the LM head
over 32,768 pieces), so `real ÷ padded` is the share of the matmul work that is not padding.
No GPU is involved: this is the data side of training speed, measured exactly.

Data: the throughput bench's synthetic Narou-length pairs (100k), and, when present, 2,000
real pairs (--real FILE, by default the real-data folder CI keeps beside the checkout)
tokenized with a WordPiece vocabulary trained on the bundled sample (never on evaluation data).

    .venv/bin/python bench/padding.py [--epochs 3] [--real FILE]

Last line: one JSON object.
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
import tempfile  # noqa: E402
from typing import Any  # noqa: E402

import numpy as np  # noqa: E402

SRC_MFLOP, TGT_MFLOP = 170, 278
OLD = {"bucket_by": "source", "pad_source": 64, "pad_target": 16, "chunk": 50}
REAL = _HERE.parent.parent / "shared" / "data" / "narou_real" / "narou.json"


def default_rule() -> dict[str, Any]:
    from core.training.config import TrainConfig

    cfg = TrainConfig()
    return {"bucket_by": cfg.bucket_by, "pad_source": cfg.pad_multiple_source,
            "pad_target": cfg.pad_multiple_target, "chunk": cfg.bucket_chunk}


def efficiency(src: np.ndarray, tgt: np.ndarray, rule: dict[str, Any], epochs: int,
               batch: int = 64, max_src: int = 512, max_tgt: int = 64) -> dict[str, float]:
    """Real ÷ padded work and title/synopsis padding shares, averaged over `epochs` epochs."""
    from core.training.batching import epoch_batches

    def up(n: np.ndarray, m: int, cap: int) -> np.ndarray:
        return np.minimum(cap, -(-n // m) * m)

    work, s_real, t_real = [], [], []
    for epoch in range(epochs):
        by_t = rule["bucket_by"] == "source_target"
        batches = epoch_batches(src, batch, 42, epoch, rule["chunk"],
                                target_lengths=tgt if by_t else None, bucket_width=rule["pad_source"])
        rows = np.concatenate(batches)
        s_pad = np.concatenate([np.full(len(b), up(src[b].max(), rule["pad_source"], max_src)) for b in batches])
        t_pad = np.concatenate([np.full(len(b), up(tgt[b].max(), rule["pad_target"], max_tgt)) for b in batches])
        real = (src[rows] * SRC_MFLOP + tgt[rows] * TGT_MFLOP).sum()
        work.append(real / (s_pad * SRC_MFLOP + t_pad * TGT_MFLOP).sum())
        s_real.append(src[rows].sum() / s_pad.sum())
        t_real.append(tgt[rows].sum() / t_pad.sum())
    return {"real_over_padded": round(float(np.mean(work)), 4),
            "source_real_share": round(float(np.mean(s_real)), 4),
            "title_real_share": round(float(np.mean(t_real)), 4)}


def synthetic_lengths(n: int) -> tuple[np.ndarray, np.ndarray]:
    from bench.throughput.workload import synthetic_pairs

    data = synthetic_pairs(n, 32768, seed=0)
    return data.source.lengths(), data.target.lengths()


def real_lengths(real: Path) -> tuple[np.ndarray, np.ndarray] | None:
    if not real.exists():
        return None
    from core.tokenization import train_wordpiece
    from core.tokenization.loader import load_tokenizer

    sample = _HERE.parent / "datasets" / "sample" / "sample.jsonl"
    records = [json.loads(line) for line in sample.read_text(encoding="utf-8").splitlines() if line.strip()]
    texts = [t for r in records for t in (r["story"], r["title"])]
    with tempfile.TemporaryDirectory() as tmp:
        tok = load_tokenizer(str(train_wordpiece(texts, 8000, Path(tmp) / "vocab"))).tokenizer
        rows = json.loads(real.read_text(encoding="utf-8"))
        src = np.array([len(tok(r["abstract"], truncation=True, max_length=512)["input_ids"]) for r in rows])
        # Labels are the title's pieces + [SEP] (no [CLS]), capped like max_target_len.
        tgt = np.array([min(64, len(tok(r["title"], truncation=True, max_length=65)["input_ids"]) - 1)
                        for r in rows])
    return src, tgt


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--epochs", type=int, default=3, help="epochs of batch order averaged")
    parser.add_argument("--n", type=int, default=100_000, help="synthetic pairs")
    parser.add_argument("--real", type=Path, default=REAL, help="real Narou pairs (JSON array with "
                        "`abstract` and `title`), used when the file exists")
    args = parser.parse_args(argv)
    new = default_rule()
    sets: dict[str, tuple[np.ndarray, np.ndarray]] = {"synthetic": synthetic_lengths(args.n)}
    real = real_lengths(args.real)
    if real is not None:
        sets["narou_real"] = real
    else:
        print(f"note: {args.real} not found; real-data figures skipped")
    out: dict[str, Any] = {"old": OLD, "default": new, "data": {}}
    print(f"{'data':<12}{'rule':<9}{'real÷padded':>12}{'synopsis':>10}{'title':>8}")
    for name, (src, tgt) in sets.items():
        old_e = efficiency(src, tgt, OLD, args.epochs)
        new_e = efficiency(src, tgt, new, args.epochs)
        for label, e in (("old", old_e), ("default", new_e)):
            print(f"{name:<12}{label:<9}{e['real_over_padded']:>12.3f}{e['source_real_share']:>10.3f}"
                  f"{e['title_real_share']:>8.3f}")
        ratio = round(new_e["real_over_padded"] / old_e["real_over_padded"], 3)
        print(f"{name}: the default batching does {ratio}× the real work per padded FLOP "
              f"({len(src):,} pairs, median synopsis {np.median(src):.0f} / title {np.median(tgt):.0f} tokens)")
        out["data"][name] = {"pairs": len(src), "old": old_e, "default": new_e, "ratio": ratio}
    print(json.dumps(out))
    return 0


if __name__ == "__main__":
    sys.exit(main())
