"""`load_tokenizer(spec)`: a preset, hub id or local directory as a BertJapaneseTokenizer plus facts."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from core.tokenization.dictionary import dictionary_info
from core.tokenization.errors import TokenizerLoadError
from core.tokenization.fast import EncoderSpec, spec_from_dir
from core.tokenization.presets import (
    DEFAULT_PRESET,
    PRESETS,
    DirSettings,
    Preset,
    read_dir_settings,
)


@dataclass
class TokenizerInfo:
    """What was loaded, shown in the TUI header and frozen into training configs.

    name: the spec as given (preset/hub id or directory).
    path: local folder the files came from.
    word_tokenizer: word_tokenizer_type ("mecab" for every Japanese BERT here).
    subword: subword_tokenizer_type ("wordpiece" or "character").
    dictionary: MeCab dictionary actually used (None when not MeCab).
    dictionary_version: version of the dictionary's Python package.
    dictionary_path: its DICDIR.
    dictionary_source: why that dictionary (see presets.DirSettings).
    vocab_size: pieces in the vocabulary.
    warnings: problems the user must see (dictionary mismatch, guessed dictionary, ...).
    """

    name: str
    path: Path
    word_tokenizer: str
    subword: str
    dictionary: str | None
    dictionary_version: str
    dictionary_path: Path | None
    dictionary_source: str
    vocab_size: int
    warnings: list[str] = field(default_factory=list)

    @property
    def version(self) -> str:
        """Dictionary version (the contract's `info.version`)."""
        return self.dictionary_version

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form (for --json output and run configs)."""
        return {
            "name": self.name,
            "path": str(self.path),
            "word_tokenizer": self.word_tokenizer,
            "subword": self.subword,
            "dictionary": self.dictionary,
            "dictionary_version": self.dictionary_version,
            "dictionary_path": str(self.dictionary_path) if self.dictionary_path else None,
            "dictionary_source": self.dictionary_source,
            "vocab_size": self.vocab_size,
            "warnings": list(self.warnings),
        }


@dataclass
class LoadedTokenizer:
    """A ready BertJapaneseTokenizer (`tokenizer`) and what it is (`info`)."""

    tokenizer: Any
    info: TokenizerInfo


def resolve_spec(spec: str | Path | None) -> tuple[str, Path | None, Preset | None]:
    """(name, local dir or None for a hub id, known preset or None)."""
    name = str(spec) if spec is not None else DEFAULT_PRESET
    as_path = Path(name).expanduser()
    if as_path.is_dir():
        return name, as_path.resolve(), None
    if name == "scratch":
        raise TokenizerLoadError(
            "'scratch' needs a trained vocabulary folder: run "
            "`narou-tui tokenizer train --dataset NAME --vocab-size N --out DIR`, then use --tokenizer DIR"
        )
    if name in PRESETS or (name.count("/") == 1 and not name.startswith((".", "/", "~"))):
        return name, None, PRESETS.get(name)
    raise TokenizerLoadError(
        f"tokenizer '{name}' is neither a folder nor a hub id; presets: {', '.join(sorted(PRESETS))}"
    )


def _choose_dictionary(settings: DirSettings, warnings: list[str]) -> tuple[str | None, str]:
    """The dictionary to load with, falling back loudly when the right one is not installed."""
    dic, source = settings.dictionary, settings.dictionary_source
    if dic is None:
        return None, source
    if source == "v1-guess":
        warnings.append(
            "tokenizer_config.json names no MeCab dictionary and the vocabulary has 32000 pieces "
            "(like cl-tohoku/bert-base-japanese v1, trained with ipadic): loading with ipadic"
        )
    elif source == "default":
        warnings.append(
            "tokenizer_config.json names no MeCab dictionary: using unidic_lite (transformers' "
            "default); set mecab_kwargs.mecab_dic if the vocabulary was built with another one"
        )
    if not dictionary_info(dic).available:
        if dic == "unidic_lite":
            raise TokenizerLoadError("the unidic-lite dictionary is not installed: pip install unidic-lite")
        warnings.append(
            f"DICTIONARY MISMATCH: this tokenizer was built with {dic}, which is not installed; "
            f"segmenting with unidic_lite instead, so words will not match the vocabulary "
            f"(install it: pip install {dic}, or pip install 'narou-tui[ipadic]')"
        )
        return "unidic_lite", source + "+fallback"
    return dic, source


def load_tokenizer_dir(directory: Path, name: str, preset: Preset | None = None) -> LoadedTokenizer:
    """Load a BertJapaneseTokenizer folder with the dictionary its files (or preset) call for."""
    if not (directory / "vocab.txt").is_file():
        raise TokenizerLoadError(f"{directory} has no vocab.txt: not a BertJapaneseTokenizer folder")
    try:
        settings = read_dir_settings(directory, preset)
    except (OSError, ValueError) as exc:
        raise TokenizerLoadError(f"{directory / 'tokenizer_config.json'}: unreadable ({exc})") from None
    warnings: list[str] = []
    dic, source = _choose_dictionary(settings, warnings)
    kwargs: dict[str, Any] = {}
    if settings.word_tokenizer == "mecab":
        mecab_kwargs = dict(settings.config.get("mecab_kwargs") or {})
        mecab_kwargs["mecab_dic"] = dic
        kwargs["mecab_kwargs"] = mecab_kwargs
    from transformers import BertJapaneseTokenizer

    try:
        tokenizer = BertJapaneseTokenizer.from_pretrained(str(directory), **kwargs)
    except Exception as exc:  # noqa: BLE001 - any loader failure becomes one clear message
        raise TokenizerLoadError(f"cannot load tokenizer from {directory}: {type(exc).__name__}: {exc}") from None
    dinfo = dictionary_info(dic) if dic else None
    info = TokenizerInfo(
        name=name,
        path=directory,
        word_tokenizer=settings.word_tokenizer,
        subword=settings.subword,
        dictionary=dic,
        dictionary_version=dinfo.version if dinfo else "",
        dictionary_path=dinfo.path if dinfo else None,
        dictionary_source=source,
        vocab_size=len(tokenizer.vocab),
        warnings=warnings,
    )
    return LoadedTokenizer(tokenizer, info)


def tokenizer_dir(spec: str | Path | None) -> tuple[str, Path, Preset | None]:
    """Local folder for any spec, fetching hub ids into the cache (fails fast offline)."""
    name, directory, preset = resolve_spec(spec)
    if directory is None:
        from core.tokenization.hub import fetch_tokenizer_dir

        directory = fetch_tokenizer_dir(name)
    return name, directory, preset


def resolve_encoder(spec: str | Path | None) -> tuple[EncoderSpec, str, Path, list[str]]:
    """Fast-path spec for `spec` without importing transformers: (spec, name, folder, warnings).

    Picks the dictionary with the same rules as `load_tokenizer`, so both give the same ids.
    """
    name, directory, preset = tokenizer_dir(spec)
    if not (directory / "vocab.txt").is_file():
        raise TokenizerLoadError(f"{directory} has no vocab.txt: not a BertJapaneseTokenizer folder")
    settings = read_dir_settings(directory, preset)
    warnings: list[str] = []
    dic, _ = _choose_dictionary(settings, warnings)
    try:
        encoder = spec_from_dir(directory, dic, settings.config)
    except ValueError as exc:
        raise TokenizerLoadError(str(exc)) from None
    return encoder, name, directory, warnings


def load_tokenizer(spec: str | Path | None = None) -> LoadedTokenizer:
    """Load `spec`: a preset or hub id (default tohoku-nlp/bert-base-japanese-v3) or a local folder."""
    name, directory, preset = tokenizer_dir(spec)
    return load_tokenizer_dir(directory, name, preset)
