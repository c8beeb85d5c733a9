"""Tokenizer pane: Pilot tests (load, tokenize, truncation, rows, corpus, run and scratch
fallbacks, run suggestions) and a snapshot."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from core.data.fields import Record
from core.data.store import fingerprint, write_dataset
from core.paths import Paths
from tests.generation_tiny import fixed_vocab
from tests.terminal_sizes import SIZE_IDS, TERMINAL_SIZES
from tests.until import until
from tui.app import LaunchOptions, NarouApp

# Original texts written for these tests (stable, so the snapshot's ids never drift).
TEXTS = [
    "辺境の村で暮らす少年は、ある日、森の奥で古い剣を拾った。剣は声を持ち、少年に王国の危機を告げる。",
    "異世界に転生した私は、料理スキルだけを武器に、魔王城の食堂で働くことになりました。",
    "冒険者ギルドの受付嬢は、今日も無理な依頼を持ち込む勇者たちを笑顔で追い返す。",
    "ダンジョンの最下層で目を覚ましたスライムは、地上の光を目指して旅に出る。",
    "婚約破棄された令嬢は、辺境の領地で薬草園を開き、やがて王国一の薬師と呼ばれる。",
    "魔法学院の落ちこぼれが、誰も読めない古代文字の魔導書を読み解いてしまった。",
]
TITLES = ["声を持つ剣と辺境の少年", "魔王城の食堂係", "受付嬢は今日も断る", "スライム地上へ", "辺境の薬師令嬢",
          "落ちこぼれと古代の魔導書"]
TYPED = "異世界に転生した少年は、ChatGPTの力で魔王を倒すことになった𠮷野家の店長。"
TYPED_TITLE = "転生したらAI賢者でした"


def _vocab(folder: Path) -> Path:
    # Built deterministically: the snapshot shows piece ids, which must not depend on the
    # tokenizers trainer's tie-breaking.
    return fixed_vocab(TEXTS + TITLES, 400, folder)


@pytest.fixture(scope="module")
def vocab_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return _vocab(tmp_path_factory.mktemp("pane-vocab"))


@pytest.fixture
def tiny(paths: Paths) -> Paths:
    recs = [Record(t, s, f"N{i:04d}AA", "", None, None, f"test:{i}")
            for i, (s, t) in enumerate(zip(TEXTS, TITLES, strict=True))]
    splits = {"train": recs[:4], "validation": recs[4:5], "test": recs[5:]}
    write_dataset(paths, "tiny", splits, {"name": "tiny", "fingerprint": fingerprint(splits)})
    return paths


def _run(paths: Paths, run_id: str, started: float, vocab_dir: Path, folder: str = "tokenizer",
         complete: bool = True) -> Path:
    """A finished run directory whose `folder` (tokenizer/ or checkpoint-N/) holds a real vocab."""
    run = paths.run(run_id)
    run.mkdir(parents=True, exist_ok=True)
    (run / "config.json").write_text(json.dumps({"run_id": run_id}), encoding="utf-8")
    (run / "status.json").write_text(json.dumps(
        {"state": "finished", "started_at": started, "updated_at": started}), encoding="utf-8")
    shutil.copytree(vocab_dir, run / folder)
    if folder.startswith("checkpoint-") and complete:
        (run / folder / "COMPLETE").write_text("", encoding="utf-8")
    return run / folder


def _app(paths: Paths, monkeypatch: pytest.MonkeyPatch, spec: str) -> NarouApp:
    monkeypatch.setenv("NAROU_TUI_TOKENIZER", spec)
    return NarouApp(paths, LaunchOptions(initial_pane="tokenizer"))


@pytest.mark.anyio
async def test_type_text_see_layers_truncation_rows_and_corpus(
    tiny: Paths, vocab_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from textual.widgets import Input, TextArea

    from core.tokenization.loader import load_tokenizer

    app = _app(tiny, monkeypatch, str(vocab_dir))
    async with app.run_test(size=(120, 40)) as pilot:
        screen = app.screen
        await until(pilot, lambda: screen.loaded is not None)
        header = str(screen.query_one("#tok-header").render())
        assert "unidic_lite 1.0.8" in header
        assert f"{screen.loaded.info.vocab_size} pieces" in header and not screen.loaded.info.warnings

        screen.query_one("#tok-text", TextArea).text = TYPED
        screen.query_one("#tok-title", Input).value = TYPED_TITLE
        source = screen.query_one("#tok-source")
        await until(pilot, lambda: source.breakdown is not None and source.breakdown.text == TYPED)
        tok = load_tokenizer(vocab_dir).tokenizer
        assert source.breakdown.ids == tok(TYPED)["input_ids"]
        assert "[UNK]" in source.breakdown.pieces and source.breakdown.cut is None
        target = screen.query_one("#tok-target").breakdown
        assert target.ids == tok(TYPED_TITLE)["input_ids"][1:] and target.pieces[0] != "[CLS]"
        table = screen.query_one("#tok-morphemes")
        assert table.row_count == len(source.breakdown.morphemes) > 10

        # Shorter max length: the cut is marked where truncation drops pieces.
        max_src = screen.query_one("#tok-max-src", Input)
        max_src.value = "8"
        max_src.focus()
        await pilot.press("enter")
        await until(pilot, lambda: source.breakdown.max_length == 8)
        assert source.breakdown.cut == 7
        assert "✂" in str(source.render())

        # Dictionaries side by side (ipadic is installed here).
        await pilot.press("f3")
        compare = screen.query_one("#tok-compare")
        await until(pilot, lambda: len(compare.segmentations) == 2)
        labels = sorted(compare.segmentations)
        assert labels[0].startswith("ipadic") and labels[1] == "unidic_lite 1.0.8"
        from core.tokenization.analysis import segment

        assert compare.segmentations[labels[0]] == segment(TYPED, "ipadic")
        assert compare.segmentations[labels[1]] == segment(TYPED, "unidic_lite")

        # Dataset rows: next row is the first story of the first split.
        await until(pilot, lambda: screen.dataset == "tiny")
        screen.query_one("#tok-morphemes").focus()
        await pilot.press("ctrl+n")
        await until(pilot, lambda: screen.query_one("#tok-text", TextArea).text == TEXTS[0])
        assert screen.query_one("#tok-title", Input).value == TITLES[0]

        # Corpus statistics in a worker.
        await pilot.press("f6")
        await until(pilot, lambda: "[UNK] rate" in str(screen.query_one("#corpus-summary").render()))
        summary = str(screen.query_one("#corpus-summary").render())
        assert "6 synopses, 6 titles" in summary and "chars per token" in summary
        assert sum(screen.query_one("#hist-src").counts) == 6


@pytest.mark.anyio
async def test_no_tokenizer_offers_scratch_training(
    tiny: Paths, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    app = _app(tiny, monkeypatch, "tohoku-nlp/bert-base-japanese-v3")
    async with app.run_test(size=(120, 40)) as pilot:
        screen = app.screen
        header = screen.query_one("#tok-header")
        await until(pilot, lambda: "no tokenizer" in str(header.render()))
        text = str(header.render())
        assert "tohoku-nlp/bert-base-japanese-v3" in text and "ctrl+b" in text
        await until(pilot, lambda: screen.dataset == "tiny")
        await pilot.press("ctrl+b")
        await until(pilot, lambda: screen.loaded is not None)
        out = tiny.config_dir / "tokenizers" / "scratch-tiny-8000"
        assert (out / "vocab.txt").is_file()
        assert json.loads((out / "tokenizer_config.json").read_text())["mecab_kwargs"]["mecab_dic"] == "unidic_lite"
        assert "scratch vocabulary trained" in str(header.render())


@pytest.mark.anyio
async def test_offline_hub_id_falls_back_to_the_newest_runs_tokenizer(
    tiny: Paths, vocab_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from core.runs.tokenizers import run_tokenizers

    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    _run(tiny, "old-run", 1000.0, vocab_dir)  # a scratch run: tokenizer/ in the run dir
    # A pretrained run: the tokenizer only in its checkpoints; the newer one is half-written.
    ckpt = _run(tiny, "new-run", 2000.0, vocab_dir, "checkpoint-5")
    _run(tiny, "new-run", 2000.0, vocab_dir, "checkpoint-10", complete=False)
    # The newest run of all has a vocabulary that does not load: it is skipped.
    broken = _run(tiny, "broken-run", 3000.0, vocab_dir)
    (broken / "tokenizer_config.json").write_text("{not json", encoding="utf-8")
    # A scratch vocabulary the pane trained earlier comes only after the runs.
    _vocab(tiny.config_dir / "tokenizers" / "scratch-tiny-8000")
    assert [(r.run_id, r.where) for r in run_tokenizers(tiny)] == [
        ("broken-run", "tokenizer"), ("new-run", "checkpoint-5"), ("old-run", "tokenizer")]

    app = _app(tiny, monkeypatch, "tohoku-nlp/bert-base-japanese-v3")
    async with app.run_test(size=(120, 40)) as pilot:
        screen = app.screen
        await until(pilot, lambda: screen.loaded is not None)
        assert screen.loaded.info.path == ckpt.resolve()
        header = str(screen.query_one("#tok-header").render())
        assert header.startswith("run new-run (checkpoint-5)")
        assert "tohoku-nlp/bert-base-japanese-v3" in header
        assert "using the tokenizer of run new-run (the newest run whose tokenizer loads)" in header
        assert screen.query_one("#tok-spec").value == "new-run"
        source = screen.query_one("#tok-source")
        await until(pilot, lambda: source.breakdown is not None)


@pytest.mark.anyio
async def test_run_tokenizers_are_suggested_by_run_id_and_load(
    tiny: Paths, vocab_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from textual.widgets import Input

    old = _run(tiny, "old-run", 1000.0, vocab_dir)
    _run(tiny, "new-run", 2000.0, vocab_dir, "checkpoint-5")
    _run(tiny, "no-tokenizer", 3000.0, vocab_dir, "checkpoint-9", complete=False)
    app = _app(tiny, monkeypatch, str(vocab_dir))
    async with app.run_test(size=(120, 40)) as pilot:
        screen = app.screen
        await until(pilot, lambda: screen.loaded is not None)
        field = screen.query_one("#tok-spec", Input)
        field.focus()
        await pilot.press("ctrl+a", "ctrl+k", *"ne")  # ctrl+a: start of line, ctrl+k: delete to end
        await until(pilot, lambda: field._suggestion == "new-run")
        await pilot.press("ctrl+a", "ctrl+k", *"no")  # a run without a complete tokenizer: none
        await pilot.pause(0.3)
        assert field._suggestion == ""
        await pilot.press("ctrl+a", "ctrl+k", *"tohoku-nlp/bert-base-japanese-c")  # presets still
        await until(pilot, lambda: field._suggestion == "tohoku-nlp/bert-base-japanese-char-v2")
        await pilot.press("ctrl+a", "ctrl+k", *"old")
        await until(pilot, lambda: field._suggestion == "old-run")
        await pilot.press("right", "enter")  # accept the suggestion, load it
        await until(pilot, lambda: screen.loaded is not None and screen.loaded.info.name == "old-run")
        assert screen.loaded.info.path == old.resolve()
        header = str(screen.query_one("#tok-header").render())
        assert header.startswith("run old-run (tokenizer)") and "using" not in header


@pytest.mark.anyio
async def test_v1_style_folder_shows_ipadic_and_the_warning(
    tiny: Paths, vocab_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from tests.core.test_tokenization import v1_style_dir

    folder = v1_style_dir(vocab_dir, tmp_path / "v1")
    app = _app(tiny, monkeypatch, str(folder))
    async with app.run_test(size=(120, 40)) as pilot:
        screen = app.screen
        await until(pilot, lambda: screen.loaded is not None)
        header = str(screen.query_one("#tok-header").render())
        assert "dictionary ipadic" in header and "cl-tohoku/bert-base-japanese v1" in header
        assert screen.encoder_spec.dictionary == "ipadic"


@pytest.mark.parametrize("size", TERMINAL_SIZES, ids=SIZE_IDS)
def test_snapshot_with_japanese_text(snap_compare, tiny: Paths, vocab_dir: Path,  # type: ignore[no-untyped-def]
                                     monkeypatch: pytest.MonkeyPatch, size: tuple[int, int]) -> None:
    from textual.widgets import Input, TextArea

    # Loaded by run id: the header then names the run, not this session's temporary folder.
    _run(tiny, "pane-run", 1000.0, vocab_dir)
    app = _app(tiny, monkeypatch, "pane-run")

    async def ready(pilot) -> None:  # type: ignore[no-untyped-def]
        screen = pilot.app.screen
        await until(pilot, lambda: screen.loaded is not None)
        screen.query_one("#tok-text", TextArea).text = TYPED
        screen.query_one("#tok-title", Input).value = TYPED_TITLE
        screen.query_one("#tok-max-src", Input).value = "24"
        screen.query_one("#tok-morphemes").focus()
        await pilot.press("ctrl+t")
        source = screen.query_one("#tok-source")
        await until(pilot, lambda: source.breakdown is not None and source.breakdown.max_length == 24)
        await pilot.pause(0.3)

    assert snap_compare(app, terminal_size=size, run_before=ready)
