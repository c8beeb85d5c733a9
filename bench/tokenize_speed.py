"""Batch tokenization per CPU core: the fast exact path vs BertJapaneseTokenizer, and vs MeCab's own rate.

Corpus: N synthetic synopses (default 100k) whose vocabulary grows like that of N distinct real
ones. Sentences of the base texts (the bundled sample's stories and, when present, real
synopses: --real FILE, by default the real-data folder CI keeps beside the checkout) are
recombined into synopses of 2-7 sentences, and kanji compounds, katakana names, Latin words and numbers in them are replaced by
freshly made ones (every occurrence in that synopsis, as a name recurs), as many as it takes
for the count of distinct MeCab words after T tokens to follow Heaps' law V = K·T^β with K and
β fitted on the real synopses (HEAPS_K, HEAPS_BETA; refitted and printed when the real data is
present). Recombination alone stops finding new words after a few thousand synopses, and the
fast path's word cache then hits far more often than it would on real text.

Figures, all from this one run:
- headline: synopses per CPU-second of the fast path (MeCab -Owakati + cached greedy
  WordPiece, one worker process per CPU, pool start-up included) ÷ synopses per CPU-second of
  BertJapaneseTokenizer in this process, on a subset spread over the whole corpus; the ids
  are compared on that subset and the bench exits with status 1 if any differ.
- the fast path's rate as a fraction of MeCab's own `-Owakati` parse (fugashi GenericTagger,
  in this process) of the same synopses after NFKC, per CPU-second: the limit of a design that
  parses once per text. It is timed on a subset spread over the corpus (--mecab-n).
- The reference and the MeCab parse are each timed in two halves, before and after the fast
  path, so load from other programs that comes and goes weighs on all three alike.
- wall-clock rates, for the record (on a shared machine load shows there, not in CPU seconds).

The vocabulary is a scratch WordPiece vocabulary trained on the base texts in a temporary
folder. Last line: one JSON object.

    python bench/tokenize_speed.py [--n 100000] [--reference-n 4000] [--vocab-size 32768]
"""

from __future__ import annotations

import sys
from pathlib import Path

# Run as a script: import `core` from this checkout (the repository root), not an install.
_HERE = Path(__file__).resolve().parent
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != _HERE]
REPO = _HERE.parent
sys.path.insert(0, str(REPO))

import argparse  # noqa: E402
import json  # noqa: E402
import math  # noqa: E402
import os  # noqa: E402
import random  # noqa: E402
import re  # noqa: E402
import resource  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
import unicodedata  # noqa: E402
from collections import Counter  # noqa: E402
from dataclasses import dataclass, field  # noqa: E402
from itertools import accumulate  # noqa: E402
from typing import Any  # noqa: E402

REAL = REPO.parent / "shared" / "data" / "narou_real" / "narou.json"
# Heaps' law of the 2,000 real synopses (unidic-lite MeCab words after NFKC, synopses in a
# fixed shuffled order, fitted on the last 95 % of the curve): 229,634 tokens, 17,288
# distinct words. Extrapolated to 100k synopses (11.5M tokens) it predicts ≈ 190k words.
HEAPS_K = 9.60
HEAPS_BETA = 0.609
SENTENCE_END = re.compile(r"(?<=[。！？!?])")
# What gets replaced by a fresh word, and how often each kind is picked: the share of each
# kind among the words the real synopses first use in their second half. Kanji-with-kana
# (inflected rare verbs) and hiragana words are counted as kanji compounds, their nearest
# stand-in that can be made up.
SPANS = {
    "kanji": re.compile(r"[\u4e00-\u9fff々]{2,4}"),
    "katakana": re.compile(r"[\u30a1-\u30fa\u30fc\uff66-\uff9f]{2,}"),
    "latin": re.compile(r"[A-Za-zＡ-Ｚａ-ｚ]{2,}"),
    "digits": re.compile(r"[0-9０-９]+"),
}
NEW_WORD_MIX = {"kanji": 0.79, "katakana": 0.17, "latin": 0.03, "digits": 0.01}
# Lengths of those late new words in the real synopses (katakana: 2-7 chars; kanji: mostly 2).
KATAKANA_LENGTHS = {2: 145, 3: 214, 4: 249, 5: 130, 6: 86, 7: 30}
KANJI_LENGTHS = {2: 85, 3: 15}
NO_START = set("ーッャュョァィゥェォヮヵヶン")


def base_texts(real: Path) -> tuple[list[str], str]:
    """Texts to recombine and a note on where they came from."""
    rows = [json.loads(x) for x in (REPO / "datasets/sample/sample.jsonl").read_text(encoding="utf-8").splitlines()
            if x.strip()]
    texts = [r["story"] for r in rows]
    source = f"{len(texts)} sample stories"
    if real.is_file():
        extra = [r["abstract"] for r in json.loads(real.read_text(encoding="utf-8"))]
        texts += extra
        source += f" + {len(extra)} real synopses"
    return texts, source


def heaps_fit(texts: list[str], tagger: Any, seed: int = 0) -> tuple[float, float, int, int]:
    """(K, β, tokens, distinct words) of `texts` in a shuffled order, as HEAPS_K/BETA were made."""
    import numpy as np

    order = list(texts)
    random.Random(seed).shuffle(order)
    seen: set[str] = set()
    tokens, curve = 0, []
    for text in order:
        words = tagger.parse(unicodedata.normalize("NFKC", text)).split()
        tokens += len(words)
        seen.update(words)
        curve.append((tokens, len(seen)))
    pts = np.array([p for p in curve if p[0] > 0.05 * tokens], dtype=float)
    beta, log_k = np.polyfit(np.log(pts[:, 0]), np.log(pts[:, 1]), 1)
    return math.exp(log_k), float(beta), tokens, len(seen)


class FreshWords:
    """Made-up words of each kind, never the same twice, from the base texts' own characters."""

    def __init__(self, texts: list[str], rng: random.Random) -> None:
        chars = Counter(ch for t in texts for ch in t)
        kanji = [c for c in chars if "\u4e00" <= c <= "\u9fff"]
        kata = [c for c in chars if "\u30a1" <= c <= "\u30fa" or c == "ー"]
        # Square-root weights: common characters stay common, rare ones come up often enough
        # to make rare compounds.
        self.kanji, self.kanji_w = kanji, [math.sqrt(chars[c]) for c in kanji]
        self.kata, self.kata_w = kata, [chars[c] for c in kata]
        self.rng = rng
        self.made: set[str] = set(chars)

    def _pick(self, lengths: dict[int, int]) -> int:
        return self.rng.choices(list(lengths), weights=list(lengths.values()))[0]

    def _one(self, kind: str) -> str:
        rng = self.rng
        if kind == "kanji":
            return "".join(rng.choices(self.kanji, weights=self.kanji_w, k=self._pick(KANJI_LENGTHS)))
        if kind == "katakana":
            word = "".join(rng.choices(self.kata, weights=self.kata_w, k=self._pick(KATAKANA_LENGTHS)))
            return word if word[0] not in NO_START else ""
        if kind == "latin":
            word = "".join(rng.choices("abcdefghijklmnopqrstuvwxyz", k=rng.randint(3, 8)))
            return word.capitalize()
        return str(rng.randint(10, 99_999))

    def make(self, kind: str) -> str:
        word, tries = "", 0
        while not word or word in self.made:
            tries += 1
            # A small character inventory runs out of short words: grow the word instead.
            word = word + self._one(kind) if tries > 20 else self._one(kind)
        self.made.add(word)
        return word


@dataclass
class Corpus:
    """The synthetic synopses and what making them measured."""

    texts: list[str] = field(default_factory=list)
    tokens: int = 0
    distinct: int = 0
    replaced: int = 0
    curve: list[tuple[int, int, int, int]] = field(default_factory=list)  # (synopses, tokens, words, target)


def replace_spans(text: str, count: int, fresh: FreshWords, rng: random.Random) -> tuple[str, int]:
    """`text` with up to `count` distinct spans (every occurrence of each) replaced by fresh words."""
    found = {kind: sorted({m.group() for m in rx.finditer(text)}) for kind, rx in SPANS.items()}
    done = 0
    for _ in range(count):
        kinds = [k for k in NEW_WORD_MIX if found[k]]
        if not kinds:
            break
        want = rng.choices(list(NEW_WORD_MIX), weights=list(NEW_WORD_MIX.values()))[0]
        kind = want if want in kinds else rng.choice(kinds)
        span = found[kind].pop(rng.randrange(len(found[kind])))
        text = text.replace(span, fresh.make(kind))
        done += 1
    return text, done


def synthesize(texts: list[str], n: int, tagger: Any, seed: int = 0) -> Corpus:
    """N synopses whose distinct MeCab words follow HEAPS_K·tokens^HEAPS_BETA (see the docstring)."""
    sentences = [s for t in texts for s in SENTENCE_END.split(t) if s.strip()]
    rng = random.Random(seed)
    fresh = FreshWords(texts, rng)
    seen: set[str] = set()
    corpus = Corpus()
    chars = 0
    marks = {max(1, n * q // 10) for q in range(1, 11)}
    for i in range(1, n + 1):
        text = "".join(rng.choices(sentences, k=rng.randint(2, 7)))
        # Aim at the target after this synopsis; a fresh word usually adds one new word, and
        # any shortfall is made up by the next synopsis.
        expected = corpus.tokens + len(text) * (corpus.tokens / chars if chars else 0.7)
        short = HEAPS_K * expected ** HEAPS_BETA - len(seen)
        if short >= 1:
            text, done = replace_spans(text, math.ceil(short), fresh, rng)
            corpus.replaced += done
        words = tagger.parse(unicodedata.normalize("NFKC", text)).split()
        seen.update(words)
        corpus.tokens += len(words)
        chars += len(text)
        corpus.texts.append(text)
        if i in marks:
            corpus.curve.append((i, corpus.tokens, len(seen), round(HEAPS_K * corpus.tokens ** HEAPS_BETA)))
    corpus.distinct = len(seen)
    return corpus


def spread(n: int, k: int) -> list[int]:
    """Up to `k` indices spread evenly over range(n): early and late synopses alike."""
    step = max(1, n // max(1, k))
    return list(range(0, n, step))[:k]


def children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=100_000, help="synopses in the corpus")
    ap.add_argument("--reference-n", type=int, default=4_000,
                    help="synopses (spread over the corpus) timed through BertJapaneseTokenizer and compared")
    ap.add_argument("--mecab-n", type=int, default=20_000,
                    help="synopses (spread over the corpus) timed through MeCab -Owakati alone")
    ap.add_argument("--vocab-size", type=int, default=32768)
    ap.add_argument("--max-length", type=int, default=512)
    ap.add_argument("--num-proc", type=int, default=None, help="fast-path workers (default: CPUs)")
    ap.add_argument("--real", type=Path, default=REAL, help="real Narou synopses (JSON array with `abstract`), "
                    "used when the file exists")
    args = ap.parse_args()

    from core.tokenization.dictionary import open_tagger
    from core.tokenization.fast import default_procs, encode_many, spec_from_dir
    from core.tokenization.loader import load_tokenizer
    from core.tokenization.scratch import train_wordpiece

    t_start = time.perf_counter()
    texts, source = base_texts(args.real)
    spec_dictionary = "unidic_lite"
    tagger = open_tagger(spec_dictionary, wakati=True)
    real_fit = None
    if args.real.is_file():
        real = [r["abstract"] for r in json.loads(args.real.read_text(encoding="utf-8"))]
        real_fit = heaps_fit(real, tagger)
    corpus = synthesize(texts, args.n, tagger)
    docs = corpus.texts
    chars = sum(map(len, docs))

    with tempfile.TemporaryDirectory(prefix="tokenize-speed-") as tmp:
        vocab_dir = train_wordpiece(texts, args.vocab_size, Path(tmp) / "vocab")
        tok = load_tokenizer(vocab_dir).tokenizer
        spec = spec_from_dir(vocab_dir, spec_dictionary)
    procs = args.num_proc or default_procs()
    picked = spread(len(docs), args.reference_n)
    half = len(picked) // 2
    # NFKC first, untimed: the fast path hands MeCab normalised text too.
    to_parse = [unicodedata.normalize("NFKC", docs[i]) for i in spread(len(docs), args.mecab_n)]
    mid = len(to_parse) // 2

    def run_reference(index: list[int]) -> tuple[list[list[int]], float, float]:
        w0, c0 = time.perf_counter(), time.process_time()
        ids = [tok(docs[i], max_length=args.max_length, truncation=True)["input_ids"] for i in index]
        return ids, time.perf_counter() - w0, time.process_time() - c0

    def run_mecab(texts: list[str]) -> tuple[float, float]:
        w0, c0 = time.perf_counter(), time.process_time()
        for text in texts:
            tagger.parse(text)
        return time.perf_counter() - w0, time.process_time() - c0

    load_before = os.getloadavg()[0]
    ref_a, ref_wall_a, ref_cpu_a = run_reference(picked[:half])
    mecab_wall_a, mecab_cpu_a = run_mecab(to_parse[:mid])
    w0, c0, k0 = time.perf_counter(), time.process_time(), children_cpu()
    flat, lengths = encode_many(spec, docs, "source", args.max_length, num_proc=procs)
    fast_wall = time.perf_counter() - w0
    # CPU seconds of this process plus its (reaped) workers: other programs competing for the
    # same cores cannot inflate it.
    fast_cpu = (time.process_time() - c0) + (children_cpu() - k0)
    mecab_wall_b, mecab_cpu_b = run_mecab(to_parse[mid:])
    ref_b, ref_wall_b, ref_cpu_b = run_reference(picked[half:])
    load_after = os.getloadavg()[0]
    mecab_wall, mecab_cpu = mecab_wall_a + mecab_wall_b, mecab_cpu_a + mecab_cpu_b
    reference, ref_wall, ref_cpu = ref_a + ref_b, ref_wall_a + ref_wall_b, ref_cpu_a + ref_cpu_b
    starts = [0, *accumulate(lengths)]
    fast = [flat[starts[i]:starts[i + 1]].tolist() for i in picked]
    mismatches = sum(a != b for a, b in zip(fast, reference, strict=True))

    n, nref, nmecab = len(docs), len(picked), len(to_parse)
    ref_cpu_rate, fast_cpu_rate, mecab_cpu_rate = nref / ref_cpu, n / fast_cpu, nmecab / mecab_cpu
    per_core = fast_cpu_rate / ref_cpu_rate
    of_mecab = fast_cpu_rate / mecab_cpu_rate
    first_sight = corpus.distinct / corpus.tokens
    print(f"corpus: {n} synopses from {source}; {chars / n:.0f} chars, {corpus.tokens / n:.0f} MeCab words "
          f"avg; {corpus.replaced} spans replaced by fresh words")
    print(f"distinct MeCab words: {corpus.distinct} in {corpus.tokens} tokens ({100 * first_sight:.2f} % first "
          f"sightings); Heaps target {HEAPS_K}·T^{HEAPS_BETA} = {round(HEAPS_K * corpus.tokens ** HEAPS_BETA)}")
    print("  synopses   tokens   distinct   target: " + "  ".join(
        f"{s}:{w}/{t}" for s, _, w, t in corpus.curve[:: max(1, len(corpus.curve) // 5)]))
    if corpus.distinct < 0.95 * HEAPS_K * corpus.tokens ** HEAPS_BETA:
        print("note: the base texts hold too few replaceable words to reach the real curve; the word "
              "cache hits more often here than on real text (give --real)")
    if real_fit:
        print(f"Heaps fit on the real synopses now: K {real_fit[0]:.2f}, β {real_fit[1]:.3f} "
              f"({real_fit[3]} distinct in {real_fit[2]} tokens)")
    print(f"vocab: {len(tok.vocab)} pieces (scratch WordPiece on the base texts); max_length {args.max_length}")
    print(f"{'path':<46}{'synopses':>9}{'CPU s':>8}{'per CPU-s':>11}{'wall s':>8}{'per s':>8}")
    print(f"{'BertJapaneseTokenizer, 1 process':<46}{nref:>9}{ref_cpu:>8.1f}{ref_cpu_rate:>11.0f}"
          f"{ref_wall:>8.1f}{nref / ref_wall:>8.0f}")
    print(f"{f'fast path (wakati + WordPiece), {procs} proc':<46}{n:>9}{fast_cpu:>8.1f}{fast_cpu_rate:>11.0f}"
          f"{fast_wall:>8.1f}{n / fast_wall:>8.0f}")
    print(f"{'MeCab -Owakati parse alone, 1 process':<46}{nmecab:>9}{mecab_cpu:>8.1f}"
          f"{mecab_cpu_rate:>11.0f}{mecab_wall:>8.1f}{nmecab / mecab_wall:>8.0f}")
    print(f"per core: fast path {per_core:.2f}× BertJapaneseTokenizer, {of_mecab:.2f} of MeCab's own -Owakati "
          f"rate; identical ids on {nref} synopses: {mismatches == 0} ({mismatches} differ)")
    print(f"load average {load_before:.1f} → {load_after:.1f} on {os.cpu_count()} CPUs; "
          f"wall-clock ratio {(n / fast_wall) / (nref / ref_wall):.2f}×; bench {time.perf_counter() - t_start:.0f} s")
    print(json.dumps({
        "per_core_ratio": round(per_core, 2),
        "fraction_of_mecab": round(of_mecab, 2),
        "identical": mismatches == 0,
        "n": n, "compared": nref, "mecab_n": nmecab, "procs": procs,
        "reference_cpu_per_s": round(ref_cpu_rate, 1),
        "fast_cpu_per_s": round(fast_cpu_rate, 1),
        "mecab_cpu_per_s": round(mecab_cpu_rate, 1),
        "reference_per_s": round(nref / ref_wall, 1),
        "fast_per_s": round(n / fast_wall, 1),
        "wall_ratio": round((n / fast_wall) / (nref / ref_wall), 2),
        "tokens": corpus.tokens, "distinct_words": corpus.distinct,
        "heaps_target": round(HEAPS_K * corpus.tokens ** HEAPS_BETA),
        "heaps": [HEAPS_K, HEAPS_BETA],
        "real_fit": [round(real_fit[0], 2), round(real_fit[1], 3)] if real_fit else None,
        "load_avg": [round(load_before, 2), round(load_after, 2)],
        "vocab_size": len(tok.vocab), "max_length": args.max_length,
    }))
    if mismatches:
        print(f"error: {mismatches} of {nref} synopses got different ids from the fast path", file=sys.stderr)
    return 0 if mismatches == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
