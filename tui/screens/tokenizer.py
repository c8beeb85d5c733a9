"""Tokenizer pane: how text reaches the model (MeCab morphemes, WordPiece pieces, ids, truncation)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, ClassVar

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, VerticalScroll
from textual.screen import Screen
from textual.suggester import SuggestFromList
from textual.widgets import Footer, Header, Input, Label, Select, TabbedContent, TabPane, TextArea
from textual.worker import Worker

from core.tokenization.presets import DEFAULT_PRESET, PRESETS
from core.tokenization.resolve import scratch_root
from tui.context import app_state
from tui.messages.tokenizer import (
    DatasetsFound,
    RowPicked,
    RunTokenizersFound,
    ScratchTrained,
    TextTokenized,
    TokenizerFailed,
    TokenizerLoaded,
)
from tui.widgets.corpus_stats_panel import CorpusStatsPanel
from tui.widgets.morpheme_table import MorphemeTable
from tui.widgets.segmentation_compare import SegmentationCompare
from tui.widgets.tokenizer_header import TokenizerHeader
from tui.widgets.wordpiece_view import WordpieceView
from tui.workers import ForwardWorkerFailures, background

TOKENIZER_ENV = "NAROU_TUI_TOKENIZER"
DEFAULT_SPEC = DEFAULT_PRESET
PRESET_IDS = sorted(PRESETS)
SCRATCH_VOCAB_SIZE = 8000
SCRATCH_DATASET = "sample"
DEBOUNCE_S = 0.25


class TokenizerScreen(ForwardWorkerFailures, Screen[None]):
    """Type a synopsis and a title (or pick dataset rows) and see every layer of tokenization."""

    CSS_PATH = "../styles/tokenizer.tcss"
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("ctrl+t", "tokenize", "Tokenize", id="tokenizer.tokenize",
                tooltip="Tokenize the synopsis and title now"),
        Binding("ctrl+n", "next_row", "Next row", id="tokenizer.next_row",
                tooltip="Load the next row of the chosen dataset"),
        Binding("ctrl+o", "random_row", "Random row", id="tokenizer.random_row",
                tooltip="Load a random row of the chosen dataset"),
        Binding("ctrl+l", "load_tokenizer", "Load", id="tokenizer.load",
                tooltip="Load the tokenizer named in the tokenizer field (preset, hub id or folder)"),
        Binding("f6", "corpus", "Corpus stats", id="tokenizer.corpus",
                tooltip="Compute token statistics of the chosen dataset (runs in the background)"),
        Binding("ctrl+b", "train_scratch", "Build", id="tokenizer.train_scratch",
                tooltip=f"Train a {SCRATCH_VOCAB_SIZE}-piece scratch WordPiece vocabulary from the dataset"),
        Binding("f2", "tab('tab-tokens')", "Tokens", id="tokenizer.tab_tokens",
                tooltip="Show morphemes, pieces and ids"),
        Binding("f3", "tab('tab-dicts')", "Dictionaries", id="tokenizer.tab_dicts",
                tooltip="Compare unidic-lite and ipadic segmentations"),
        Binding("f4", "tab('tab-corpus')", "Corpus", id="tokenizer.tab_corpus",
                tooltip="Token-length histograms, truncation, [UNK] rate of the dataset"),
    ]

    def __init__(self, tokenizer: str | None = None, text: str = "", title: str = "") -> None:
        super().__init__()
        self.initial_spec = tokenizer or os.environ.get(TOKENIZER_ENV) or DEFAULT_SPEC
        self.initial_text = text
        self.initial_title = title
        self.loaded: Any = None
        self.encoder_spec: Any = None
        self.row_index = -1
        self.dataset_names: list[str] = []
        self._debounce: Any = None

    # ---- layout -----------------------------------------------------------------------------

    def compose(self) -> ComposeResult:
        yield Header()
        yield TokenizerHeader("loading tokenizer…", id="tok-header")
        with Horizontal(id="tok-controls"):
            yield Label("tokenizer")
            yield Input(self.initial_spec, id="tok-spec", suggester=SuggestFromList(PRESET_IDS),
                        tooltip="preset, hub id, run id or folder; ctrl+l loads it "
                                "(presets and runs with a tokenizer complete as you type)")
            yield Label("max src")
            yield Input("512", id="tok-max-src", type="integer", tooltip="encoder max_length")
            yield Label("max tgt")
            yield Input("64", id="tok-max-tgt", type="integer", tooltip="decoder (title) max_length")
            yield Select[str]([], id="tok-dataset", prompt="dataset", allow_blank=True,
                              tooltip="dataset for ctrl+n / ctrl+o rows and f6 corpus stats")
        yield TextArea(self.initial_text, id="tok-text", soft_wrap=True, show_line_numbers=False,
                       tooltip="synopsis (encoder input)")
        yield Input(self.initial_title, id="tok-title", placeholder="title (decoder labels)")
        with TabbedContent(id="tok-tabs", initial="tab-tokens"):
            with TabPane("Tokens", id="tab-tokens"), Horizontal():
                yield MorphemeTable(id="tok-morphemes")
                with VerticalScroll(id="tok-pieces"):
                    yield WordpieceView("synopsis → input_ids", id="tok-source")
                    yield WordpieceView("title → labels", id="tok-target")
            with TabPane("Dictionaries", id="tab-dicts"):
                yield SegmentationCompare(id="tok-compare")
            with TabPane("Corpus", id="tab-corpus"):
                yield CorpusStatsPanel()
        yield Footer()

    def on_mount(self) -> None:
        self.load_tokenizer(self.initial_spec)
        self.find_datasets()

    def on_screen_resume(self) -> None:
        # Runs may have started (and trained a vocabulary) while another pane was showing.
        self.find_run_tokenizers()

    # ---- helpers ----------------------------------------------------------------------------

    def _int(self, widget_id: str, default: int) -> int:
        try:
            return max(int(self.query_one(widget_id, Input).value), 2)
        except ValueError:
            return default

    @property
    def max_src(self) -> int:
        return self._int("#tok-max-src", 512)

    @property
    def max_tgt(self) -> int:
        return self._int("#tok-max-tgt", 64)

    @property
    def busy_corpus(self) -> bool:
        return self.query_one(CorpusStatsPanel).busy

    @property
    def dataset(self) -> str | None:
        value = self.query_one("#tok-dataset", Select).value
        return value if isinstance(value, str) else None

    def _schedule_tokenize(self) -> None:
        if self._debounce is not None:
            self._debounce.stop()
        self._debounce = self.set_timer(DEBOUNCE_S, self.action_tokenize)

    # ---- actions ----------------------------------------------------------------------------

    def action_tokenize(self) -> None:
        if self.loaded is None:
            return
        text = self.query_one("#tok-text", TextArea).text
        title = self.query_one("#tok-title", Input).value
        self.tokenize_text(self.loaded, text, title, self.max_src, self.max_tgt)

    def action_load_tokenizer(self) -> None:
        self.load_tokenizer(self.query_one("#tok-spec", Input).value.strip() or DEFAULT_SPEC)

    def action_next_row(self) -> None:
        self._pick_row(random_row=False)

    def action_random_row(self) -> None:
        self._pick_row(random_row=True)

    def _pick_row(self, random_row: bool) -> None:
        if self.dataset is None:
            self.notify("choose a dataset first", severity="warning")
            return
        self.pick_row(self.dataset, self.row_index + 1, random_row)

    def action_corpus(self) -> None:
        if self.encoder_spec is None or self.dataset is None:
            self.notify("needs a loaded tokenizer and a chosen dataset", severity="warning")
            return
        if self.busy_corpus:
            self.notify("corpus statistics are already being computed")
            return
        self.query_one("#tok-tabs", TabbedContent).active = "tab-corpus"
        self.query_one(CorpusStatsPanel).compute(self.encoder_spec, self.dataset, self.max_src,
                                                 self.max_tgt)

    def action_train_scratch(self) -> None:
        name = self.dataset or SCRATCH_DATASET
        out = scratch_root(app_state(self).paths.config_dir) / f"scratch-{name}-{SCRATCH_VOCAB_SIZE}"
        self.query_one(TokenizerHeader).show_busy(
            f"training a {SCRATCH_VOCAB_SIZE}-piece scratch vocabulary from dataset {name!r} → {out} …")
        self.train_scratch(name, out)

    def action_tab(self, tab: str) -> None:
        self.query_one("#tok-tabs", TabbedContent).active = tab

    # ---- workers (heavy imports live only here) ----------------------------------------------

    @background("tok-load", exclusive=True, subject=lambda spec, *_, **__: spec)
    def load_tokenizer(self, spec: str, note: str = "") -> None:
        """Load `spec` or its fallback (core.tokenization.resolve); a hint when nothing loads."""
        from core.tokenization.errors import TokenizerLoadError
        from core.tokenization.resolve import resolve_tokenizer

        try:
            found = resolve_tokenizer(app_state(self).paths, spec, note)
        except TokenizerLoadError as exc:
            self.post_message(TokenizerFailed(spec, str(exc), scratch_hint=True))
            return
        self.post_message(TokenizerLoaded(found.loaded, found.encoder, found.note, run=found.run))

    @background("tok-runs", exclusive=True)
    def find_run_tokenizers(self) -> None:
        from core.tokenization.resolve import tokenizer_runs

        runs = tokenizer_runs(app_state(self).paths)
        self.post_message(RunTokenizersFound([r.run_id for r in runs]))

    @background("tok-text", exclusive=True)
    def tokenize_text(self, loaded: Any, text: str, title: str, max_src: int, max_tgt: int) -> None:
        from core.tokenization.analysis import breakdown, segment
        from core.tokenization.dictionary import dictionary_info

        tok = loaded.tokenizer
        source = breakdown(tok, text, max_src)
        target = breakdown(tok, title, max_tgt, as_target=True) if title else None
        segs: dict[str, list[str]] = {}
        for dic in ("unidic_lite", "ipadic"):
            info = dictionary_info(dic)
            if info.available:
                segs[info.label()] = segment(text, dic)
        self.post_message(TextTokenized(source, target, segs))

    @background("tok-datasets", exclusive=True)
    def find_datasets(self) -> None:
        from core.data.store import list_datasets

        names = [d.name for d in list_datasets(app_state(self).paths) if d.ok]
        self.post_message(DatasetsFound(names))

    @background("tok-row", exclusive=True)
    def pick_row(self, name: str, index: int, random_row: bool) -> None:
        from core.data.texts import dataset_row

        r = dataset_row(app_state(self).paths, name, index, random_row)
        self.post_message(RowPicked(name, r.split, r.index, r.story, r.title, r.row))

    @background("tok-train", exclusive=True)
    def train_scratch(self, name: str, out: Path) -> None:
        from core.data.texts import dataset_texts
        from core.tokenization.scratch import train_wordpiece

        stories, titles = dataset_texts(app_state(self).paths, name)
        train_wordpiece([t for t in stories + titles if t], SCRATCH_VOCAB_SIZE, out)
        self.post_message(ScratchTrained(out, name))

    def on_scratch_trained(self, message: ScratchTrained) -> None:
        self.query_one("#tok-spec", Input).value = str(message.out)
        self.load_tokenizer(str(message.out), note=f"scratch vocabulary trained from dataset {message.dataset!r}")

    # ---- message handlers -------------------------------------------------------------------

    def on_tokenizer_loaded(self, message: TokenizerLoaded) -> None:
        self.loaded, self.encoder_spec = message.loaded, message.spec
        info = message.loaded.info
        self.query_one("#tok-spec", Input).value = info.name
        self.query_one(TokenizerHeader).show_loaded(info, message.run, message.note)
        self.action_tokenize()

    def on_tokenizer_failed(self, message: TokenizerFailed) -> None:
        self._show_no_tokenizer(f"no tokenizer: {message.error}", message.scratch_hint)

    def _show_no_tokenizer(self, why: str, scratch_hint: bool) -> None:
        self.loaded = self.encoder_spec = None
        hint = (f"ctrl+b trains a {SCRATCH_VOCAB_SIZE}-piece scratch vocabulary from dataset "
                f"{self.dataset or SCRATCH_DATASET!r} here (a few seconds), or type a folder "
                "in the tokenizer field and press ctrl+l") if scratch_hint else ""
        self.query_one(TokenizerHeader).show_problem(why, hint)

    def on_text_tokenized(self, message: TextTokenized) -> None:
        src = message.source
        unk = getattr(self.loaded.tokenizer, "unk_token", "[UNK]") if self.loaded else "[UNK]"
        self.query_one("#tok-morphemes", MorphemeTable).show(src.morphemes, src.pieces, src.word_of_piece, unk)
        self.query_one("#tok-source", WordpieceView).show(src, unk)
        target = self.query_one("#tok-target", WordpieceView)
        if message.target is None:
            target.show_note("type a title below the synopsis to see its labels")
        else:
            target.show(message.target, unk)
        self.query_one("#tok-compare", SegmentationCompare).show(message.segmentations)

    def on_run_tokenizers_found(self, message: RunTokenizersFound) -> None:
        # Runs first, newest first: the first suggestion that completes the typed text wins.
        self.query_one("#tok-spec", Input).suggester = SuggestFromList(message.run_ids + PRESET_IDS)

    def on_datasets_found(self, message: DatasetsFound) -> None:
        self.dataset_names = message.names
        select = self.query_one("#tok-dataset", Select)
        select.set_options([(n, n) for n in message.names])
        if message.names:
            select.value = SCRATCH_DATASET if SCRATCH_DATASET in message.names else message.names[0]

    def on_row_picked(self, message: RowPicked) -> None:
        self.row_index = message.index
        self.query_one("#tok-text", TextArea).text = message.story
        self.query_one("#tok-title", Input).value = message.title
        self.notify(f"{message.dataset} {message.split} row {message.row}", timeout=2)
        self.action_tokenize()

    def worker_failed(self, worker: Worker[Any], line: str) -> None:
        """Put the pane back in order after a failed worker (the App has notified)."""
        if worker.group == "tok-load":
            self._show_no_tokenizer(line, scratch_hint=True)
        elif worker.group == "tok-train":
            self.query_one(TokenizerHeader).show_problem(line)

    @on(TextArea.Changed, "#tok-text")
    @on(Input.Changed, "#tok-title")
    def _text_changed(self) -> None:
        self._schedule_tokenize()

    @on(Input.Submitted, "#tok-max-src")
    @on(Input.Submitted, "#tok-max-tgt")
    @on(Input.Submitted, "#tok-title")
    def _lengths_submitted(self) -> None:
        self.action_tokenize()

    @on(Input.Submitted, "#tok-spec")
    def _spec_submitted(self) -> None:
        self.action_load_tokenizer()
