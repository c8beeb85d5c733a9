"""Messages the Tokenizer pane's workers post: tokenizer loaded/failed, text tokenized, corpus stats."""

from __future__ import annotations

from typing import Any

from textual.message import Message


class TokenizerLoaded(Message):
    """A tokenizer is ready: `loaded` is a core LoadedTokenizer, `spec` its fast-path EncoderSpec.

    `run` is the RunTokenizer it came from when it is a training run's tokenizer.
    """

    def __init__(self, loaded: Any, spec: Any, note: str = "", run: Any = None) -> None:
        self.loaded = loaded
        self.spec = spec
        self.note = note
        self.run = run
        super().__init__()


class RunTokenizersFound(Message):
    """Ids of the runs that have a tokenizer folder, newest first (for the field's suggestions)."""

    def __init__(self, run_ids: list[str]) -> None:
        self.run_ids = run_ids
        super().__init__()


class TokenizerFailed(Message):
    """No tokenizer for `spec`; `error` is the user-facing reason, `scratch_hint` offers training."""

    def __init__(self, spec: str, error: str, scratch_hint: bool) -> None:
        self.spec = spec
        self.error = error
        self.scratch_hint = scratch_hint
        super().__init__()


class TextTokenized(Message):
    """One text through the tokenizer: source and target breakdowns and per-dictionary segmentations."""

    def __init__(self, source: Any, target: Any, segmentations: dict[str, list[str]]) -> None:
        self.source = source
        self.target = target
        self.segmentations = segmentations
        super().__init__()


class RowPicked(Message):
    """A dataset row was chosen: `index` counts over all splits, `row` within `split`."""

    def __init__(self, dataset: str, split: str, index: int, story: str, title: str, row: int) -> None:
        self.dataset = dataset
        self.split = split
        self.index = index
        self.row = row
        self.story = story
        self.title = title
        super().__init__()


class DatasetsFound(Message):
    """Names of the built datasets (for the dataset selector)."""

    def __init__(self, names: list[str]) -> None:
        self.names = names
        super().__init__()


class CorpusProgress(Message):
    """Corpus statistics are being computed: `done` of `total` texts."""

    def __init__(self, done: int, total: int) -> None:
        self.done = done
        self.total = total
        super().__init__()


class CorpusReady(Message):
    """Corpus statistics (a core CorpusStats) for `dataset`."""

    def __init__(self, dataset: str, stats: Any, seconds: float) -> None:
        self.dataset = dataset
        self.stats = stats
        self.seconds = seconds
        super().__init__()


class ScratchTrained(Message):
    """A scratch vocabulary was trained from `dataset` into folder `out`."""

    def __init__(self, out: Any, dataset: str) -> None:
        self.out = out
        self.dataset = dataset
        super().__init__()
