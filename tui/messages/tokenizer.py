"""Messages the Tokenizer pane's workers post: tokenizer loaded/failed, text tokenized, corpus stats."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from textual.message import Message


@dataclass
class TokenizerLoaded(Message):
    """A tokenizer is ready: `loaded` is a core LoadedTokenizer, `spec` its fast-path EncoderSpec.

    `run` is the RunTokenizer it came from when it is a training run's tokenizer.
    """

    loaded: Any
    spec: Any
    note: str = ""
    run: Any = None


@dataclass
class RunTokenizersFound(Message):
    """Ids of the runs that have a tokenizer folder, newest first (for the field's suggestions)."""

    run_ids: list[str]


@dataclass
class TokenizerFailed(Message):
    """No tokenizer for `spec`; `error` is the user-facing reason, `scratch_hint` offers training."""

    spec: str
    error: str
    scratch_hint: bool


@dataclass
class TextTokenized(Message):
    """One text through the tokenizer: source and target breakdowns and per-dictionary segmentations."""

    source: Any
    target: Any
    segmentations: dict[str, list[str]]


@dataclass
class RowPicked(Message):
    """A dataset row was chosen: `index` counts over all splits, `row` within `split`."""

    dataset: str
    split: str
    index: int
    story: str
    title: str
    row: int


@dataclass
class DatasetsFound(Message):
    """Names of the built datasets (for the dataset selector)."""

    names: list[str]


@dataclass
class CorpusProgress(Message):
    """Corpus statistics are being computed: `done` of `total` texts."""

    done: int
    total: int


@dataclass
class CorpusReady(Message):
    """Corpus statistics (a core CorpusStats) for `dataset`."""

    dataset: str
    stats: Any
    seconds: float


@dataclass
class ScratchTrained(Message):
    """A scratch vocabulary was trained from `dataset` into folder `out`."""

    out: Any
    dataset: str
