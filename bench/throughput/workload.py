"""What every throughput variant trains on: the plan, synthetic Narou-length pairs, a made-up
vocabulary, the same initial model, and the device helpers the timings need."""

from __future__ import annotations

import gc
import math
import random
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

PAD, UNK, CLS, SEP, MASK = 0, 1, 2, 3, 4
N_SPECIAL = 5
SRC_MEAN, SRC_STD, SRC_MIN, SRC_MAX = 220, 90, 24, 512
TGT_MEAN, TGT_STD, TGT_MIN, TGT_MAX = 28, 10, 6, 64
EFFECTIVE = 64
# Optimizer steps of the seed's whole run (13 epochs × 100k pairs at batch 64).
FULL_RUN_STEPS = math.ceil(13 * 100_000 / EFFECTIVE)


@dataclass
class Plan:
    """Shapes and step counts of one bench run (see bench/train_throughput.py)."""

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
