"""bench/tokenize_speed.py: its synthetic corpus grows a vocabulary the way real synopses do."""

from __future__ import annotations

import json
import random
from pathlib import Path
from types import ModuleType

import pytest

from core.tokenization.dictionary import open_tagger
from tests.bench_module import load_bench
from tests.conftest import shared_data


def _bench() -> ModuleType:
    return load_bench("tokenize_speed")


def test_a_replaced_name_is_replaced_everywhere_and_fresh_words_never_repeat() -> None:
    b = _bench()
    fresh = b.FreshWords(["アリシアは王都の魔導師。"], random.Random(0))
    text = "アリシアは剣を抜いた。アリシアの剣は折れた。"
    out, done = b.replace_spans(text, 1, fresh, random.Random(1))
    assert done == 1 and out != text
    # One span (every occurrence of it) changed; the sentence frame is intact.
    if "アリシア" not in out:
        name = out.split("は剣")[0]
        assert out == text.replace("アリシア", name) and name not in text
    else:
        assert out.count("剣") == 1 and "アリシア" in out
    words = {fresh.make(kind) for kind in ("kanji", "katakana", "latin", "digits") for _ in range(200)}
    assert len(words) == 800


def test_corpus_is_deterministic_and_stays_under_the_heaps_target_from_the_sample_alone() -> None:
    b = _bench()
    texts, _ = b.base_texts(Path("/nonexistent"))
    tagger = open_tagger("unidic_lite", wakati=True)
    corpus = b.synthesize(texts, 120, tagger)
    assert corpus.texts == b.synthesize(texts, 120, tagger).texts
    target = b.HEAPS_K * corpus.tokens ** b.HEAPS_BETA
    assert corpus.replaced > 0
    # 425 short stories hold too few replaceable words to reach the real curve, but they come close.
    assert 0.8 * target < corpus.distinct <= 1.01 * target


def test_corpus_follows_the_heaps_curve_of_the_real_synopses() -> None:
    b = _bench()
    real = shared_data("narou_real/narou.json")
    texts, source = b.base_texts(real)
    assert "2000 real synopses" in source
    tagger = open_tagger("unidic_lite", wakati=True)
    k, beta, tokens, distinct = b.heaps_fit([r["abstract"] for r in json.loads(real.read_text("utf-8"))], tagger)
    assert (round(k, 2), round(beta, 3)) == (b.HEAPS_K, b.HEAPS_BETA) and distinct == 17288
    corpus = b.synthesize(texts, 2000, tagger)
    # Recombining 2,425 texts finds words faster than reading them in order, so the corpus
    # starts above the curve; once fresh words carry the growth it stays on it.
    assert all(seen >= 0.98 * target for _, _, seen, target in corpus.curve), corpus.curve
    assert corpus.curve[-1][2] == pytest.approx(corpus.curve[-1][3], rel=0.01), corpus.curve
