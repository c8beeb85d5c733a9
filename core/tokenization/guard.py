"""Keep over-long texts away from MeCab, which crashes the process (SIGSEGV) on them.

Measured here (fugashi 1.5.2, unidic-lite): one parse of 600,000 characters of short ASCII
words ("a a a ...") or of 1,000,000 characters of Japanese prose dies with signal 11;
300,000 and 800,000 respectively still pass. Two guards:

* `mecab_pieces` cuts what one MeCab call receives to MECAB_MAX_CHARS, at a line or sentence
  end when there is one, so no input can crash a parse. It also cuts every stretch of more
  than RUN_MAX_CHARS without a space or punctuation mark: MeCab groups a run of one character
  class (Latin letters, katakana, digits) into one unknown word in quadratic time (40,000
  "x" take 19 s here, 600,000 over 100 s), so one such run would hang a job;
* `bounded_prefix` hands the tokenizer only as much of a text as the model can ever read:
  a prefix of `char_budget(max_length)` characters, grown until it yields `TOKEN_MARGIN`
  tokens more than `max_length`. Far from the cut MeCab's segmentation does not depend on
  it, so the first max_length ids are the same as for the whole text.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sized
from typing import TypeVar

from core.mecab_limit import MECAB_MAX_CHARS

# Real synopses average 1.41 characters per token; 8 leaves room for Latin text and spaces.
CHARS_PER_TOKEN = 8
# Tokens past max_length that a prefix must yield, so the cut never touches what the model sees.
TOKEN_MARGIN = 64
# Where a long text may be split between MeCab calls (most preferred first).
_BREAKS = ("\n", "。", "．", "！", "？", "!", "?", " ", "　", "、")
# Longest stretch without any of _BREAKS handed to MeCab whole: far longer than any word (a
# WordPiece word over 100 characters is [UNK] anyway), short enough to parse in milliseconds.
RUN_MAX_CHARS = 1000
_LONG_RUN = re.compile(f"[^{re.escape(''.join(_BREAKS))}]{{{RUN_MAX_CHARS + 1},}}")

T = TypeVar("T", bound=Sized)


def char_budget(max_length: int) -> int:
    """First prefix length tried for a model input of `max_length` tokens."""
    return max(1024, max_length * CHARS_PER_TOKEN)


def mecab_pieces(text: str, limit: int = MECAB_MAX_CHARS) -> list[str]:
    """`text` in consecutive pieces that MeCab parses safely and fast: at most `limit`
    characters, cut just after a line or sentence end (else a space or comma), and no stretch
    without those longer than RUN_MAX_CHARS; [text] when it is already such a piece."""
    if len(text) <= RUN_MAX_CHARS:
        return [text]
    runs = list(_LONG_RUN.finditer(text))
    if not runs:
        return _window_pieces(text, limit)
    out, start = [], 0
    for m in runs:
        if m.start() > start:
            out += _window_pieces(text[start:m.start()], limit)
        out += [text[i:i + RUN_MAX_CHARS] for i in range(m.start(), m.end(), RUN_MAX_CHARS)]
        start = m.end()
    if start < len(text):
        out += _window_pieces(text[start:], limit)
    return out


def _window_pieces(text: str, limit: int) -> list[str]:
    if len(text) <= limit:
        return [text]
    out, start = [], 0
    while len(text) - start > limit:
        window_end = start + limit
        cut = -1
        for mark in _BREAKS:
            cut = text.rfind(mark, start + limit // 2, window_end)
            if cut >= 0:
                cut += 1
                break
        if cut < 0:
            cut = window_end
        out.append(text[start:cut])
        start = cut
    out.append(text[start:])
    return out


def bounded_prefix(text: str, max_length: int | None, encode: Callable[[str], T],
                   ceiling: int | None = None) -> tuple[str, T]:
    """(prefix, encode(prefix)) where the prefix is all the model can use of `text`.

    The whole text when it is short or max_length is None. Otherwise the prefix grows from
    char_budget(max_length) characters (doubling) until encode() gives max_length +
    TOKEN_MARGIN items or the text ends. `ceiling` caps the prefix (a text whose first
    `ceiling` characters still give too few tokens is cut there): needed for encoders that
    hand the whole string to MeCab at once, and it bounds the work spent on such a text.
    """
    if max_length is None or len(text) <= char_budget(max_length):
        if ceiling is not None and len(text) > ceiling:
            text = text[:ceiling]
        return text, encode(text)
    size = char_budget(max_length)
    while True:
        if ceiling is not None:
            size = min(size, ceiling)
        prefix = text[:size]
        encoded = encode(prefix)
        if len(encoded) >= max_length + TOKEN_MARGIN or size >= len(text) or size == ceiling:
            return prefix, encoded
        size *= 2


def cut_for_model(text: str, max_length: int, tokenize: Callable[[str], Sized]) -> str:
    """`text` as a whole-string tokenizer (BertJapaneseTokenizer) may be given it: short texts
    untouched (not even tokenized), long ones cut by `bounded_prefix` under MECAB_MAX_CHARS."""
    if len(text) <= char_budget(max_length):
        return text
    return bounded_prefix(text, max_length, tokenize, ceiling=MECAB_MAX_CHARS)[0]
