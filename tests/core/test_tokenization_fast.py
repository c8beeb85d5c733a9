"""The fast batch path gives BertJapaneseTokenizer's ids exactly; tokenize_dataset caches; CLI twins."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from core.data.fields import Record
from core.data.store import fingerprint, write_dataset
from core.paths import REPO_ROOT, Paths
from core.tokenization.dataset_cache import tokenize_dataset
from core.tokenization.fast import FastEncoder, encode_many, spec_from_dir, split_flat
from core.tokenization.loader import load_tokenizer, resolve_encoder
from core.tokenization.scratch import train_wordpiece
from tests.conftest import shared_data
from tests.core.test_tokenization import sample_texts

EDGE_TEXTS = [
    "",
    "   ",
    "　全角スペースで　始まる　あらすじ　",
    "改行\nを含む\r\nあらすじ\r最後",
    "制御\x1c文字\x1dと\u2028区切り\u2029と\x85NEL",
    "[CLS]や[SEP]を本文に書いた[UNK]作者[MASK]と[PAD]",
    "［ＳＥＰ］は全角なのでNFKC後に分割される",
    "ＡＢＣ１２３ｶﾀｶﾅ①㈱㍻",
    "Supercalifragilisticexpialidocious" * 4 + "は長すぎる単語",
    "絵文字😀🙏🏽と結合文字が\u3099混ざる",
    "URLはhttps://ncode.syosetu.com/n0000aa/です。Mail: foo@example.com",
    "※作者注：この物語はフィクションです。【連載中】『二章』〈外伝〉",
    "𠮷野家の𩸽定食",
]


@pytest.fixture(scope="module")
def vocab_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return train_wordpiece(sample_texts(), 2000, tmp_path_factory.mktemp("fastvocab") / "v")


def _variant(vocab_dir: Path, dest: Path, **config: object) -> Path:
    dest.mkdir()
    (dest / "vocab.txt").write_bytes((vocab_dir / "vocab.txt").read_bytes())
    base = json.loads((vocab_dir / "tokenizer_config.json").read_text())
    (dest / "tokenizer_config.json").write_text(json.dumps({**base, **config}))
    return dest


def _assert_identical(folder: Path, texts: list[str], lengths: tuple[int, ...] = (512, 32, 5)) -> None:
    tok = load_tokenizer(folder).tokenizer
    spec, *_ = resolve_encoder(folder)
    enc = FastEncoder(spec)
    for text in texts:
        for n in lengths:
            assert enc.encode(text, "source", n) == tok(text, max_length=n, truncation=True)["input_ids"], (text, n)
            # labels: title pieces + [SEP], no [CLS], at most n ids
            want = tok(text, max_length=n + 1, truncation=True)["input_ids"][1:]
            assert enc.encode(text, "target", n) == want, (text, n)


def test_identical_ids_on_sample_with_truncation(vocab_dir: Path) -> None:
    _assert_identical(vocab_dir, sample_texts())


def test_identical_ids_on_edge_cases(vocab_dir: Path, tmp_path: Path) -> None:
    _assert_identical(vocab_dir, EDGE_TEXTS)
    tok = load_tokenizer(vocab_dir).tokenizer
    ids = FastEncoder(resolve_encoder(vocab_dir)[0]).encode(EDGE_TEXTS[5], "pieces", None)
    assert ids.count(tok.sep_token_id) == 1 and ids.count(tok.cls_token_id) == 1  # kept whole
    # MeCab itself caps unknown-word runs, so exercise the 100-character rule on the word level.
    enc = FastEncoder(resolve_encoder(vocab_dir)[0])
    for word in ("の" * 100, "の" * 101):
        want = tok.convert_tokens_to_ids(tok.subword_tokenizer.tokenize(word))
        assert list(enc._wordpiece(word)) == want
    assert enc._wordpiece("の" * 101) == (tok.unk_token_id,)


def test_identical_ids_lower_case_ipadic_and_character_variants(vocab_dir: Path, tmp_path: Path) -> None:
    texts = sample_texts()[:30] + EDGE_TEXTS
    _assert_identical(_variant(vocab_dir, tmp_path / "lower", do_lower_case=True), texts, (512, 16))
    _assert_identical(_variant(vocab_dir, tmp_path / "ipa", mecab_kwargs={"mecab_dic": "ipadic"}), texts, (512, 16))
    chars = sorted({c for t in sample_texts() for c in t})[:1500]
    char_dir = tmp_path / "char"
    char_dir.mkdir()
    (char_dir / "vocab.txt").write_text("\n".join(["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", *chars]) + "\n",
                                        encoding="utf-8")
    (char_dir / "tokenizer_config.json").write_text(json.dumps(
        {"word_tokenizer_type": "mecab", "subword_tokenizer_type": "character",
         "mecab_kwargs": {"mecab_dic": "unidic_lite"}}))
    _assert_identical(char_dir, texts, (512, 16))


def test_identical_ids_on_real_synopses_in_parallel(vocab_dir: Path) -> None:
    records = json.loads(shared_data("narou_real/narou.json").read_text(encoding="utf-8"))
    stories = [r["abstract"] for r in records]
    titles = [r["title"] for r in records]
    tok = load_tokenizer(vocab_dir).tokenizer
    spec = spec_from_dir(vocab_dir, "unidic_lite")
    got_src = split_flat(*encode_many(spec, stories, "source", 128, num_proc=2))
    got_tgt = split_flat(*encode_many(spec, titles, "target", 16, num_proc=1))
    want_src = [tok(s, max_length=128, truncation=True)["input_ids"] for s in stories]
    want_tgt = [tok(t, max_length=17, truncation=True)["input_ids"][1:] for t in titles]
    assert len(got_src) == len(stories) == 2000
    mismatches = [i for i in range(len(stories)) if got_src[i] != want_src[i]]
    assert not mismatches, f"{len(mismatches)} stories differ, first #{mismatches[:3]}"
    assert got_tgt == want_tgt
    assert sum(len(x) == 128 for x in got_src) > 100  # truncation really exercised


def _tiny_dataset(paths: Paths, name: str = "tiny") -> None:
    rows = [json.loads(line) for line in
            (REPO_ROOT / "datasets/sample/sample.jsonl").read_text(encoding="utf-8").splitlines() if line.strip()]
    recs = [Record(r["title"], r["story"], r.get("ncode", ""), r.get("keyword", ""), r.get("genre"),
                   r.get("biggenre"), f"sample.jsonl:{i}") for i, r in enumerate(rows, 1)]
    splits = {"train": recs[:-20], "validation": recs[-20:-10], "test": recs[-10:]}
    write_dataset(paths, name, splits, {"name": name, "fingerprint": fingerprint(splits)})


def test_tokenize_dataset_layout_and_cache(paths: Paths, vocab_dir: Path) -> None:
    _tiny_dataset(paths)
    stages: list[str] = []
    dd = tokenize_dataset(paths, "tiny", vocab_dir, 64, 12, progress=lambda s, d, t: stages.append(s))
    assert set(dd) == {"train", "validation", "test"}
    assert set(dd["train"].column_names) == {"input_ids", "labels", "src_len", "tgt_len"}
    tok = load_tokenizer(vocab_dir).tokenizer
    from core.data.store import load_tables

    table = load_tables(paths, "tiny")["validation"]
    for row, story, title in zip(dd["validation"], table.column("story").to_pylist(),
                                 table.column("title").to_pylist(), strict=True):
        assert row["input_ids"] == tok(story, max_length=64, truncation=True)["input_ids"]
        assert row["labels"] == tok(title, max_length=13, truncation=True)["input_ids"][1:]
        assert row["labels"][0] != tok.cls_token_id and row["labels"][-1] == tok.sep_token_id
        assert (row["src_len"], row["tgt_len"]) == (len(row["input_ids"]), len(row["labels"]))
    assert "train/source" in stages and "cached" not in stages
    cache = list((paths.dataset("tiny") / ".cache").glob("tok-*"))
    assert len(cache) == 1 and (cache[0] / "COMPLETE").is_file()

    stages.clear()
    again = tokenize_dataset(paths, "tiny", vocab_dir, 64, 12, progress=lambda s, d, t: stages.append(s))
    assert stages == ["cached"]  # read back from the cache: no stage tokenized anything
    assert again["train"]["input_ids"] == dd["train"]["input_ids"]
    tokenize_dataset(paths, "tiny", vocab_dir, 32, 12)  # other lengths → another cache entry
    assert len(list((paths.dataset("tiny") / ".cache").glob("tok-*"))) == 2


def _cli(*args: str, env_paths: Paths | None = None) -> subprocess.CompletedProcess[str]:
    cmd = [sys.executable, "-m", "core.cli.main"]
    if env_paths is not None:
        cmd += ["--datasets-dir", str(env_paths.datasets_dir)]
    return subprocess.run([*cmd, *args], capture_output=True, text=True, cwd=REPO_ROOT, timeout=120)


def test_cli_tokenize_text_json(vocab_dir: Path) -> None:
    out = _cli("tokenize", "猫が異世界で走った", "--tokenizer", str(vocab_dir), "--json", "--max-length", "4")
    assert out.returncode == 0, out.stderr
    doc = json.loads(out.stdout)
    assert [m["surface"] for m in doc["morphemes"]] == ["猫", "が", "異", "世界", "で", "走っ", "た"]
    assert doc["morphemes"][0]["reading"] == "ネコ"
    assert doc["pieces"][0] == "[CLS]" and doc["pieces"][-1] == "[SEP]"
    assert doc["tokenizer"]["dictionary"] == "unidic_lite" and doc["truncated_at"] == 3
    tok = load_tokenizer(vocab_dir).tokenizer
    assert doc["ids"] == tok("猫が異世界で走った", max_length=4, truncation=True)["input_ids"]
    assert doc["dropped"] == len(tok("猫が異世界で走った")["input_ids"]) - 4


@pytest.mark.parametrize("flags", [[], ["--max-length", "6"], ["--no-special-tokens"],
                                   ["--no-special-tokens", "--max-length", "6"]],
                         ids=["plain", "max-length", "no-specials", "no-specials-max-length"])
def test_cli_text_and_input_give_the_same_ids(vocab_dir: Path, tmp_path: Path, flags: list[str],
                                              capsys: pytest.CaptureFixture[str]) -> None:
    from core.cli.main import main

    texts = ["猫が異世界で走った", "[SEP]入りの𠮷野家", "婚約破棄された令嬢は辺境で薬師になる"]
    src = tmp_path / "texts.txt"
    src.write_text("\n".join(texts) + "\n", encoding="utf-8")
    common = ["--tokenizer", str(vocab_dir), "--json", *flags]
    assert main(["tokenize", "--input", str(src), *common]) == 0
    from_file = [json.loads(line)["ids"] for line in capsys.readouterr().out.splitlines()]
    from_text = []
    for text in texts:
        assert main(["tokenize", text, *common]) == 0
        from_text.append(json.loads(capsys.readouterr().out)["ids"])
    assert from_text == from_file

    tok = load_tokenizer(vocab_dir).tokenizer
    n = int(flags[flags.index("--max-length") + 1]) if "--max-length" in flags else None
    specials = "--no-special-tokens" not in flags
    want = [tok(t, add_special_tokens=specials, max_length=n, truncation=n is not None)["input_ids"]
            for t in texts]
    assert from_file == want
    assert all((ids[0], ids[-1]) == (tok.cls_token_id, tok.sep_token_id) for ids in from_file) == specials


def test_cli_tokenize_input_file_json_lines(vocab_dir: Path, tmp_path: Path) -> None:
    texts = [t.replace("\n", "") for t in sample_texts()[:5]] + ["[SEP]入りの行", ""]
    src = tmp_path / "texts.txt"
    src.write_text("\n".join(texts) + "\n", encoding="utf-8")
    out = _cli("tokenize", "--input", str(src), "--tokenizer", str(vocab_dir), "--json", "--max-length", "40")
    assert out.returncode == 0, out.stderr
    rows = [json.loads(line) for line in out.stdout.splitlines()]
    tok = load_tokenizer(vocab_dir).tokenizer
    assert [r["line"] for r in rows] == list(range(1, len(texts) + 1))
    for row, text in zip(rows, texts, strict=True):
        assert row["ids"] == tok(text, max_length=40, truncation=True)["input_ids"]
        assert row["pieces"] == tok.convert_ids_to_tokens(row["ids"])

    bad = tmp_path / "bad.txt"
    bad.write_bytes("一行目\n".encode() + b"\xff\xfe broken\n")
    out = _cli("tokenize", "--input", str(bad), "--tokenizer", str(vocab_dir), "--json")
    assert out.returncode == 2 and f"{bad}:2" in out.stderr and "Traceback" not in out.stderr


def test_cli_tokenizer_train_from_dataset(paths: Paths, tmp_path: Path) -> None:
    _tiny_dataset(paths, "tiny")
    out_dir = tmp_path / "vocab"
    out = _cli("tokenizer", "train", "--dataset", "tiny", "--vocab-size", "800", "--out", str(out_dir),
               env_paths=paths)
    assert out.returncode == 0, out.stderr
    assert len((out_dir / "vocab.txt").read_text(encoding="utf-8").splitlines()) <= 800
    assert load_tokenizer(out_dir).info.dictionary == "unidic_lite"
    missing = _cli("tokenizer", "train", "--dataset", "nope", "--vocab-size", "800", "--out",
                   str(tmp_path / "other"), env_paths=paths)
    assert missing.returncode == 2 and "nope" in missing.stderr and "Traceback" not in missing.stderr


def test_corpus_stats_agree_with_the_tokenizer(vocab_dir: Path) -> None:
    from core.tokenization.stats import corpus_stats

    texts = sample_texts()
    half = len(texts) // 2
    stories, titles = texts[:half], texts[half:]
    tok = load_tokenizer(vocab_dir).tokenizer
    spec, *_ = resolve_encoder(vocab_dir)
    seen: list[tuple[int, int]] = []
    stats = corpus_stats(spec, stories + ["𠮷𩸽"], titles, 64, 8,
                         progress=lambda d, t: seen.append((d, t)), top=100_000)
    want_src = [len(tok(s)["input_ids"]) for s in [*stories, "𠮷𩸽"]]
    want_tgt = [len(tok(t)["input_ids"]) - 1 for t in titles]  # labels carry no [CLS]
    assert stats.stories.lengths == want_src and stats.titles.lengths == want_tgt
    assert stats.stories.truncated == sum(n > 64 for n in want_src)
    all_ids = [i for t in [*stories, "𠮷𩸽", *titles] for i in tok(t, add_special_tokens=False)["input_ids"]]
    assert (stats.pieces, stats.unk) == (len(all_ids), all_ids.count(tok.unk_token_id))
    assert dict(stats.unk_chars).get("𩸽", 0) >= 1
    labels, counts = stats.stories.histogram(8)
    assert sum(counts) == len(want_src) and labels[-1] == ">64"
    assert seen[-1] == (len(stories) + 1 + len(titles),) * 2
