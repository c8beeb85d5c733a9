"""The generation service: load checkpoints once (with progress), then decode titles in batches."""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from core.generation.checkpoints import CheckpointInfo, resolve_checkpoint
from core.generation.device import DeviceChoice, choose_device
from core.generation.loading import check_weights, decode_ids, load_for_generation
from core.generation.options import DecodingOptions
from core.paths import Paths
from core.tokenization.guard import cut_for_model

# progress(message, fraction in [0, 1]); called from the loading thread.
Progress = Callable[[str, float], None]


@dataclass(frozen=True)
class TitleCandidate:
    """One generated title.

    score: log-probability per token under the decoding distribution (beam search ranks by
    the same number with `length_penalty` as the exponent); closer to 0 is more confident.
    """

    text: str
    score: float
    n_tokens: int


@dataclass
class GenerationResult:
    """All titles for one synopsis, best first, and how they were made."""

    synopsis: str
    candidates: list[TitleCandidate]
    checkpoint: str
    options: DecodingOptions
    device: str
    elapsed_s: float
    reference: str | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            "checkpoint": self.checkpoint,
            "device": self.device,
            "elapsed_s": round(self.elapsed_s, 4),
            "titles": [
                {"title": c.text, "score": round(c.score, 4), "tokens": c.n_tokens}
                for c in self.candidates
            ],
            **({"reference": self.reference} if self.reference is not None else {}),
        }


@dataclass
class LoadedModel:
    """A checkpoint ready to generate: model, tokenizer, device and where they came from."""

    info: CheckpointInfo
    model: Any
    tokenizer: Any
    device: DeviceChoice
    load_s: float
    max_source_len: int = 512
    lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def spec(self) -> str:
        return self.info.spec


class GenerationService:
    """Keeps up to `max_cached` models loaded (least recently used is dropped first).

    prefer_device: "auto", "cpu" or "cuda[:N]" (see `choose_device`).
    """

    def __init__(self, paths: Paths, prefer_device: str = "auto", max_cached: int = 2) -> None:
        self.paths = paths
        self.prefer_device = prefer_device
        self.max_cached = max_cached
        self._cache: OrderedDict[Path, LoadedModel] = OrderedDict()
        self._lock = threading.Lock()

    def cached(self, spec: str) -> LoadedModel | None:
        info = resolve_checkpoint(self.paths, spec)
        with self._lock:
            return self._cache.get(info.path)

    def load(self, spec: str | CheckpointInfo, progress: Progress | None = None) -> LoadedModel:
        """Resolve and load a checkpoint, or return the cached one at once."""
        report = progress or (lambda _m, _f: None)
        info = spec if isinstance(spec, CheckpointInfo) else resolve_checkpoint(self.paths, spec)
        with self._lock:
            hit = self._cache.get(info.path)
            if hit is not None:
                self._cache.move_to_end(info.path)
                report(f"{info.spec} already loaded on {hit.device.device}", 1.0)
                return hit
        t0 = time.perf_counter()
        report(f"checking {info.spec}", 0.05)
        weights_bytes = check_weights(info.path)
        choice = choose_device(weights_bytes, self.prefer_device)
        report(f"device: {choice.reason}", 0.15)
        report("importing torch and transformers", 0.25)
        import torch  # noqa: F401  (timed as its own step: it is most of a cold load)

        report(f"reading {weights_bytes / 2**20:,.1f} MiB of weights", 0.5)
        model, tokenizer = load_for_generation(info.path, choice.device)
        report("ready", 1.0)
        loaded = LoadedModel(info, model, tokenizer, choice, time.perf_counter() - t0,
                             source_limit(model))
        with self._lock:
            self._cache[info.path] = loaded
            while len(self._cache) > self.max_cached:
                self._cache.popitem(last=False)
        return loaded

    def generate(
        self,
        loaded: LoadedModel,
        synopses: Sequence[str],
        options: DecodingOptions,
        batch_size: int = 16,
        references: Sequence[str | None] | None = None,
    ) -> list[GenerationResult]:
        """Titles for each synopsis, in input order; see `generate_batch`."""
        t0 = time.perf_counter()
        cands = generate_batch(loaded, synopses, options, batch_size)
        per = (time.perf_counter() - t0) / max(1, len(synopses))
        refs = list(references) if references is not None else [None] * len(synopses)
        return [
            GenerationResult(s, c, loaded.spec, options, loaded.device.device, per, r)
            for s, c, r in zip(synopses, cands, refs, strict=True)
        ]


def source_limit(model: Any) -> int:
    """Synopsis tokens the model reads: its encoder's positions, at most 512."""
    enc = getattr(model.config, "encoder", None)
    return min(int(getattr(enc, "max_position_embeddings", 512) or 512), 512)


def generate_batch(
    loaded: LoadedModel,
    synopses: Sequence[str],
    options: DecodingOptions,
    batch_size: int = 16,
) -> list[list[TitleCandidate]]:
    """Decode titles for many synopses: sorted by length so batches pad little, KV cache on,
    no autograd, one shared model. Returns candidates per synopsis in the input order."""
    import torch

    options.validate()
    tok, model = loaded.tokenizer, loaded.model
    device = loaded.device.device
    order = sorted(range(len(synopses)), key=lambda i: len(synopses[i]))
    out: list[list[TitleCandidate]] = [[] for _ in synopses]
    kwargs = options.generate_kwargs()
    # A title made of [UNK], [PAD], [CLS] or [MASK] reads as nothing: never emit them, so with
    # min_new_tokens ≥ 1 every candidate has at least one visible piece.
    kwargs["suppress_tokens"] = title_suppressed_ids(tok)
    with loaded.lock, torch.inference_mode():
        if options.seed is not None:
            torch.manual_seed(options.seed)
        for start in range(0, len(order), max(1, batch_size)):
            idx = order[start:start + batch_size]
            # Only what the model reads reaches MeCab: a huge synopsis would crash it.
            texts = [cut_for_model(synopses[i], loaded.max_source_len, tok.tokenize) for i in idx]
            enc = tok(
                texts, padding=True, truncation=True,
                max_length=loaded.max_source_len, return_tensors="pt",
            ).to(device)
            gen = model.generate(
                input_ids=enc["input_ids"], attention_mask=enc["attention_mask"],
                use_cache=True, return_dict_in_generate=True, output_scores=True, **kwargs,
            )
            scores = _sequence_scores(model, gen, options)
            seqs = gen.sequences.tolist()
            n = options.num_return_sequences
            for j, i in enumerate(idx):
                for k in range(n):
                    ids, score = seqs[j * n + k], scores[j * n + k]
                    body = _strip(ids, tok)
                    out[i].append(TitleCandidate(decode_ids(tok, body), score, len(body)))
            for i in idx:
                out[i].sort(key=lambda c: c.score, reverse=True)
    return out


def title_suppressed_ids(tok: Any) -> list[int]:
    """Special ids a title never contains ([SEP] stays: it ends the title)."""
    ids = {tok.pad_token_id, tok.unk_token_id, tok.cls_token_id, tok.mask_token_id}
    return sorted(i for i in ids if i is not None and i != tok.sep_token_id)


def _strip(ids: list[int], tok: Any) -> list[int]:
    # Keep the title body: drop the start token and everything from the first [SEP]/[PAD].
    stop = {tok.sep_token_id, tok.pad_token_id}
    body = []
    for t in ids[1:]:
        if t in stop:
            break
        body.append(t)
    return body


def _sequence_scores(model: Any, gen: Any, options: DecodingOptions) -> list[float]:
    if getattr(gen, "sequences_scores", None) is not None:
        return [float(s) for s in gen.sequences_scores.tolist()]
    import torch

    trans = model.compute_transition_scores(gen.sequences, gen.scores, normalize_logits=True)
    # A step counts up to and including the first [SEP]; later steps are padding.
    generated = gen.sequences[:, -trans.shape[1]:]
    eos = model.generation_config.eos_token_id
    eos_ids = eos if isinstance(eos, list) else [eos]
    is_eos = torch.zeros_like(generated, dtype=torch.bool)
    for e in eos_ids:
        if e is not None:
            is_eos |= generated == e
    ended_before = (is_eos.cumsum(dim=1) - is_eos.long()) > 0
    keep = ~ended_before & torch.isfinite(trans)
    total = torch.where(keep, trans, torch.zeros_like(trans)).sum(dim=1)
    lengths = keep.sum(dim=1).clamp(min=1)
    return [float(x) for x in (total / lengths).tolist()]
