"""Errors raised while resolving, loading or training a tokenizer."""

from __future__ import annotations


class TokenizerLoadError(RuntimeError):
    """A tokenizer could not be loaded; the message says which one and what to do instead."""


class TokenizationFailed(RuntimeError):
    """Batch tokenization stopped (a worker process died); nothing partial was returned."""
