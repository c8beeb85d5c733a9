"""Character-level title metrics for Japanese (whitespace tokenisation means nothing here).

Every metric compares *normalised* strings: Unicode NFKC (full-width ＡＢＣ１ → ABC1, so a
half-/full-width difference is not an error) with all whitespace removed (titles use
full-width spaces as decoration). Scores in [0, 100] unless said otherwise.
"""

from __future__ import annotations

import unicodedata
from collections import Counter
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any

# A run is flagged as collapsed when distinct outputs ÷ inputs falls below this.
COLLAPSE_THRESHOLD = 0.5
# Shortest verbatim run of characters that counts as copied from the synopsis.
COPY_MIN_CHARS = 2


def normalize(text: str) -> str:
    """NFKC, then every whitespace character removed."""
    return "".join(ch for ch in unicodedata.normalize("NFKC", text) if not ch.isspace())


def char_bleu(hyps: Sequence[str], refs: Sequence[str]) -> float:
    """Corpus BLEU over characters (sacrebleu, tokenize="char", default exp smoothing)."""
    import sacrebleu

    if not hyps:
        return 0.0
    h = [normalize(x) for x in hyps]
    r = [normalize(x) for x in refs]
    return float(sacrebleu.corpus_bleu(h, [r], tokenize="char").score)


def chrf(hyps: Sequence[str], refs: Sequence[str]) -> float:
    """Corpus chrF (sacrebleu defaults: character n-grams 1–6, β = 2, no word n-grams)."""
    import sacrebleu

    if not hyps:
        return 0.0
    h = [normalize(x) for x in hyps]
    r = [normalize(x) for x in refs]
    return float(sacrebleu.corpus_chrf(h, [r]).score)


def lcs_length(a: str, b: str) -> int:
    """Length of the longest common subsequence (O(len(a)·len(b)) time, O(len(b)) memory)."""
    if not a or not b:
        return 0
    prev = [0] * (len(b) + 1)
    for ch in a:
        cur = [0]
        for j, other in enumerate(b, start=1):
            cur.append(prev[j - 1] + 1 if ch == other else max(prev[j], cur[j - 1]))
        prev = cur
    return prev[-1]


def rouge_l(hyp: str, ref: str) -> float:
    """ROUGE-L F1 over characters: LCS / len as precision and recall, harmonic mean, × 100."""
    h, r = normalize(hyp), normalize(ref)
    lcs = lcs_length(h, r)
    if lcs == 0:
        return 0.0
    p, rec = lcs / len(h), lcs / len(r)
    return 100.0 * 2 * p * rec / (p + rec)


def mean_rouge_l(hyps: Sequence[str], refs: Sequence[str]) -> float:
    """Mean of per-title character ROUGE-L F1."""
    if not hyps:
        return 0.0
    return sum(rouge_l(h, r) for h, r in zip(hyps, refs, strict=True)) / len(hyps)


def exact_match(hyps: Sequence[str], refs: Sequence[str]) -> float:
    """Percentage of titles equal to the reference after normalisation."""
    if not hyps:
        return 0.0
    same = sum(normalize(h) == normalize(r) for h, r in zip(hyps, refs, strict=True))
    return 100.0 * same / len(hyps)


def distinct_n(texts: Sequence[str], n: int) -> float:
    """distinct-n over characters: distinct character n-grams in all titles ÷ all of them.

    Pooled over the whole set (Li et al. 2016's corpus-level definition), so one title
    repeated for every input scores low even if that title is internally varied. A title
    shorter than n contributes no n-grams; 0 when there are none at all. In [0, 1].
    """
    grams: list[str] = []
    for t in texts:
        s = normalize(t)
        grams.extend(s[i:i + n] for i in range(len(s) - n + 1))
    return len(set(grams)) / len(grams) if grams else 0.0


def length_error(hyps: Sequence[str], refs: Sequence[str]) -> tuple[float, float]:
    """(mean |len(hyp) − len(ref)|, mean len(hyp) − len(ref)) in normalised characters."""
    if not hyps:
        return 0.0, 0.0
    diffs = [len(normalize(h)) - len(normalize(r)) for h, r in zip(hyps, refs, strict=True)]
    return sum(abs(d) for d in diffs) / len(diffs), sum(diffs) / len(diffs)


def mean_length(texts: Sequence[str]) -> float:
    """Mean length of the titles in normalised characters (0 for none)."""
    return sum(len(normalize(t)) for t in texts) / len(texts) if texts else 0.0


def copied_chars(title: str, synopsis: str, min_chars: int = COPY_MIN_CHARS) -> int:
    """Characters of `title` inside some substring of ≥ min_chars that occurs in `synopsis`."""
    t, s = normalize(title), normalize(synopsis)
    covered = [False] * len(t)
    for a in range(len(t)):
        # Longest match starting at a (any prefix of a match is a match, so grow until it fails).
        b = a
        while b < len(t) and t[a:b + 1] in s:
            b += 1
        if b - a >= min_chars:
            for i in range(a, b):
                covered[i] = True
    return sum(covered)


def copy_rate(title: str, synopsis: str, min_chars: int = COPY_MIN_CHARS) -> float:
    """Share of the title's characters copied verbatim from the synopsis, in [0, 1].

    A character counts as copied when it lies inside a run of at least `min_chars`
    consecutive title characters that also appears, contiguous, in the synopsis (single
    characters are too common in Japanese to count as copying). Empty title → 0.
    """
    t = normalize(title)
    return copied_chars(title, synopsis, min_chars) / len(t) if t else 0.0


def mean_copy_rate(titles: Sequence[str], synopses: Sequence[str]) -> float:
    if not titles:
        return 0.0
    return sum(copy_rate(t, s) for t, s in zip(titles, synopses, strict=True)) / len(titles)


@dataclass(frozen=True)
class CollapseReport:
    """Do the outputs depend on the input? (The classic BERT2BERT failure says no.)

    n_inputs / n_distinct: synopses and distinct normalised outputs.
    ratio: n_distinct ÷ n_inputs (1 = every input got its own title).
    top_output / top_share: the most frequent output and the fraction of inputs that got it.
    collapsed: ratio below `threshold` (never flagged with fewer than 2 inputs).
    """

    n_inputs: int
    n_distinct: int
    ratio: float
    top_output: str
    top_share: float
    threshold: float
    collapsed: bool

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


def collapse(outputs: Sequence[str], threshold: float = COLLAPSE_THRESHOLD) -> CollapseReport:
    """Collapse detector over one output per input."""
    norm = [normalize(o) for o in outputs]
    n = len(norm)
    if n == 0:
        return CollapseReport(0, 0, 0.0, "", 0.0, threshold, False)
    counts = Counter(norm)
    top, top_n = counts.most_common(1)[0]
    ratio = len(counts) / n
    return CollapseReport(n, len(counts), ratio, top, top_n / n, threshold,
                          n >= 2 and ratio < threshold)


@dataclass(frozen=True)
class TitleScores:
    """All metrics of one system (model, baseline or reference predictions) on one set."""

    n: int
    bleu: float
    chrf: float
    rouge_l: float
    exact_match: float
    distinct_1: float
    distinct_2: float
    length_abs_error: float
    length_bias: float
    copy_rate: float
    collapse: CollapseReport
    mean_len: float = 0.0

    def to_json(self) -> dict[str, Any]:
        out = asdict(self)
        out["collapse"] = self.collapse.to_json()
        return out


def score_titles(
    hyps: Sequence[str], refs: Sequence[str], synopses: Sequence[str],
    collapse_threshold: float = COLLAPSE_THRESHOLD,
) -> TitleScores:
    """Every metric for parallel lists of generated titles, real titles and synopses."""
    if not len(hyps) == len(refs) == len(synopses):
        raise ValueError("hyps, refs and synopses must have the same length")
    abs_err, bias = length_error(hyps, refs)
    return TitleScores(
        n=len(hyps),
        bleu=char_bleu(hyps, refs),
        chrf=chrf(hyps, refs),
        rouge_l=mean_rouge_l(hyps, refs),
        exact_match=exact_match(hyps, refs),
        distinct_1=distinct_n(hyps, 1),
        distinct_2=distinct_n(hyps, 2),
        length_abs_error=abs_err,
        length_bias=bias,
        copy_rate=mean_copy_rate(hyps, synopses),
        collapse=collapse(hyps, collapse_threshold),
        mean_len=mean_length(hyps),
    )
