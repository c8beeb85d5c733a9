"""Japanese tokenization: presets, scratch WordPiece vocabularies, the fast exact batch path, decoding."""

from __future__ import annotations

from typing import Any

# Re-exported lazily so `import core.tokenization` stays cheap (no transformers/datasets).
_EXPORTS = {
    "load_tokenizer": "core.tokenization.loader",
    "LoadedTokenizer": "core.tokenization.loader",
    "TokenizerInfo": "core.tokenization.loader",
    "TokenizerLoadError": "core.tokenization.errors",
    "train_wordpiece": "core.tokenization.scratch",
    "decode_title": "core.tokenization.decode",
    "tokenize_dataset": "core.tokenization.dataset_cache",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    if name in _EXPORTS:
        import importlib

        return getattr(importlib.import_module(_EXPORTS[name]), name)
    raise AttributeError(f"module 'core.tokenization' has no attribute {name!r}")
