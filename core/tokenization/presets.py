"""Known Japanese BERT tokenizers and how each one must be loaded (dictionary, vocab size)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

DEFAULT_PRESET = "tohoku-nlp/bert-base-japanese-v3"
V1_VOCAB_SIZE = 32000  # cl-tohoku/bert-base-japanese (IPA dictionary) shipped 32000 pieces


@dataclass(frozen=True)
class Preset:
    """A hub tokenizer we know the settings of.

    hub_id: the Hugging Face model id.
    dictionary: MeCab dictionary it was trained with (transformers key).
    subword: "wordpiece" or "character".
    vocab_size: pieces in its vocab.txt.
    note: one line shown in the UI.
    """

    hub_id: str
    dictionary: str
    subword: str
    vocab_size: int
    note: str


PRESETS: dict[str, Preset] = {
    p.hub_id: p
    for p in (
        Preset("tohoku-nlp/bert-base-japanese-v3", "unidic_lite", "wordpiece", 32768,
               "default: MeCab + unidic-lite, WordPiece 32768"),
        Preset("tohoku-nlp/bert-base-japanese-v2", "unidic_lite", "wordpiece", 32768,
               "MeCab + unidic-lite, WordPiece 32768 (Wikipedia only)"),
        Preset("tohoku-nlp/bert-base-japanese-char-v3", "unidic_lite", "character", 7027,
               "MeCab + unidic-lite, one piece per character"),
        Preset("tohoku-nlp/bert-base-japanese-char-v2", "unidic_lite", "character", 6144,
               "MeCab + unidic-lite, one piece per character (Wikipedia only)"),
        Preset("cl-tohoku/bert-base-japanese", "ipadic", "wordpiece", V1_VOCAB_SIZE,
               "v1: MeCab + IPA dictionary, WordPiece 32000 (needs the ipadic package)"),
    )
}
# The organisation was renamed; the old names still resolve on the hub.
for _p in list(PRESETS.values()):
    if _p.hub_id.startswith("tohoku-nlp/"):
        PRESETS.setdefault(_p.hub_id.replace("tohoku-nlp/", "cl-tohoku/"), _p)


@dataclass(frozen=True)
class DirSettings:
    """What a tokenizer directory's files say about how it must be loaded.

    dictionary: the MeCab dictionary to load it with (None: not a MeCab tokenizer).
    dictionary_source: "config" (named in tokenizer_config.json), "v1-guess" (config names none
        and the vocab has 32000 pieces, like cl-tohoku v1), "default" (none named; transformers'
        default unidic_lite), or "preset".
    word_tokenizer: word_tokenizer_type ("mecab", "basic", ...).
    subword: subword_tokenizer_type.
    vocab_size: lines in vocab.txt (0 when absent).
    config: the raw tokenizer_config.json contents ({} when absent).
    """

    dictionary: str | None
    dictionary_source: str
    word_tokenizer: str
    subword: str
    vocab_size: int
    config: dict[str, Any]


def count_vocab(vocab_file: Path) -> int:
    """Number of pieces (lines) in a vocab.txt."""
    with vocab_file.open("rb") as fh:
        return sum(1 for _ in fh)


def read_dir_settings(directory: Path, preset: Preset | None = None) -> DirSettings:
    """Decide the dictionary for a tokenizer directory from its config, vocab size or preset."""
    config_file = directory / "tokenizer_config.json"
    config: dict[str, Any] = {}
    if config_file.is_file():
        config = json.loads(config_file.read_text(encoding="utf-8"))
    vocab_file = directory / "vocab.txt"
    vocab_size = count_vocab(vocab_file) if vocab_file.is_file() else 0
    # BertJapaneseTokenizer's own defaults apply to keys the config leaves out.
    word = str(config.get("word_tokenizer_type", "basic"))
    subword = str(config.get("subword_tokenizer_type", "wordpiece"))
    if word != "mecab":
        return DirSettings(None, "config", word, subword, vocab_size, config)
    mecab_kwargs = config.get("mecab_kwargs") or {}
    if "mecab_dic" in mecab_kwargs:
        dic = mecab_kwargs["mecab_dic"]
        return DirSettings(dic, "config", word, subword, vocab_size, config)
    if preset is not None:
        return DirSettings(preset.dictionary, "preset", word, subword, vocab_size, config)
    if vocab_size == V1_VOCAB_SIZE:
        return DirSettings("ipadic", "v1-guess", word, subword, vocab_size, config)
    return DirSettings("unidic_lite", "default", word, subword, vocab_size, config)
