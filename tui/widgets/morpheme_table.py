"""MorphemeTable: the MeCab layer of a text (surface, POS, lemma, reading) and the pieces of each word."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from rich.text import Text
from textual.widgets import DataTable


class MorphemeTable(DataTable[Any]):
    """One row per MeCab morpheme; words that became [UNK] are highlighted."""

    DEFAULT_CSS = """
    MorphemeTable { height: 1fr; }
    """

    def on_mount(self) -> None:
        self.cursor_type = "row"
        self.zebra_stripes = True
        self.add_columns("#", "surface", "POS", "lemma", "reading", "pieces")

    def show(self, morphemes: Sequence[Any], pieces: Sequence[str], word_of_piece: Sequence[int],
             unk_token: str = "[UNK]") -> None:
        """Fill from a core Breakdown's morphemes and its piece → word mapping."""
        by_word: dict[int, list[str]] = {}
        for piece, word in zip(pieces, word_of_piece, strict=True):
            if word >= 0:
                by_word.setdefault(word, []).append(piece)
        self.clear()
        for i, m in enumerate(morphemes):
            word_pieces = by_word.get(i, [])
            unk = unk_token in word_pieces
            style = "bold reverse red" if unk else ""
            self.add_row(
                str(i),
                Text(m.surface, style=style),
                Text(m.pos, style="dim" if not m.known else ""),
                m.lemma,
                m.reading,
                Text(" ".join(word_pieces), style="red" if unk else ""),
                key=str(i),
            )
