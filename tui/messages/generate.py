"""Messages the Generate pane's workers post: load progress, results, eval and demo training."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from textual.message import Message


@dataclass
class ModelLoadProgress(Message):
    """A step of loading a checkpoint into slot "A" or "B"."""

    slot: str
    spec: str
    text: str
    fraction: float


@dataclass
class ModelLoaded(Message):
    """A checkpoint is loaded and cached; `device_reason` says where and why."""

    slot: str
    spec: str
    device_reason: str
    load_s: float
    requested: str


@dataclass
class GenerationDone(Message):
    """Titles for one synopsis from every active slot ({slot: GenerationResult})."""

    synopsis: str
    reference: str | None
    results: dict[str, Any]


@dataclass
class DatasetRowPicked(Message):
    """A dataset row to use as input; its real title is shown beside the results."""

    dataset: str
    split: str
    index: int
    total: int
    story: str
    title: str


@dataclass
class EvalProgress(Message):
    """What the running evaluation is doing, and how far it is (0-1)."""

    text: str
    fraction: float


@dataclass
class EvalDone(Message):
    """An evaluation finished: the report dict and where it was written."""

    report: dict[str, Any]
    path: str


@dataclass
class DemoProgress(Message):
    """The first-run demo training job's state."""

    run_id: str
    state: str
    step: int
    total: int | None


@dataclass
class DemoFinished(Message):
    """The demo training job ended: `ok`, or the `reason` it did not."""

    run_id: str
    ok: bool
    reason: str | None


@dataclass
class ExportProgress(Message):
    """A step of exporting a checkpoint as a Hugging Face folder."""

    spec: str
    text: str


@dataclass
class ExportDone(Message):
    """A checkpoint was written as a Hugging Face folder at `out` (`files`: what it holds)."""

    spec: str
    out: str
    files: tuple[str, ...]
