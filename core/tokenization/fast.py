"""Fast exact batch encoding: MeCab -Owakati + cached greedy WordPiece, one Tagger per worker process.

Gives the same ids as BertJapaneseTokenizer for the same folder: NFKC before MeCab, the
tokenizer's lower-casing, literal special tokens kept whole, [UNK] for words over
`max_input_chars_per_word`, and truncation that keeps [CLS]/[SEP] inside `max_length`.
"""

from __future__ import annotations

import hashlib
import json
import multiprocessing
import os
import re
import tempfile
import unicodedata
from array import array
from collections.abc import Callable, Sequence
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import asdict, dataclass
from itertools import chain
from pathlib import Path
from typing import Any, Literal

from core.tokenization.dictionary import dictionary_info, open_tagger
from core.tokenization.errors import TokenizationFailed
from core.tokenization.guard import MECAB_MAX_CHARS, RUN_MAX_CHARS, bounded_prefix, mecab_pieces

Kind = Literal["source", "target", "pieces"]
ProgressFn = Callable[[int, int], None]
ALGORITHM_VERSION = 2  # bump when encoding output could change, to invalidate caches (2: MeCab guard)
CACHE_LIMIT = 500_000  # distinct words remembered per process
PARALLEL_MIN = 2_000  # below this many texts, worker start-up costs more than it saves


@dataclass(frozen=True)
class EncoderSpec:
    """Everything that decides the ids; picklable, so it travels to worker processes.

    vocab: pieces in id order, read exactly like transformers' load_vocab.
    added: (token, id) of added/special tokens, matched literally in the raw text.
    dictionary: MeCab dictionary key (None: system MeCab configuration).
    mecab_option: extra MeCab options from mecab_kwargs.
    normalize_text: NFKC before MeCab (MecabTokenizer's default True).
    do_lower_case: lower-case each word unless it is a special token.
    subword: "wordpiece" or "character".
    unk_token, cls_token, sep_token: the special tokens by name.
    max_input_chars_per_word: longer words become [UNK] (WordpieceTokenizer's 100).
    """

    vocab: tuple[str, ...]
    added: tuple[tuple[str, int], ...]
    dictionary: str | None
    mecab_option: str
    normalize_text: bool
    do_lower_case: bool
    subword: str
    unk_token: str = "[UNK]"
    cls_token: str = "[CLS]"
    sep_token: str = "[SEP]"
    max_input_chars_per_word: int = 100

    def key(self) -> str:
        """Hash of the settings, vocabulary and dictionary version: the cache key part."""
        fields = asdict(self)
        fields["vocab"] = hashlib.sha256("\n".join(self.vocab).encode()).hexdigest()
        fields["dictionary_version"] = dictionary_info(self.dictionary).version if self.dictionary else ""
        fields["algorithm"] = ALGORITHM_VERSION
        return hashlib.sha256(json.dumps(fields, sort_keys=True).encode()).hexdigest()[:16]


def read_vocab(vocab_file: Path) -> tuple[str, ...]:
    """Pieces in id order, with transformers' quirks: universal newlines, only "\\n" stripped."""
    with open(vocab_file, encoding="utf-8") as reader:
        return tuple(line.rstrip("\n") for line in reader.readlines())


def _token_content(value: Any, default: str) -> str:
    if isinstance(value, dict):
        return str(value.get("content", default))
    return str(value) if value else default


def spec_from_dir(directory: str | Path, dictionary: str | None, config: dict[str, Any] | None = None) -> EncoderSpec:
    """Spec for a tokenizer folder loaded with `dictionary` (as `load_tokenizer` chose it)."""
    directory = Path(directory)
    if config is None:
        config_file = directory / "tokenizer_config.json"
        config = json.loads(config_file.read_text(encoding="utf-8")) if config_file.is_file() else {}
    if config.get("word_tokenizer_type", "basic") != "mecab":
        raise ValueError(f"{directory}: the fast path needs a MeCab tokenizer (word_tokenizer_type=mecab)")
    subword = str(config.get("subword_tokenizer_type", "wordpiece"))
    if subword not in ("wordpiece", "character"):
        raise ValueError(f"{directory}: subword_tokenizer_type {subword!r} is not supported by the fast path")
    vocab = read_vocab(directory / "vocab.txt")
    index = {piece: i for i, piece in enumerate(vocab)}  # later duplicates win, like load_vocab
    names = {
        key: _token_content(config.get(key), default)
        for key, default in (
            ("unk_token", "[UNK]"), ("sep_token", "[SEP]"), ("pad_token", "[PAD]"),
            ("cls_token", "[CLS]"), ("mask_token", "[MASK]"),
        )
    }
    added: dict[str, int] = {}
    for id_str, entry in (config.get("added_tokens_decoder") or {}).items():
        added[_token_content(entry, "")] = int(id_str)
    next_id = len(vocab)
    for token in [*names.values(), *[_token_content(t, "") for t in config.get("additional_special_tokens") or []]]:
        if token and token not in added:
            if token in index:
                added[token] = index[token]
            else:
                added[token] = next_id
                next_id += 1
    mecab_kwargs = config.get("mecab_kwargs") or {}
    return EncoderSpec(
        vocab=vocab,
        added=tuple(sorted(added.items(), key=lambda kv: kv[1])),
        dictionary=dictionary,
        mecab_option=str(mecab_kwargs.get("mecab_option") or ""),
        normalize_text=bool(mecab_kwargs.get("normalize_text", True)),
        do_lower_case=bool(config.get("do_lower_case", False)),
        subword=subword,
        unk_token=names["unk_token"],
        cls_token=names["cls_token"],
        sep_token=names["sep_token"],
    )


class _WordCache(dict[str, tuple[int, ...]]):
    """word → piece ids, computed on first sight; bounded so odd corpora cannot eat memory."""

    def __init__(self, compute: Callable[[str], tuple[int, ...]]) -> None:
        super().__init__()
        self.compute = compute

    def __missing__(self, word: str) -> tuple[int, ...]:
        ids = self.compute(word)
        if len(self) < CACHE_LIMIT:
            self[word] = ids
        return ids


class FastEncoder:
    """Encodes texts in this process; holds one MeCab Tagger and a word → ids cache."""

    def __init__(self, spec: EncoderSpec) -> None:
        self.spec = spec
        self.vocab = {piece: i for i, piece in enumerate(spec.vocab)}
        self.added = dict(spec.added)
        self.specials = frozenset(self.added)
        self.unk_id = self._piece_id(spec.unk_token)
        self.cls_id = self._piece_id(spec.cls_token)
        self.sep_id = self._piece_id(spec.sep_token)
        self.wakati = spec.subword == "wordpiece"
        self.tagger = open_tagger(spec.dictionary, spec.mecab_option, wakati=self.wakati)
        self.cache = _WordCache(self._wordpiece)
        # Longest first, so one special token that prefixes another cannot shadow it.
        ordered = sorted(self.added, key=len, reverse=True)
        self.special_re = re.compile("|".join(re.escape(t) for t in ordered)) if ordered else None

    def _piece_id(self, piece: str) -> int:
        found = self.added.get(piece)
        if found is not None:
            return found
        return self.vocab.get(piece, self.vocab.get(self.spec.unk_token, 0))

    def _wordpiece(self, word: str) -> tuple[int, ...]:
        # Greedy longest-match-first, exactly as transformers' WordpieceTokenizer.
        if len(word) > self.spec.max_input_chars_per_word:
            return (self.unk_id,)
        vocab = self.vocab
        ids: list[int] = []
        start, n = 0, len(word)
        while start < n:
            end = n
            found: str | None = None
            while start < end:
                sub = word[start:end] if start == 0 else "##" + word[start:end]
                if sub in vocab:
                    found = sub
                    break
                end -= 1
            if found is None:
                return (self.unk_id,)
            ids.append(self._piece_id(found))
            start = end
        return tuple(ids)

    def _words(self, segment: str) -> list[str]:
        if self.spec.normalize_text and not unicodedata.is_normalized("NFKC", segment):
            segment = unicodedata.normalize("NFKC", segment)
        # A huge segment goes to MeCab in pieces (one parse of it would crash the process).
        if self.wakati:
            # Splitting the space-joined surfaces equals splitting each surface on whitespace,
            # which is what WordpieceTokenizer does to every MeCab word.
            if len(segment) <= RUN_MAX_CHARS:
                words = self.tagger.parse(segment).split()
            else:
                words = [w for piece in mecab_pieces(segment) for w in self.tagger.parse(piece).split()]
        else:
            words = [node.surface for piece in mecab_pieces(segment) for node in self.tagger(piece)]
        if self.spec.do_lower_case:
            words = [w if w in self.specials else w.lower() for w in words]
        return words

    def _segment_ids(self, segment: str, out: list[int]) -> None:
        if self.wakati:
            # C-level iteration over the per-word cache; misses go through _WordCache.__missing__.
            out.extend(chain.from_iterable(map(self.cache.__getitem__, self._words(segment))))
            return
        for word in self._words(segment):
            for ch in unicodedata.normalize("NFKC", word):
                out.append(self._piece_id(ch) if ch in self.vocab else self.unk_id)

    def piece_ids(self, text: str) -> list[int]:
        """Ids of `text` without [CLS]/[SEP] and without truncation."""
        out: list[int] = []
        if self.special_re is None or not self.special_re.search(text):
            self._segment_ids(text, out)
            return out
        pos = 0
        for match in self.special_re.finditer(text):
            if match.start() > pos:
                self._segment_ids(text[pos : match.start()], out)
            out.append(self.added[match.group()])
            pos = match.end()
        if pos < len(text):
            self._segment_ids(text[pos:], out)
        return out

    def encode(self, text: str, kind: Kind, max_length: int | None) -> list[int]:
        """source: [CLS] pieces [SEP] ≤ max_length; target: pieces [SEP] ≤ max_length; pieces: raw.

        With max_length, only the prefix the model can use is tokenized (core.tokenization.guard)."""
        ids = self.piece_ids(text) if max_length is None else \
            bounded_prefix(text, max_length, self.piece_ids, ceiling=MECAB_MAX_CHARS)[1]
        if kind == "pieces":
            return ids[:max_length] if max_length else ids
        if kind == "source":
            body = ids[: max(max_length - 2, 0)] if max_length else ids
            return [self.cls_id, *body, self.sep_id]
        body = ids[: max(max_length - 1, 0)] if max_length else ids
        return [*body, self.sep_id]


# ---- worker processes -------------------------------------------------------------------

_WORKER: FastEncoder | None = None
_LOCAL: dict[str, FastEncoder] = {}


def _init_worker(spec: EncoderSpec) -> None:
    global _WORKER
    _WORKER = FastEncoder(spec)


def _encode_chunk(job: tuple[int, Sequence[str], Kind, int | None]) -> tuple[int, bytes, bytes]:
    index, texts, kind, max_length = job
    assert _WORKER is not None
    flat, lengths = array("q"), array("q")
    for text in texts:
        ids = _WORKER.encode(text, kind, max_length)
        flat.extend(ids)
        lengths.append(len(ids))
    # Raw bytes pickle far faster than nested lists of ints.
    return index, flat.tobytes(), lengths.tobytes()


def _encode_chunk_to_file(job: tuple[int, Sequence[str], Kind, int | None, str]) -> tuple[int, str]:
    """_encode_chunk in a pool worker; the ids go to a file and only its name to the parent.

    A worker killed while writing a large result to the executor's pipe leaves half a message
    there, and the executor's reader then blocks forever (CPython's ProcessPoolExecutor reads
    whole messages); a short message is written in one atomic pipe write, so a killed worker
    is always seen as dead and the pool reports it broken.
    """
    index, texts, kind, max_length, folder = job
    _, flat, lengths = _encode_chunk((index, texts, kind, max_length))
    path = os.path.join(folder, f"{index}.bin")
    with open(path, "wb") as fh:
        fh.write(len(flat).to_bytes(8, "little"))
        fh.write(flat)
        fh.write(lengths)
    return index, path


def _read_chunk_file(path: str) -> tuple[bytes, bytes]:
    with open(path, "rb") as fh:
        blob = fh.read()
    os.remove(path)
    n = int.from_bytes(blob[:8], "little")
    return blob[8 : 8 + n], blob[8 + n :]


def local_encoder(spec: EncoderSpec) -> FastEncoder:
    """This process's encoder for `spec` (created once; Taggers cannot be shared or pickled)."""
    key = spec.key()
    if key not in _LOCAL:
        _LOCAL[key] = FastEncoder(spec)
    return _LOCAL[key]


def default_procs() -> int:
    """Worker processes: one per CPU this process may use."""
    try:
        return max(len(os.sched_getaffinity(0)), 1)
    except AttributeError:  # not on Linux
        return max(os.cpu_count() or 1, 1)


def encode_many(
    spec: EncoderSpec,
    texts: Sequence[str],
    kind: Kind,
    max_length: int | None,
    num_proc: int | None = None,
    progress: ProgressFn | None = None,
    chunk_size: int = 500,
) -> tuple[array, array]:
    """Encode `texts` in order → (flat int64 ids, int64 length per text)."""
    total = len(texts)
    procs = default_procs() if num_proc is None else max(num_proc, 1)
    chunks = [(i, texts[s : s + chunk_size], kind, max_length) for i, s in enumerate(range(0, total, chunk_size))]
    flat, lengths = array("q"), array("q")
    done = 0
    if procs == 1 or total < PARALLEL_MIN:
        global _WORKER
        _WORKER = local_encoder(spec)
        for job in chunks:
            _, f, ln = _encode_chunk(job)
            flat.frombytes(f)
            lengths.frombytes(ln)
            done += len(job[1])
            if progress is not None:
                progress(done, total)
        return flat, lengths
    # spawn, not fork: callers (the TUI) have threads, and a forked Tagger is not safe to share.
    # An executor, not multiprocessing.Pool: when a worker dies (OOM killer, a crash inside
    # MeCab, kill -9) Pool.imap waits forever, while the executor fails every pending chunk.
    ctx = multiprocessing.get_context("spawn")
    try:
        with tempfile.TemporaryDirectory(prefix="narou-tokenize-") as folder, \
                ProcessPoolExecutor(procs, mp_context=ctx, initializer=_init_worker, initargs=(spec,)) as pool:
            for _, path in pool.map(_encode_chunk_to_file, [(*job, folder) for job in chunks]):
                f, ln = _read_chunk_file(path)
                flat.frombytes(f)
                lengths.frombytes(ln)
                done += len(ln) // 8
                if progress is not None:
                    progress(done, total)
    except BrokenProcessPool as exc:
        raise TokenizationFailed(
            f"a tokenization worker process died after {done} of {total} texts (killed, out of "
            "memory, or crashed); nothing was kept — run again, or with one worker to see the error"
        ) from exc
    return flat, lengths


def split_flat(flat: array, lengths: array) -> list[list[int]]:
    """Nested lists from encode_many's flat form (for small outputs such as the CLI)."""
    out, pos = [], 0
    for n in lengths:
        out.append(flat[pos : pos + n].tolist())
        pos += n
    return out
