"""WordpieceView: pieces with ## continuations, ids, special tokens, [UNK]s and the truncation cut."""

from __future__ import annotations

from typing import Any

from rich.text import Text
from textual.widgets import Static

SPECIALS = frozenset({"[CLS]", "[SEP]", "[PAD]", "[MASK]"})


def render_pieces(title: str, bd: Any, unk_token: str = "[UNK]") -> Text:
    """A Text for a core Breakdown: header, pieces line, ids line; cut pieces struck through."""
    text = Text(no_wrap=False)
    n = len(bd.ids)
    limit = f" / max {bd.max_length}" if bd.max_length else ""
    text.append(f"{title}: {n} ids{limit}", style="bold")
    if bd.cut is not None:
        text.append(f"  ✂ {n - bd.max_length} cut by max_length", style="bold yellow")
    if bd.unk_words:
        text.append(f"  [UNK] ×{bd.pieces.count(unk_token)}", style="bold red")
    text.append("\n")
    for i, piece in enumerate(bd.pieces):
        dropped = bd.cut is not None and bd.cut <= i < n - 1
        if bd.cut is not None and i == bd.cut:
            text.append("✂ ", style="bold yellow")
        if piece == unk_token:
            style = "bold reverse red"
        elif piece in SPECIALS:
            style = "bold cyan"
        else:
            style = ""
        if dropped:
            style += " dim strike"
        if piece.startswith("##"):
            text.append("##", style="dim")
            text.append(piece[2:], style=style)
        else:
            text.append(piece, style=style)
        text.append(" ")
    text.append("\n")
    text.append(" ".join(str(i) for i in bd.ids), style="dim")
    return text


class WordpieceView(Static):
    """Shows one breakdown (encoder input or title labels) of the current text."""

    DEFAULT_CSS = """
    WordpieceView { height: auto; padding: 0 1; }
    """

    def __init__(self, title: str, *, id: str | None = None, classes: str | None = None) -> None:
        super().__init__("", id=id, classes=classes)
        self.title = title
        self.breakdown: Any = None

    def show(self, breakdown: Any, unk_token: str = "[UNK]") -> None:
        self.breakdown = breakdown
        self.update(render_pieces(self.title, breakdown, unk_token))

    def show_note(self, note: str) -> None:
        self.breakdown = None
        self.update(Text(f"{self.title}: {note}", style="dim"))
