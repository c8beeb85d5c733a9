"""Redraw a text widget only when what it shows has changed (a watched run re-sends it every poll)."""

from __future__ import annotations

from weakref import WeakKeyDictionary

from rich.text import Text
from textual.widgets import Static

_SHOWN: WeakKeyDictionary[Static, Text] = WeakKeyDictionary()


def show_text(widget: Static, content: Text) -> bool:
    """Put `content` in `widget` unless it shows it already; True when it was redrawn.

    A Static's update asks for a layout of the whole screen by default, which costs far more
    than drawing the widget: it is asked for only when the line count (the widget's height)
    changes (text that may wrap is laid out every time: its height depends on the words).
    """
    last = _SHOWN.get(widget)
    if last is not None and last == content and last.style == content.style:
        return False
    same_height = last is not None and content.no_wrap and last.plain.count("\n") == content.plain.count("\n")
    widget.update(content, layout=not same_height)
    _SHOWN[widget] = content.copy()
    return True
