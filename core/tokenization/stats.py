"""Corpus statistics under a tokenizer: length histograms, truncation, [UNK] rate, chars per token."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from core.tokenization.fast import EncoderSpec, local_encoder

ProgressFn = Callable[[int, int], None]


@dataclass
class LengthSummary:
    """Token lengths of one column (with its special tokens) against a max length.

    lengths: per text, untruncated ([CLS]+pieces+[SEP] for stories, pieces+[SEP] for titles).
    max_length: the model limit; truncated counts texts longer than it.
    """

    lengths: list[int]
    max_length: int

    @property
    def truncated(self) -> int:
        return sum(n > self.max_length for n in self.lengths)

    @property
    def truncated_pct(self) -> float:
        return 100.0 * self.truncated / len(self.lengths) if self.lengths else 0.0

    def percentile(self, q: float) -> int:
        if not self.lengths:
            return 0
        ordered = sorted(self.lengths)
        return ordered[min(int(q / 100 * len(ordered)), len(ordered) - 1)]

    def histogram(self, bins: int = 10) -> tuple[list[str], list[int]]:
        """Labels and counts of equal-width bins up to max_length, plus one bin for longer ones."""
        width = max(1, -(-self.max_length // bins))
        counts = [0] * (bins + 1)
        for n in self.lengths:
            counts[min(n // width, bins) if n <= self.max_length else bins] += 1
        labels = [f"{i * width}–{(i + 1) * width - 1}" for i in range(bins)] + [f">{self.max_length}"]
        return labels, counts


@dataclass
class CorpusStats:
    """What a dataset looks like under one tokenizer.

    stories/titles: length summaries at the chosen max lengths.
    pieces: WordPiece tokens counted (without special tokens); unk: how many are [UNK].
    chars: characters of the raw texts (for chars per token).
    unk_chars: characters that made a word [UNK], most common first.
    """

    stories: LengthSummary
    titles: LengthSummary
    pieces: int
    unk: int
    chars: int
    unk_chars: list[tuple[str, int]] = field(default_factory=list)

    @property
    def unk_rate(self) -> float:
        return 100.0 * self.unk / self.pieces if self.pieces else 0.0

    @property
    def chars_per_token(self) -> float:
        return self.chars / self.pieces if self.pieces else 0.0

    def summary_lines(self) -> list[str]:
        """Truncation of synopses and of titles, then [UNK] rate and chars per token: a line each."""
        lines = [f"{label} truncated at {s.max_length}: {s.truncated_pct:.1f}%  "
                 f"(median {s.percentile(50)}, p95 {s.percentile(95)})"
                 for label, s in (("synopses", self.stories), ("titles", self.titles))]
        lines.append(f"[UNK] rate {self.unk_rate:.2f}% of {self.pieces:,} pieces   "
                     f"chars per token {self.chars_per_token:.2f}")
        return lines

    def unk_chars_line(self) -> str:
        """The characters that made words [UNK], with counts: '𠮷 ×3  𩸽 ×1' ("" when none)."""
        return "  ".join(f"{c} ×{n}" for c, n in self.unk_chars)


def corpus_stats(
    spec: EncoderSpec,
    stories: Sequence[str],
    titles: Sequence[str],
    max_source_len: int,
    max_target_len: int,
    progress: ProgressFn | None = None,
    top: int = 15,
) -> CorpusStats:
    """Encode every story and title in this process (call from a worker thread) and summarise."""
    enc = local_encoder(spec)
    unk_id = enc.unk_id
    vocab = enc.vocab
    unk_chars: Counter[str] = Counter()
    pieces = unk = chars = 0
    total = len(stories) + len(titles)
    done = 0
    story_lengths: list[int] = []
    title_lengths: list[int] = []
    for texts, extra, out in ((stories, 2, story_lengths), (titles, 1, title_lengths)):
        for text in texts:
            ids = enc.piece_ids(text)
            out.append(len(ids) + extra)
            pieces += len(ids)
            chars += len(text)
            n_unk = ids.count(unk_id)
            if n_unk:
                unk += n_unk
                # Which characters are to blame: those with no piece of their own.
                for word in enc._words(text):
                    if enc.cache[word] == (unk_id,):
                        unk_chars.update(ch for ch in word if ch not in vocab and "##" + ch not in vocab)
            done += 1
            if progress is not None and done % 200 == 0:
                progress(done, total)
    if progress is not None:
        progress(total, total)
    return CorpusStats(
        LengthSummary(story_lengths, max_source_len),
        LengthSummary(title_lengths, max_target_len),
        pieces, unk, chars, unk_chars.most_common(top),
    )
