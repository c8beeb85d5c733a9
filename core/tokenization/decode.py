"""Turn generated ids back into a title: no spaces between Japanese pieces, spaces kept between Latin words."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

# Blocks written without spaces between words: CJK radicals..CJK ideographs (incl. kana),
# compatibility ideographs, half/full-width forms, and the supplementary ideograph planes.
_UNSPACED_RANGES = ((0x2E80, 0x9FFF), (0xF900, 0xFAFF), (0xFF00, 0xFFEF), (0x20000, 0x3FFFF))


def is_spaced_char(ch: str) -> bool:
    """True for letters/digits of scripts that separate words by spaces (Latin, Greek, digits...)."""
    if not ch.isalnum():
        return False
    code = ord(ch)
    return not any(lo <= code <= hi for lo, hi in _UNSPACED_RANGES)


def join_pieces(pieces: Iterable[str]) -> str:
    """Join WordPiece pieces: `##x` glues to its word; a space only between two Latin/digit words."""
    out: list[str] = []
    for piece in pieces:
        if piece.startswith("##") and len(piece) > 2:
            out.append(piece[2:])
            continue
        if out and out[-1] and piece and is_spaced_char(out[-1][-1]) and is_spaced_char(piece[0]):
            out.append(" ")
        out.append(piece)
    return "".join(out)


def decode_title(tokenizer: Any, ids: Iterable[int]) -> str:
    """Decode generated or label ids into a title; special tokens and -100 padding are dropped."""
    special = set(tokenizer.all_special_ids)
    kept = [int(i) for i in ids if int(i) >= 0 and int(i) not in special]
    return join_pieces(tokenizer.convert_ids_to_tokens(kept))
