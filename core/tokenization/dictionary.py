"""MeCab dictionaries: where each one lives, its version, and how to open a Tagger on it."""

from __future__ import annotations

import importlib
import importlib.metadata
from dataclasses import dataclass
from pathlib import Path
from typing import Any

# transformers' MecabTokenizer names dictionaries by these keys; each maps to its PyPI package.
DICTIONARY_PACKAGES: dict[str, tuple[str, str]] = {
    "unidic_lite": ("unidic_lite", "unidic-lite"),
    "ipadic": ("ipadic", "ipadic"),
    "unidic": ("unidic", "unidic"),
}


@dataclass(frozen=True)
class DictionaryInfo:
    """One MeCab dictionary as installed here.

    name: transformers' key ("unidic_lite", "ipadic", "unidic").
    version: version of the Python package that ships it ("" when not installed).
    path: its DICDIR (contains sys.dic and mecabrc); None when not installed.
    available: whether the package imports.
    """

    name: str
    version: str
    path: Path | None
    available: bool

    def label(self) -> str:
        """Short human form, e.g. "unidic_lite 1.0.8"."""
        return f"{self.name} {self.version}".strip() if self.available else f"{self.name} (missing)"


def dictionary_info(name: str) -> DictionaryInfo:
    """Look a dictionary up without raising; `available` tells whether it can be used."""
    if name not in DICTIONARY_PACKAGES:
        raise ValueError(f"unknown MeCab dictionary {name!r}; known: {', '.join(DICTIONARY_PACKAGES)}")
    module_name, dist_name = DICTIONARY_PACKAGES[name]
    try:
        module = importlib.import_module(module_name)
    except ImportError:
        return DictionaryInfo(name, "", None, False)
    try:
        version = importlib.metadata.version(dist_name)
    except importlib.metadata.PackageNotFoundError:
        version = str(getattr(module, "__version__", ""))
    dicdir = Path(module.DICDIR)
    return DictionaryInfo(name, version, dicdir, dicdir.is_dir())


def mecab_option(name: str | None, extra: str | None = None) -> str:
    """The option string transformers' MecabTokenizer builds for `name` (plus `extra`)."""
    option = extra or ""
    if name is None:
        return option
    info = dictionary_info(name)
    if not info.available or info.path is None:
        raise ImportError(f"MeCab dictionary {name!r} is not installed (pip install {DICTIONARY_PACKAGES[name][1]})")
    # An explicit mecabrc matters: fugashi otherwise looks for a system /etc/mecabrc.
    return f'-d "{info.path}" -r "{info.path / "mecabrc"}" ' + option


def open_tagger(name: str | None, extra: str | None = None, wakati: bool = False) -> Any:
    """A fugashi GenericTagger on dictionary `name`; Taggers cannot be pickled, so one per process."""
    import fugashi

    option = mecab_option(name, extra)
    if wakati:
        option += " -Owakati"
    return fugashi.GenericTagger(option)
