"""What a widget draws, read back as text: for Pilot tests that check the screen, not the state."""

from __future__ import annotations

from typing import Any


def shown_text(widget: Any) -> str:
    """What the widget shows on screen, as plain text (one line per row)."""
    region = widget.size.region
    lines = ("".join(seg.text for seg in strip).rstrip() for strip in widget.render_lines(region))
    return "\n".join(lines)


def match_texts(widget: Any, style: Any) -> list[str]:
    """Texts the widget draws in the match style (its colour, underlined), top to bottom."""
    return [seg.text for strip in widget.render_lines(widget.size.region) for seg in strip
            if seg.style is not None and seg.style.underline and seg.style.color == style.color]
