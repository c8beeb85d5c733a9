"""Texts long enough to crash MeCab (SIGSEGV) are cut or split before it, without changing
any id the model sees."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from core.paths import REPO_ROOT
from core.tokenization.fast import FastEncoder, spec_from_dir
from core.tokenization.guard import (
    MECAB_MAX_CHARS,
    TOKEN_MARGIN,
    bounded_prefix,
    cut_for_model,
    mecab_pieces,
)
from tests.core.data_helpers import row, write_jsonl
from tests.generation_tiny import fixed_vocab, sample_pairs


@pytest.fixture(scope="module")
def vocab(tmp_path_factory: pytest.TempPathFactory) -> Path:
    texts = [t for r in sample_pairs() for t in (r["story"], r["title"])]
    return fixed_vocab(texts, 1200, tmp_path_factory.mktemp("guard") / "vocab")


@pytest.fixture(scope="module")
def encoder(vocab: Path) -> FastEncoder:
    return FastEncoder(spec_from_dir(vocab, "unidic_lite"))


def _long_synopsis() -> str:
    """Real synopses joined until the text is far over 512 tokens."""
    return "\n".join(r["story"] for r in sample_pairs()[:30])


def test_mecab_pieces_cover_the_text_at_sentence_ends() -> None:
    text = "勇者は旅に出た。" * 40_000  # 320,000 characters
    pieces = mecab_pieces(text)
    assert "".join(pieces) == text and max(map(len, pieces)) <= MECAB_MAX_CHARS
    assert all(p.endswith("。") for p in pieces)
    # Runs without a break are cut short: MeCab takes quadratic time on them.
    run = "勇者。" + "x" * 2_500 + "終わり"
    assert mecab_pieces(run) == ["勇者。", "x" * 1000, "x" * 1000, "x" * 500 + "終わり"]
    assert mecab_pieces("短い") == ["短い"]


@pytest.mark.parametrize("max_length", [64, 512])
def test_ids_the_model_sees_do_not_change_with_a_huge_tail(encoder: FastEncoder, max_length: int) -> None:
    text = _long_synopsis()
    full = encoder.piece_ids(text)  # the whole text through MeCab, no guard involved
    assert len(full) > max_length + TOKEN_MARGIN
    want = [encoder.cls_id, *full[: max_length - 2], encoder.sep_id]
    for tail in ("王都の物語。" * 200_000, "\n" + " " * 300_000 + "end", "x" * 900_000):
        assert encoder.encode(text + tail, "source", max_length) == want
    assert encoder.encode(text, "target", max_length) == [*full[: max_length - 1], encoder.sep_id]


def test_a_prefix_of_spaces_grows_until_enough_tokens(encoder: FastEncoder) -> None:
    text = " " * 10_000 + _long_synopsis() * 5
    prefix, ids = bounded_prefix(text, 512, encoder.piece_ids)
    assert len(ids) >= 512 + TOKEN_MARGIN and len(prefix) < len(text)
    assert encoder.encode(text, "source", 512)[1:-1] == encoder.piece_ids(text)[:510]


def test_bert_japanese_tokenizer_path_keeps_its_ids(vocab: Path) -> None:
    from core.tokenization.loader import load_tokenizer

    tok = load_tokenizer(str(vocab)).tokenizer
    text = _long_synopsis()
    cut = cut_for_model(text + "魔王城。" * 250_000, 512, tok.tokenize)
    assert len(cut) < MECAB_MAX_CHARS
    ids = tok(cut, truncation=True, max_length=512)["input_ids"]
    assert ids == tok(text, truncation=True, max_length=512)["input_ids"]
    assert cut_for_model("短い話", 512, tok.tokenize) == "短い話"


def test_crash_sized_texts_no_longer_kill_the_process(vocab: Path, tmp_path: Path) -> None:
    # In a child process: a segfault there fails this test instead of killing pytest. A bare
    # fugashi parse here dies with SIGSEGV on the first two (600k chars of short words, 1M of
    # prose) and runs for minutes on the third (one 200k-letter word).
    script = (
        "import sys, json\n"
        "from core.tokenization.fast import FastEncoder, spec_from_dir\n"
        "enc = FastEncoder(spec_from_dir(sys.argv[1], 'unidic_lite'))\n"
        "words, prose = 'a ' * 300_000, '吾輩は猫である。名前はまだ無い。' * 62_500\n"
        "out = [len(enc.encode(words, 'pieces', None)), len(enc.encode(prose, 'source', 512)),\n"
        "       len(enc.encode(prose, 'pieces', None)) > 500_000, len(enc.encode('x' * 200_000, 'source', 512))]\n"
        "print(json.dumps(out))\n"
    )
    proc = subprocess.run([sys.executable, "-c", script, str(vocab)], capture_output=True, text=True,
                          timeout=300, cwd=REPO_ROOT, env={"PYTHONPATH": str(REPO_ROOT), "PATH": "/usr/bin:/bin"})
    assert proc.returncode == 0, f"exit {proc.returncode}: {proc.stderr[-2000:]}"
    assert json.loads(proc.stdout) == [300_000, 512, True, 512]


def test_import_cuts_texts_too_long_for_mecab(paths, tmp_path: Path) -> None:
    from core.data.importer import import_dataset

    src = write_jsonl(tmp_path / "long.jsonl", [row(1), row(2, story="a " * 450_000), row(3)])
    report = import_dataset(src, "long", paths)  # 900 kB: under the default 1 MB per record
    assert report.loaded == 3 and report.skipped_total == 0
    [note] = report.notes
    assert note.endswith("long.jsonl:2: field 'story': 900,000 characters cut to the first 100,000 "
                         "(a model reads only the first few hundred tokens)")
