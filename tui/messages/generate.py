"""Messages the Generate pane's workers post: load progress, results, eval and demo training."""

from __future__ import annotations

from typing import Any

from textual.message import Message


class ModelLoadProgress(Message):
    """A step of loading a checkpoint into slot "A" or "B"."""

    def __init__(self, slot: str, spec: str, text: str, fraction: float) -> None:
        super().__init__()
        self.slot, self.spec, self.text, self.fraction = slot, spec, text, fraction


class ModelLoaded(Message):
    """A checkpoint is loaded and cached; `device_reason` says where and why."""

    def __init__(self, slot: str, spec: str, device_reason: str, load_s: float,
                 requested: str) -> None:
        super().__init__()
        self.slot, self.spec, self.device_reason, self.load_s = slot, spec, device_reason, load_s
        self.requested = requested


class GenerationDone(Message):
    """Titles for one synopsis from every active slot ({slot: GenerationResult})."""

    def __init__(self, synopsis: str, reference: str | None, results: dict[str, Any]) -> None:
        super().__init__()
        self.synopsis, self.reference, self.results = synopsis, reference, results


class DatasetRowPicked(Message):
    """A dataset row to use as input; its real title is shown beside the results."""

    def __init__(self, dataset: str, split: str, index: int, total: int, story: str,
                 title: str) -> None:
        super().__init__()
        self.dataset, self.split, self.index, self.total = dataset, split, index, total
        self.story, self.title = story, title


class EvalProgress(Message):
    def __init__(self, text: str, fraction: float) -> None:
        super().__init__()
        self.text, self.fraction = text, fraction


class EvalDone(Message):
    """An evaluation finished: the report dict and where it was written."""

    def __init__(self, report: dict[str, Any], path: str) -> None:
        super().__init__()
        self.report, self.path = report, path


class DemoProgress(Message):
    """The first-run demo training job's state."""

    def __init__(self, run_id: str, state: str, step: int, total: int | None) -> None:
        super().__init__()
        self.run_id, self.state, self.step, self.total = run_id, state, step, total


class DemoFinished(Message):
    def __init__(self, run_id: str, ok: bool, reason: str | None) -> None:
        super().__init__()
        self.run_id, self.ok, self.reason = run_id, ok, reason


class ExportProgress(Message):
    """A step of exporting a checkpoint as a Hugging Face folder."""

    def __init__(self, spec: str, text: str) -> None:
        super().__init__()
        self.spec, self.text = spec, text


class ExportDone(Message):
    """A checkpoint was written as a Hugging Face folder at `out` (`files`: what it holds)."""

    def __init__(self, spec: str, out: str, files: tuple[str, ...]) -> None:
        super().__init__()
        self.spec, self.out, self.files = spec, out, files
