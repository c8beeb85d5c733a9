"""What a text becomes, layer by layer: MeCab morphemes, WordPiece pieces, ids, [UNK]s, truncation."""

from __future__ import annotations

import threading
import unicodedata
from dataclasses import dataclass, field
from typing import Any

from core.tokenization.dictionary import open_tagger
from core.tokenization.guard import mecab_pieces

# Feature positions differ by dictionary: UniDic (unidic-lite, 26 fields) vs IPAdic (9 fields).
_FIELDS = {
    "unidic_lite": {"lemma": 7, "reading": 17},
    "unidic": {"lemma": 7, "reading": 17},
    "ipadic": {"lemma": 6, "reading": 7},
}
_local = threading.local()


@dataclass(frozen=True)
class Morpheme:
    """One MeCab node: surface, part of speech (non-* levels joined by -), lemma, reading."""

    surface: str
    pos: str
    lemma: str
    reading: str
    known: bool


def _tagger(dictionary: str | None) -> Any:
    # MeCab Taggers are not thread-safe: one per thread and dictionary.
    taggers = getattr(_local, "taggers", None)
    if taggers is None:
        taggers = _local.taggers = {}
    if dictionary not in taggers:
        taggers[dictionary] = open_tagger(dictionary)
    return taggers[dictionary]


def morphemes(text: str, dictionary: str | None = "unidic_lite", normalize: bool = True) -> list[Morpheme]:
    """MeCab analysis of `text` as BertJapaneseTokenizer sees it (NFKC first by default)."""
    if normalize:
        text = unicodedata.normalize("NFKC", text)
    where = _FIELDS.get(dictionary or "", {"lemma": 6, "reading": 7})
    out = []
    tagger = _tagger(dictionary)
    for node in (n for piece in mecab_pieces(text) for n in tagger(piece)):
        feats = list(node.feature)

        def pick(i: int, feats: list[str] = feats) -> str:
            value = feats[i] if i < len(feats) else ""
            return "" if value == "*" else value

        pos = "-".join(f for f in feats[:4] if f and f != "*")
        out.append(Morpheme(node.surface, pos, pick(where["lemma"]), pick(where["reading"]), not node.is_unk))
    return out


def segment(text: str, dictionary: str | None) -> list[str]:
    """Surfaces only (for side-by-side dictionary comparison)."""
    return [m.surface for m in morphemes(text, dictionary)]


@dataclass
class Breakdown:
    """One text through a loaded tokenizer.

    pieces/ids: the full WordPiece sequence with [CLS]/[SEP] (untruncated).
    word_of_piece: index of the MeCab word each piece came from (-1 for specials).
    unk_words: surfaces that became [UNK].
    cut: index in `ids` of the first id dropped by truncation at max_length (None: fits).
    """

    text: str
    morphemes: list[Morpheme]
    pieces: list[str]
    ids: list[int]
    word_of_piece: list[int]
    unk_words: list[str] = field(default_factory=list)
    max_length: int | None = None
    cut: int | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "text": self.text,
            "morphemes": [m.__dict__ for m in self.morphemes],
            "pieces": self.pieces,
            "ids": self.ids,
            "unk": self.unk_words,
            "max_length": self.max_length,
            "truncated_at": self.cut,
            "length": len(self.ids),
        }


def breakdown(tokenizer: Any, text: str, max_length: int | None = None, as_target: bool = False) -> Breakdown:
    """Morphemes, pieces and ids of `text` under `tokenizer` (a BertJapaneseTokenizer).

    as_target: lay out like a label (pieces + [SEP], no [CLS]) instead of an encoder input.
    """
    mecab_kwargs = getattr(tokenizer, "mecab_kwargs", None) or {}
    dic = mecab_kwargs.get("mecab_dic", "unidic_lite")
    morphs = morphemes(text, dic, normalize=mecab_kwargs.get("normalize_text", True))
    pieces: list[str] = [] if as_target else [tokenizer.cls_token]
    owner: list[int] = [] if as_target else [-1]
    unk_words: list[str] = []
    for w, m in enumerate(morphs):
        surface = m.surface.lower() if getattr(tokenizer, "do_lower_case", False) else m.surface
        if not surface.strip():
            continue
        sub = tokenizer.subword_tokenizer.tokenize(surface)
        if tokenizer.unk_token in sub:
            unk_words.append(m.surface)
        pieces.extend(sub)
        owner.extend([w] * len(sub))
    pieces.append(tokenizer.sep_token)
    owner.append(-1)
    ids = tokenizer.convert_tokens_to_ids(pieces)
    cut = None
    if max_length is not None and len(ids) > max_length:
        cut = max_length - 1  # the last slot is taken by [SEP] after truncation
    return Breakdown(text, morphs, pieces, ids, owner, unk_words, max_length, cut)
