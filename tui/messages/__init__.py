"""Typed Messages that workers post to the UI, one module per pane."""
