"""Length-bucketed, deterministic, resumable batching over pre-tokenized Arrow columns."""

from __future__ import annotations

import queue
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np

IGNORE_INDEX = -100


@dataclass
class TokenColumn:
    """A list<int> Arrow column as flat values + offsets (no Python lists per row)."""

    values: np.ndarray
    offsets: np.ndarray

    @classmethod
    def from_dataset(cls, ds: Any, column: str) -> TokenColumn:
        import pyarrow as pa

        col = ds.data.table.column(column)
        arr = col.combine_chunks() if isinstance(col, pa.ChunkedArray) else col
        if isinstance(arr, pa.ChunkedArray):  # pyarrow < 15 returns chunked for empty
            arr = pa.concat_arrays(arr.chunks)
        offsets = np.asarray(arr.offsets, dtype=np.int64)
        # Native dtype (int32 for token ids): 100k synopses stay ~90 MB, cast per batch.
        values = np.asarray(arr.values.to_numpy(zero_copy_only=False))
        # A sliced dataset (select/shuffle) keeps an offsets window; indices map through it.
        if ds._indices is not None:
            idx = np.asarray(ds._indices.column(0).to_numpy(), dtype=np.int64)
            starts, ends = offsets[idx], offsets[idx + 1]
            lens = ends - starts
            flat = np.concatenate([values[s:e] for s, e in zip(starts, ends, strict=True)]) if len(idx) else values[:0]
            new_off = np.zeros(len(idx) + 1, dtype=np.int64)
            np.cumsum(lens, out=new_off[1:])
            return cls(flat, new_off)
        return cls(values, offsets)

    def __len__(self) -> int:
        return len(self.offsets) - 1

    def lengths(self) -> np.ndarray:
        return np.diff(self.offsets)

    def row(self, i: int) -> np.ndarray:
        return self.values[self.offsets[i]:self.offsets[i + 1]]


@dataclass
class PairData:
    """Tokenized (source, target) pairs of one split."""

    source: TokenColumn
    target: TokenColumn

    @classmethod
    def from_dataset(cls, ds: Any) -> PairData:
        return cls(TokenColumn.from_dataset(ds, "input_ids"), TokenColumn.from_dataset(ds, "labels"))

    def __len__(self) -> int:
        return len(self.source)


def epoch_batches(
    lengths: np.ndarray,
    batch_size: int,
    seed: int,
    epoch: int,
    chunk_batches: int,
    target_lengths: np.ndarray | None = None,
    bucket_width: int = 1,
) -> list[np.ndarray]:
    """The epoch's batches of row indices: same arguments → same batches, always.

    Rows are shuffled, cut into chunks of `chunk_batches` batches, sorted by length inside
    each chunk (so a batch holds similar lengths and pads little), cut into batches, and the
    batch order is shuffled again. A tail smaller than a batch is dropped so every batch has
    the same size (repeating shapes).

    With `target_lengths`, rows are sorted by source bucket (length rounded up to
    `bucket_width`, the collator's padding multiple) and then by target length: rows of one
    bucket cost the same source compute, so ordering them by title length lets each batch pad
    its titles to their own maximum instead of to the longest title of the chunk.
    """
    rng = np.random.default_rng([seed, epoch])
    order = rng.permutation(len(lengths))
    usable = (len(order) // batch_size) * batch_size
    chunk = batch_size * max(1, chunk_batches)
    batches: list[np.ndarray] = []
    width = max(1, bucket_width)
    for start in range(0, usable, chunk):
        part = order[start:min(start + chunk, usable)]
        if target_lengths is None:
            part = part[np.argsort(-lengths[part], kind="stable")]
        else:
            bucket = -(-lengths[part] // width)
            # lexsort: the last key is the primary one; both descending, ties stay in shuffle order.
            part = part[np.lexsort((-target_lengths[part], -bucket))]
        batches.extend(part[i:i + batch_size] for i in range(0, len(part), batch_size))
    shuffle = rng.permutation(len(batches))
    return [batches[i] for i in shuffle]


def split_batches(batches: list[np.ndarray], parts: int) -> list[np.ndarray]:
    """Each batch cut into `parts` consecutive micro-batches (the auto-OOM halving keeps the
    exact data order and the same samples per optimizer step)."""
    if parts == 1:
        return batches
    out = []
    for b in batches:
        out.extend(np.array_split(b, parts))
    return out


def _round_up(n: int, multiple: int, cap: int) -> int:
    return min(cap, ((n + multiple - 1) // multiple) * multiple) if n else multiple


@dataclass
class Collator:
    """Pads a batch: source to a multiple of pad_source (mask 0), labels to a multiple of
    pad_target with −100; decoder inputs are labels shifted right behind [CLS]."""

    pad_id: int
    decoder_start_id: int
    max_source_len: int
    max_target_len: int
    pad_source: int = 64
    pad_target: int = 16

    def __call__(self, data: PairData, rows: np.ndarray) -> dict[str, np.ndarray]:
        src = [data.source.row(i)[: self.max_source_len] for i in rows]
        tgt = [data.target.row(i)[: self.max_target_len] for i in rows]
        s_len = _round_up(max(len(x) for x in src), self.pad_source, self.max_source_len)
        t_len = _round_up(max(len(x) for x in tgt), self.pad_target, self.max_target_len)
        n = len(rows)
        input_ids = np.full((n, s_len), self.pad_id, dtype=np.int64)
        mask = np.zeros((n, s_len), dtype=np.int64)
        labels = np.full((n, t_len), IGNORE_INDEX, dtype=np.int64)
        dec_in = np.full((n, t_len), self.pad_id, dtype=np.int64)
        dec_in[:, 0] = self.decoder_start_id
        for j, (s, t) in enumerate(zip(src, tgt, strict=True)):
            input_ids[j, : len(s)] = s
            mask[j, : len(s)] = 1
            labels[j, : len(t)] = t
            # Shift right: [CLS] t0 t1 ... ; the last label never becomes an input.
            k = min(len(t), t_len - 1)
            dec_in[j, 1 : k + 1] = t[:k]
        return {
            "input_ids": input_ids,
            "attention_mask": mask,
            "decoder_input_ids": dec_in,
            "labels": labels,
            "n_src_tokens": np.int64(sum(len(x) for x in src)),
            "n_tgt_tokens": np.int64(sum(len(x) for x in tgt)),
        }


class Prefetcher:
    """Collates the next micro-batches on a background thread into (pinned) torch tensors."""

    def __init__(
        self,
        data: PairData,
        batches: list[np.ndarray],
        collate: Collator,
        pin: bool,
        depth: int = 4,
    ) -> None:
        self._q: queue.Queue[Any] = queue.Queue(maxsize=depth)
        self._stop = threading.Event()
        self._thread = threading.Thread(
            target=self._work, args=(data, batches, collate, pin), daemon=True, name="prefetch"
        )
        self._thread.start()

    def _work(self, data: PairData, batches: list[np.ndarray], collate: Collator, pin: bool) -> None:
        import torch

        try:
            for rows in batches:
                if self._stop.is_set():
                    return
                arrays = collate(data, rows)
                out = {}
                for k, v in arrays.items():
                    t = torch.from_numpy(np.asarray(v))
                    out[k] = t.pin_memory() if pin and t.dim() > 0 else t
                self._put(out)
        except BaseException as exc:  # surfaced to the consumer, never swallowed
            self._put(exc)
            return
        self._put(None)

    def _put(self, item: Any) -> None:
        # Bounded wait so close() never leaves the thread blocked on a full queue.
        while not self._stop.is_set():
            try:
                self._q.put(item, timeout=0.1)
                return
            except queue.Full:
                continue

    def __iter__(self) -> Iterator[dict[str, Any]]:
        while True:
            item = self._q.get()
            if item is None:
                return
            if isinstance(item, BaseException):
                raise item
            yield item

    def close(self) -> None:
        self._stop.set()
        while not self._q.empty():
            try:
                self._q.get_nowait()
            except queue.Empty:
                break
