"""Tokenizer folders of training runs (newest run first), so a run id can name a tokenizer."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from core.paths import Paths
from core.runs.reader import complete_checkpoints, list_runs
from core.runs.schema import TOKENIZER_DIR

VOCAB_FILE = "vocab.txt"


@dataclass(frozen=True)
class RunTokenizer:
    """The tokenizer a run trained with.

    run_id: the run directory's name (what the pane shows and accepts).
    path: a folder holding vocab.txt: the run's tokenizer/ or its newest complete checkpoint.
    """

    run_id: str
    path: Path

    @property
    def where(self) -> str:
        """The folder inside the run, e.g. "tokenizer" or "checkpoint-150"."""
        return self.path.name


def run_tokenizer_dir(run_dir: Path) -> Path | None:
    """A run's tokenizer/ when it has a vocabulary, else its newest complete checkpoint's."""
    folder = run_dir / TOKENIZER_DIR
    if (folder / VOCAB_FILE).is_file():
        return folder
    # Only complete checkpoints: a half-written one may lack or truncate the tokenizer files.
    for checkpoint in reversed(complete_checkpoints(run_dir)):
        if (checkpoint / VOCAB_FILE).is_file():
            return checkpoint
    return None


def run_tokenizers(paths: Paths) -> list[RunTokenizer]:
    """Every run with a tokenizer folder, newest run first (the order of `list_runs`)."""
    found = []
    for run in list_runs(paths):
        folder = run_tokenizer_dir(run.path)
        if folder is not None:
            found.append(RunTokenizer(run.run_id, folder))
    return found


def resolve_run_tokenizer(spec: str | None, paths: Paths) -> str | None:
    """`spec` with a run id replaced by that run's tokenizer folder; anything else unchanged.

    A path that exists wins over a run of the same name, so a folder is never shadowed.
    """
    if not spec or Path(spec).expanduser().exists() or "/" in spec:
        return spec
    run_dir = paths.checkpoints_dir / spec
    if not run_dir.is_dir():
        return spec
    folder = run_tokenizer_dir(run_dir)
    return str(folder) if folder is not None else spec
