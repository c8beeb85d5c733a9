"""Corpus statistics as the Tokenizer pane words them, and paths shortened for display."""

from __future__ import annotations

from core.paths import short_path
from core.tokenization.stats import CorpusStats, LengthSummary


def test_summary_lines_give_truncation_unk_rate_and_chars_per_token() -> None:
    stats = CorpusStats(stories=LengthSummary([10, 20, 600, 40], 512),
                        titles=LengthSummary([5, 70], 64), pieces=2000, unk=5, chars=2820,
                        unk_chars=[("𠮷", 3), ("𩸽", 1)])
    assert stats.summary_lines() == [
        "synopses truncated at 512: 25.0%  (median 40, p95 600)",
        "titles truncated at 64: 50.0%  (median 70, p95 70)",
        "[UNK] rate 0.25% of 2,000 pieces   chars per token 1.41",
    ]
    assert stats.unk_chars_line() == "𠮷 ×3  𩸽 ×1"
    assert CorpusStats(LengthSummary([], 8), LengthSummary([], 8), 0, 0, 0).unk_chars_line() == ""


def test_short_path_keeps_the_tail() -> None:
    assert short_path("/home/me/work/vocab/unidic-lite/dicdir") == "…/vocab/unidic-lite/dicdir"
    assert short_path("/srv/dic", 2) == "…/srv/dic"  # the root counts as a component
    assert short_path("a/b/c") == "a/b/c"  # short enough: no ellipsis
    assert short_path("tokenizer", 2) == "tokenizer"
