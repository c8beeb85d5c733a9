"""Every evaluation metric against values worked out by hand on small strings."""

from __future__ import annotations

import math

import pytest

from core.evaluation.baselines import first_chars, most_common_title, prefix_length
from core.evaluation.metrics import (
    char_bleu,
    chrf,
    collapse,
    copied_chars,
    copy_rate,
    distinct_n,
    exact_match,
    lcs_length,
    length_error,
    normalize,
    rouge_l,
    score_titles,
)


def test_normalize_folds_width_and_drops_spaces() -> None:
    assert normalize("ＲＥ：ゼロ　から") == "RE:ゼロから"
    assert normalize(" a b\n") == "ab"


def test_char_bleu_by_hand() -> None:
    assert char_bleu(["魔王の城"], ["魔王の城"]) == pytest.approx(100.0)
    # chars 魔王の剣 vs 魔王の城: 1-gram 3/4, 2-gram 2/3, 3-gram 1/2, 4-gram 0/1 → smoothed
    # to 1/(2·1) (sacrebleu "exp"); brevity penalty 1 (equal lengths).
    expected = 100 * math.exp((math.log(3 / 4) + math.log(2 / 3) + math.log(1 / 2)
                               + math.log(1 / 2)) / 4)
    assert char_bleu(["魔王の剣"], ["魔王の城"]) == pytest.approx(expected, abs=1e-6)
    assert char_bleu(["魔王の剣"], ["魔王の城"]) == pytest.approx(59.4604, abs=1e-3)


def test_chrf_by_hand() -> None:
    assert chrf(["勇者"], ["勇者"]) == pytest.approx(100.0)
    # 勇者 vs 勇気: order 1 P=R=1/2; order 2 P=R=0; orders 3-6 absent (not counted).
    # mean P = mean R = 1/4 → F_β=2 = 5·(1/4)(1/4) / (4·1/4 + 1/4) = 1/4.
    assert chrf(["勇者"], ["勇気"]) == pytest.approx(25.0)
    assert chrf(["竜"], ["猫"]) == pytest.approx(0.0)


def test_lcs_and_rouge_l_by_hand() -> None:
    assert lcs_length("ABCBDAB", "BDCABA") == 4
    assert lcs_length("", "abc") == 0
    # 異世界の剣 vs 剣と異世界: LCS 異世界 = 3; P = 3/5, R = 3/5 → F1 = 60.
    assert rouge_l("異世界の剣", "剣と異世界") == pytest.approx(60.0)
    # 魔王 (2) vs 魔王の娘 (4): LCS 2; P = 1, R = 1/2 → F1 = 2/3.
    assert rouge_l("魔王", "魔王の娘") == pytest.approx(200 / 3)
    assert rouge_l("", "魔王") == 0.0


def test_exact_match_ignores_width_and_spaces() -> None:
    assert exact_match(["ＳＥの旅", "猫", "犬"], ["SEの 旅", "猫", "狐"]) == pytest.approx(200 / 3)


def test_distinct_n_by_hand() -> None:
    # chars: あいあ + いう → 1-grams あ,い,あ,い,う: 3 distinct of 5.
    assert distinct_n(["あいあ", "いう"], 1) == pytest.approx(3 / 5)
    # 2-grams あい, いあ, いう: 3 distinct of 3.
    assert distinct_n(["あいあ", "いう"], 2) == pytest.approx(1.0)
    # the same title twice halves distinct-2.
    assert distinct_n(["魔王城", "魔王城"], 2) == pytest.approx(2 / 4)
    assert distinct_n(["あ"], 2) == 0.0


def test_length_error_by_hand() -> None:
    abs_err, bias = length_error(["あいう", "あ"], ["あ", "あいう"])
    assert abs_err == pytest.approx(2.0)
    assert bias == pytest.approx(0.0)
    assert length_error(["あいうえ"], ["あ"]) == (3.0, 3.0)


def test_copy_rate_by_hand() -> None:
    synopsis = "勇者は魔王の城へ向かう。"
    # 魔王の城 copied (4 chars); と is one char only; 剣 absent → 4/6.
    assert copied_chars("魔王の城と剣", synopsis) == 4
    assert copy_rate("魔王の城と剣", synopsis) == pytest.approx(4 / 6)
    # single characters found separately do not count: 城, 王 are both in the synopsis.
    assert copy_rate("城王", synopsis) == 0.0
    assert copy_rate("勇者は魔王", synopsis) == pytest.approx(1.0)
    assert copy_rate("", synopsis) == 0.0


def test_collapse_detector() -> None:
    same = collapse(["竜の卵"] * 9 + ["猫"])
    assert same.n_distinct == 2 and same.ratio == pytest.approx(0.2)
    assert same.top_output == "竜の卵" and same.top_share == pytest.approx(0.9)
    assert same.collapsed
    varied = collapse(["あ", "い", "う", "あ"])
    assert varied.ratio == pytest.approx(0.75) and not varied.collapsed
    assert not collapse(["一つだけ"]).collapsed


def test_baselines() -> None:
    assert prefix_length(["あいう", "あいうえお", "あ"]) == 3
    assert first_chars(["　昔々 あるところに"], 4) == ["昔々ある"]
    assert most_common_title(["猫", "犬", "犬", "猫", "狐"]) == "猫"
    assert most_common_title([]) == ""


def test_score_titles_collects_everything() -> None:
    s = score_titles(["魔王の城", "魔王の城"], ["魔王の城", "勇者の旅"], ["魔王の城へ", "旅"])
    assert s.n == 2 and s.exact_match == pytest.approx(50.0)
    # 1 distinct of 2 = 0.5, which is not *below* the 0.5 threshold.
    assert s.collapse.ratio == pytest.approx(0.5) and not s.collapse.collapsed
    # ROUGE-L: 100 and 魔王の城 vs 勇者の旅 (LCS の = 1, P = R = 1/4 → 25) → mean 62.5.
    assert s.rouge_l == pytest.approx(62.5)
    # copy: 魔王の城 fully inside 魔王の城へ (1), not in 旅 (0) → 0.5.
    assert s.copy_rate == pytest.approx(0.5)
