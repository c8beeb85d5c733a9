"""CorpusStatsPanel: a dataset's token statistics under the loaded tokenizer, computed in a worker."""

from __future__ import annotations

import time
from typing import Any

from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical
from textual.widgets import ProgressBar, Static
from textual.worker import Worker

from tui.context import app_state
from tui.messages.tokenizer import CorpusProgress, CorpusReady
from tui.widgets.histogram import Histogram
from tui.workers import ForwardWorkerFailures, background


class CorpusStatsPanel(ForwardWorkerFailures, Vertical):
    """Progress while counting, then truncation, [UNK] rate and token-length histograms."""

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.busy = False

    def compose(self) -> ComposeResult:
        yield ProgressBar(id="corpus-progress", show_eta=False)
        yield Static("f6 computes statistics of the chosen dataset", id="corpus-summary")
        with Horizontal(id="corpus-hists"):
            yield Histogram("synopsis tokens", id="hist-src")
            yield Histogram("title tokens", id="hist-tgt")

    def on_mount(self) -> None:
        self.query_one("#corpus-progress", ProgressBar).display = False

    def compute(self, spec: Any, dataset: str, max_src: int, max_tgt: int) -> None:
        """Count `dataset` with encoder `spec` against the two max lengths."""
        self.busy = True
        bar = self.query_one("#corpus-progress", ProgressBar)
        bar.display = True
        bar.update(total=None, progress=0)
        self._corpus_worker(spec, dataset, max_src, max_tgt)

    @background("tok-corpus", exclusive=True)
    def _corpus_worker(self, spec: Any, name: str, max_src: int, max_tgt: int) -> None:
        from core.data.texts import dataset_texts
        from core.tokenization.stats import corpus_stats

        started = time.monotonic()
        stories, titles = dataset_texts(app_state(self).paths, name)
        stats = corpus_stats(spec, stories, titles, max_src, max_tgt,
                             progress=lambda d, t: self.post_message(CorpusProgress(d, t)))
        self.post_message(CorpusReady(name, stats, time.monotonic() - started))

    def on_corpus_progress(self, message: CorpusProgress) -> None:
        self.query_one("#corpus-progress", ProgressBar).update(total=message.total,
                                                               progress=message.done)

    def on_corpus_ready(self, message: CorpusReady) -> None:
        self.busy = False
        self.query_one("#corpus-progress", ProgressBar).display = False
        s = message.stats
        text = Text()
        text.append(f"{message.dataset}: {len(s.stories.lengths):,} synopses, "
                    f"{len(s.titles.lengths):,} titles ({message.seconds:.1f} s)\n", style="bold")
        for line in s.summary_lines():
            text.append(f"{line}\n")
        if s.unk_chars:
            text.append("most frequent [UNK] characters: ")
            text.append(s.unk_chars_line(), style="red")
        self.query_one("#corpus-summary", Static).update(text)
        self.query_one("#hist-src", Histogram).set_data(*s.stories.histogram())
        self.query_one("#hist-tgt", Histogram).set_data(*s.titles.histogram())

    def worker_failed(self, worker: Worker[Any], line: str) -> None:
        """Counting failed (the App has notified): the panel is free for another try."""
        self.busy = False
        self.query_one("#corpus-progress", ProgressBar).display = False
