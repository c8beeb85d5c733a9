"""Train a WordPiece vocabulary from scratch (MeCab pre-split) and save it as a BertJapaneseTokenizer folder."""

from __future__ import annotations

import json
import time
import unicodedata
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path

from core.tokenization.dictionary import dictionary_info, open_tagger
from core.tokenization.guard import mecab_pieces

# Same order as tohoku-nlp/bert-base-japanese-v3's vocab.txt: [PAD]=0 [UNK]=1 [CLS]=2 [SEP]=3 [MASK]=4.
SPECIAL_TOKENS = ("[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]")
TRAINING_META = "narou_tokenizer.json"

ProgressFn = Callable[[int, int], None]


def tokenizer_config(dictionary: str = "unidic_lite", max_length: int = 512) -> dict[str, object]:
    """tokenizer_config.json of a scratch vocabulary, laid out like tohoku-nlp v3's."""
    return {
        "tokenizer_class": "BertJapaneseTokenizer",
        "model_max_length": max_length,
        "do_lower_case": False,
        "word_tokenizer_type": "mecab",
        "subword_tokenizer_type": "wordpiece",
        "mecab_kwargs": {"mecab_dic": dictionary},
    }


def run_dir_holding(path: Path, checkpoints_dir: Path | None = None) -> Path | None:
    """The run directory (or the checkpoints folder) that `path` is or lies inside, if any:
    those hold a job's files, and a vocabulary written there would replace its tokenizer."""
    from core.runs.schema import CHECKPOINT_PREFIX, COMPLETE_MARKER, METRICS_FILE, STATUS_FILE

    target = path.resolve()
    root = checkpoints_dir.resolve() if checkpoints_dir is not None else None
    for p in (target, *target.parents):
        if root is not None and p == root:
            return p
        if not p.is_dir():
            continue
        step = p.name[len(CHECKPOINT_PREFIX):] if p.name.startswith(CHECKPOINT_PREFIX) else ""
        if (step.isdigit() or any((p / f).exists() for f in (STATUS_FILE, METRICS_FILE))
                or (p / COMPLETE_MARKER).exists() and (p / "config.json").exists()):
            return p
    return None


def check_out_dir(out: Path, checkpoints_dir: Path | None = None, force: bool = False) -> None:
    """Refuse an output folder for a new vocabulary that would damage what is there: anything
    inside a run directory or the checkpoints folder (always), a non-empty folder (unless
    `force`), a file. Raises ValueError naming the folder."""
    holder = run_dir_holding(out, checkpoints_dir)
    if holder is not None:
        what = "the checkpoints folder" if checkpoints_dir is not None and holder == checkpoints_dir.resolve() \
            else "run directory"
        raise ValueError(f"{out} is inside {what} {holder}; a vocabulary is never written there "
                         "(give a folder elsewhere)")
    if out.exists() and not out.is_dir():
        raise ValueError(f"{out} exists and is not a folder")
    if out.is_dir() and not force and any(out.iterdir()):
        raise ValueError(f"{out} is not empty; give an empty or new folder, or --force to replace "
                         "its vocab.txt and tokenizer_config.json")


def _usable(piece: str) -> bool:
    # vocab.txt is read line by line with universal newlines, and BertJapaneseTokenizer splits
    # words on str.isspace(): a piece holding such a character could never be matched.
    return bool(piece) and not any(ch.isspace() for ch in piece)


def train_wordpiece(
    texts: Iterable[str],
    vocab_size: int,
    out_dir: str | Path,
    *,
    dictionary: str = "unidic_lite",
    min_frequency: int = 1,
    progress: ProgressFn | None = None,
    total: int | None = None,
) -> Path:
    """Train a WordPiece vocab of at most `vocab_size` pieces on NFKC + MeCab-split `texts`.

    The folder gets `vocab.txt`, `tokenizer_config.json` and `narou_tokenizer.json` (how it was
    made) and loads through `load_tokenizer(out_dir)` exactly like a hub model.
    """
    from tokenizers import Tokenizer, models, pre_tokenizers, trainers

    if vocab_size < len(SPECIAL_TOKENS) + 1:
        raise ValueError(f"vocab_size must be at least {len(SPECIAL_TOKENS) + 1}, got {vocab_size}")
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    tagger = open_tagger(dictionary, wakati=True)
    seen = 0
    started = time.monotonic()

    def split_texts() -> Iterator[str]:
        nonlocal seen
        for text in texts:
            seen += 1
            if progress is not None and seen % 1000 == 0:
                progress(seen, total or 0)
            # Same normalisation BertJapaneseTokenizer's MecabTokenizer applies before MeCab.
            # In pieces: one MeCab parse of a huge text crashes the process.
            yield " ".join(tagger.parse(piece) for piece in mecab_pieces(unicodedata.normalize("NFKC", text)))

    tok = Tokenizer(models.WordPiece(unk_token="[UNK]", continuing_subword_prefix="##"))
    tok.pre_tokenizer = pre_tokenizers.WhitespaceSplit()
    trainer = trainers.WordPieceTrainer(
        vocab_size=vocab_size,
        min_frequency=min_frequency,
        special_tokens=list(SPECIAL_TOKENS),
        continuing_subword_prefix="##",
        # Japanese has thousands of characters: cap the alphabet (most frequent kept) so a small
        # vocabulary still has room for whole words; the rest become [UNK] as in any BERT vocab.
        limit_alphabet=max(vocab_size // 3, 50),
        show_progress=False,
    )
    tok.train_from_iterator(split_texts(), trainer=trainer)
    vocab = tok.get_vocab()
    ordered = [piece for piece, _ in sorted(vocab.items(), key=lambda kv: kv[1])]
    assert tuple(ordered[: len(SPECIAL_TOKENS)]) == SPECIAL_TOKENS, ordered[:8]
    pieces = [p for p in ordered if _usable(p)][:vocab_size]
    (out / "vocab.txt").write_text("".join(p + "\n" for p in pieces), encoding="utf-8")
    (out / "tokenizer_config.json").write_text(
        json.dumps(tokenizer_config(dictionary), ensure_ascii=False, indent=2) + "\n", encoding="utf-8"
    )
    dinfo = dictionary_info(dictionary)
    meta = {
        "kind": "scratch-wordpiece",
        "texts": seen,
        "requested_vocab_size": vocab_size,
        "vocab_size": len(pieces),
        "dictionary": dictionary,
        "dictionary_version": dinfo.version,
        "min_frequency": min_frequency,
        "seconds": round(time.monotonic() - started, 2),
    }
    (out / TRAINING_META).write_text(json.dumps(meta, indent=2) + "\n", encoding="utf-8")
    if progress is not None:
        progress(seen, total or seen)
    return out
