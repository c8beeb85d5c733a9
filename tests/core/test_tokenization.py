"""Tokenizer presets, local folders, dictionaries (unidic-lite vs ipadic), hub failures, decoding."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from core.paths import REPO_ROOT
from core.tokenization.analysis import breakdown, morphemes, segment
from core.tokenization.decode import decode_title, join_pieces
from core.tokenization.errors import TokenizerLoadError
from core.tokenization.loader import load_tokenizer, resolve_spec
from core.tokenization.presets import DEFAULT_PRESET, PRESETS, read_dir_settings
from core.tokenization.scratch import SPECIAL_TOKENS, train_wordpiece
from tests.conftest import SHARED_DATA

SAMPLE = REPO_ROOT / "datasets" / "sample" / "sample.jsonl"
V3_CONFIGS = SHARED_DATA / "tokenizer_configs" / "bert-base-japanese-v3"


def sample_texts() -> list[str]:
    rows = [json.loads(line) for line in SAMPLE.read_text(encoding="utf-8").splitlines() if line.strip()]
    return [r["story"] for r in rows] + [r["title"] for r in rows]


@pytest.fixture(scope="session")
def vocab_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A 2000-piece scratch vocabulary trained on the bundled sample (about a second)."""
    return train_wordpiece(sample_texts(), 2000, tmp_path_factory.mktemp("vocab") / "scratch")


def v1_style_dir(vocab_dir: Path, dest: Path) -> Path:
    """A folder laid out like cl-tohoku/bert-base-japanese: no dictionary named, 32000 pieces."""
    dest.mkdir()
    pieces = (vocab_dir / "vocab.txt").read_text(encoding="utf-8").splitlines()
    pieces += [f"[unused{i}]" for i in range(32000 - len(pieces))]
    (dest / "vocab.txt").write_text("\n".join(pieces) + "\n", encoding="utf-8")
    (dest / "tokenizer_config.json").write_text(json.dumps(
        {"do_lower_case": False, "word_tokenizer_type": "mecab", "subword_tokenizer_type": "wordpiece"}
    ))
    return dest


def test_scratch_vocab_is_a_bert_japanese_folder(vocab_dir: Path) -> None:
    pieces = (vocab_dir / "vocab.txt").read_text(encoding="utf-8").splitlines()
    assert tuple(pieces[:5]) == SPECIAL_TOKENS == ("[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]")
    assert 500 < len(pieces) <= 2000 and len(set(pieces)) == len(pieces)
    assert any(p.startswith("##") for p in pieces)
    config = json.loads((vocab_dir / "tokenizer_config.json").read_text())
    assert config["tokenizer_class"] == "BertJapaneseTokenizer"
    assert config["mecab_kwargs"] == {"mecab_dic": "unidic_lite"}
    assert config["word_tokenizer_type"] == "mecab" and config["do_lower_case"] is False

    loaded = load_tokenizer(vocab_dir)
    info = loaded.info
    assert type(loaded.tokenizer).__name__ == "BertJapaneseTokenizer"
    assert (info.dictionary, info.dictionary_source, info.warnings) == ("unidic_lite", "config", [])
    assert info.version == "1.0.8" and info.dictionary_path and (info.dictionary_path / "sys.dic").is_file()
    assert info.vocab_size == len(pieces)
    tok = loaded.tokenizer
    assert (tok.pad_token_id, tok.unk_token_id, tok.cls_token_id, tok.sep_token_id) == (0, 1, 2, 3)
    ids = tok("異世界で魔法を使う")["input_ids"]
    assert ids[0] == 2 and ids[-1] == 3 and len(ids) > 3


def test_official_v3_config_loads_through_the_same_path(vocab_dir: Path, tmp_path: Path) -> None:
    if not V3_CONFIGS.is_dir():
        pytest.skip(f"official configs not present: {V3_CONFIGS}")
    folder = tmp_path / "v3-like"
    folder.mkdir()
    for name in ("tokenizer_config.json", "config.json"):
        shutil.copy(V3_CONFIGS / name, folder / name)
    shutil.copy(vocab_dir / "vocab.txt", folder / "vocab.txt")
    loaded = load_tokenizer(folder)
    assert loaded.info.dictionary == "unidic_lite" and loaded.info.dictionary_source == "config"
    assert loaded.info.subword == "wordpiece" and not loaded.info.warnings
    ref = load_tokenizer(vocab_dir).tokenizer
    text = sample_texts()[0]
    assert loaded.tokenizer(text)["input_ids"] == ref(text)["input_ids"]


def test_v1_style_folder_is_loaded_with_ipadic_and_says_so(vocab_dir: Path, tmp_path: Path) -> None:
    folder = v1_style_dir(vocab_dir, tmp_path / "v1")
    loaded = load_tokenizer(folder)
    assert loaded.info.dictionary == "ipadic"
    assert loaded.info.dictionary_source == "v1-guess"
    assert any("ipadic" in w and "32000" in w for w in loaded.info.warnings)
    tagger_files = [d["filename"] for d in loaded.tokenizer.word_tokenizer.mecab.dictionary_info]
    assert any("ipadic" in f for f in tagger_files), tagger_files
    # The two dictionaries really cut differently: that is why the mismatch matters.
    text = "東京特許許可局の局長が外国人参政権について話した"
    assert segment(text, "ipadic") != segment(text, "unidic_lite")
    assert loaded.tokenizer.word_tokenizer.tokenize(text) == segment(text, "ipadic")


def test_v1_preset_names_ipadic_and_presets_are_complete() -> None:
    assert DEFAULT_PRESET == "tohoku-nlp/bert-base-japanese-v3"
    assert PRESETS["cl-tohoku/bert-base-japanese"].dictionary == "ipadic"
    for hub_id in ("tohoku-nlp/bert-base-japanese-v2", "tohoku-nlp/bert-base-japanese-char-v3",
                   "tohoku-nlp/bert-base-japanese-char-v2"):
        assert PRESETS[hub_id].dictionary == "unidic_lite"
    assert PRESETS["tohoku-nlp/bert-base-japanese-char-v3"].subword == "character"


def test_v1_hub_layout_with_preset_uses_ipadic(vocab_dir: Path, tmp_path: Path) -> None:
    folder = tmp_path / "v1hub"
    folder.mkdir()
    shutil.copy(vocab_dir / "vocab.txt", folder / "vocab.txt")  # not 32000: only the preset tells
    (folder / "tokenizer_config.json").write_text(json.dumps({"word_tokenizer_type": "mecab"}))
    settings = read_dir_settings(folder, PRESETS["cl-tohoku/bert-base-japanese"])
    assert (settings.dictionary, settings.dictionary_source) == ("ipadic", "preset")
    settings = read_dir_settings(folder)
    assert (settings.dictionary, settings.dictionary_source) == ("unidic_lite", "default")


BLOCK_IPADIC = """
import importlib.abc, json, sys
class Block(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name == "ipadic" or name.startswith("ipadic."):
            raise ModuleNotFoundError(f"No module named {name!r}", name=name)
        return None
sys.meta_path.insert(0, Block())
from core.tokenization.loader import load_tokenizer
loaded = load_tokenizer(sys.argv[1])
print(json.dumps(loaded.info.to_dict()))
"""


def test_missing_ipadic_warns_instead_of_silently_using_unidic(vocab_dir: Path, tmp_path: Path) -> None:
    folder = v1_style_dir(vocab_dir, tmp_path / "v1")
    out = subprocess.run([sys.executable, "-c", BLOCK_IPADIC, str(folder)], capture_output=True,
                         text=True, cwd=REPO_ROOT, timeout=120, check=True)
    info = json.loads(out.stdout.strip().splitlines()[-1])
    assert info["dictionary"] == "unidic_lite"
    assert info["dictionary_source"] == "v1-guess+fallback"
    mismatch = [w for w in info["warnings"] if "DICTIONARY MISMATCH" in w]
    assert mismatch and "pip install ipadic" in mismatch[0]


@pytest.mark.parametrize("offline_env", [True, False], ids=["HF_HUB_OFFLINE", "network-closed"])
def test_hub_id_fails_fast_with_advice(offline_env: bool, tmp_path: Path,
                                       monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf"))
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "hf" / "hub"))
    if offline_env:
        monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    else:
        monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
        monkeypatch.delenv("TRANSFORMERS_OFFLINE", raising=False)
        # A blackholed address: the connect attempt has to time out, not fail instantly.
        monkeypatch.setenv("HF_ENDPOINT", "https://10.255.255.1")
    with pytest.raises(TokenizerLoadError) as err:
        load_tokenizer("tohoku-nlp/bert-base-japanese-v3")
    message = str(err.value)
    # The fail-fast branch decided, not a download that retried until it gave up.
    if offline_env:
        assert "HF_HUB_OFFLINE is set" in message
    else:
        # Where a proxy answers every address the probe connects, and the download itself
        # fails at once with the hub client's reason; elsewhere the probe names the address.
        assert ("the Hugging Face hub is not reachable (10.255.255.1:443" in message
                or "from the hub: LocalEntryNotFoundError" in message), message
    assert "tohoku-nlp/bert-base-japanese-v3" in message and "--tokenizer /path/to/dir" in message
    assert "narou-tui tokenizer train" in message


def test_cli_default_tokenizer_offline_is_one_clear_line(tmp_path: Path) -> None:
    env = {**os.environ, "HF_HOME": str(tmp_path / "hf"), "HF_HUB_OFFLINE": "1"}
    out = subprocess.run([sys.executable, "-m", "core.cli.main", "tokenize", "テスト"], capture_output=True,
                         text=True, cwd=REPO_ROOT, env=env, timeout=60)
    assert out.returncode == 2
    assert "Traceback" not in out.stderr
    assert "tohoku-nlp/bert-base-japanese-v3" in out.stderr and "--tokenizer" in out.stderr


def test_spec_errors_are_clear(tmp_path: Path) -> None:
    with pytest.raises(TokenizerLoadError, match="narou-tui tokenizer train"):
        resolve_spec("scratch")
    with pytest.raises(TokenizerLoadError, match="neither a folder nor a hub id"):
        resolve_spec("no-such-thing")
    (tmp_path / "empty").mkdir()
    with pytest.raises(TokenizerLoadError, match="no vocab.txt"):
        load_tokenizer(tmp_path / "empty")


@pytest.fixture(scope="module")
def decode_tok(tmp_path_factory: pytest.TempPathFactory):  # type: ignore[no-untyped-def]
    folder = tmp_path_factory.mktemp("decode")
    pieces = [*SPECIAL_TOKENS, "異世界", "で", "##の", "Chat", "##GPT", "無双", "Final", "Fantasy", "7", "!"]
    (folder / "vocab.txt").write_text("\n".join(pieces) + "\n", encoding="utf-8")
    (folder / "tokenizer_config.json").write_text(json.dumps(
        {"tokenizer_class": "BertJapaneseTokenizer", "word_tokenizer_type": "mecab",
         "mecab_kwargs": {"mecab_dic": "unidic_lite"}}))
    return load_tokenizer(folder).tokenizer


def test_decode_title_spacing(decode_tok) -> None:  # type: ignore[no-untyped-def]
    tok = decode_tok
    ids = tok.convert_tokens_to_ids(["[CLS]", "異世界", "で", "Chat", "##GPT", "無双", "[SEP]", "[PAD]"])
    assert decode_title(tok, ids) == "異世界でChatGPT無双"
    assert tok.decode(ids, skip_special_tokens=True) != "異世界でChatGPT無双"  # what we fix
    ids = tok.convert_tokens_to_ids(["Final", "Fantasy", "7", "で", "無双", "!"])
    assert decode_title(tok, [*ids, -100, -100]) == "Final Fantasy 7で無双!"
    assert join_pieces(["東京", "##都", "Tokyo", "Tower", "へ"]) == "東京都Tokyo Towerへ"
    assert join_pieces(["café", "au", "lait", "を", "飲む"]) == "café au laitを飲む"


def test_breakdown_matches_the_tokenizer_and_marks_the_cut(vocab_dir: Path) -> None:
    tok = load_tokenizer(vocab_dir).tokenizer
    for text in sample_texts()[:40]:
        bd = breakdown(tok, text)
        assert bd.ids == tok(text)["input_ids"]
        assert len(bd.word_of_piece) == len(bd.pieces)
    text = sample_texts()[0]
    bd = breakdown(tok, text, max_length=10)
    assert bd.cut == 9
    assert bd.ids[: bd.cut] + [3] == tok(text, max_length=10, truncation=True)["input_ids"]
    unk = breakdown(tok, "𠮷野家でｸﾞﾙﾒ")
    assert unk.unk_words and "[UNK]" in unk.pieces


def test_morphemes_layer_has_pos_lemma_reading() -> None:
    m = morphemes("猫が走った")
    assert [x.surface for x in m] == ["猫", "が", "走っ", "た"]
    assert m[0].reading == "ネコ" and m[0].lemma == "猫" and m[0].pos.startswith("名詞")
    assert m[2].lemma == "走る"
    ip = morphemes("猫が走った", "ipadic")
    assert ip[2].lemma == "走る" and ip[0].reading == "ネコ"
    assert morphemes("ｶﾀｶﾅ")[0].surface == "カタカナ"  # NFKC first, as BertJapaneseTokenizer does


def test_a_run_id_names_the_tokenizer_that_run_trained(vocab_dir: Path, tmp_path: Path,
                                                       capsys: pytest.CaptureFixture[str]) -> None:
    from core.cli.main import main
    from core.paths import Paths
    from core.runs.tokenizers import resolve_run_tokenizer

    ck = tmp_path / "checkpoints"
    run_tok = ck / "20261101-0900-demo" / "tokenizer"
    shutil.copytree(vocab_dir, run_tok)
    paths = Paths(tmp_path / "datasets", ck, tmp_path / "config")
    assert resolve_run_tokenizer("20261101-0900-demo", paths) == str(run_tok)
    # Anything that is not a run is left for the loader: presets, hub ids, missing names.
    for spec in ("v3", "tohoku-nlp/bert-base-japanese-v3", "20990101-0000-none", None):
        assert resolve_run_tokenizer(spec, paths) == spec
    # An existing folder wins over a run of the same name.
    (tmp_path / "20261101-0900-demo").mkdir()
    os.chdir(tmp_path)
    try:
        assert resolve_run_tokenizer("20261101-0900-demo", paths) == "20261101-0900-demo"
    finally:
        os.chdir(REPO_ROOT)

    code = main(["tokenize", "異世界で無双する", "--json", "--checkpoints-dir", str(ck),
                 "--tokenizer", "20261101-0900-demo"])
    assert code == 0
    out = json.loads(capsys.readouterr().out)
    assert Path(out["tokenizer"]["path"]) == run_tok and out["pieces"]

    # `train --tokenizer RUN_ID` freezes the folder, not the name, into the run's command.
    code = main(["train", "--dataset", "sample", "--scratch", "tiny", "--tokenizer", "20261101-0900-demo",
                 "--dry-run", "--checkpoints-dir", str(ck), "--datasets-dir", str(tmp_path / "datasets")])
    printed = capsys.readouterr().out.strip().splitlines()[-1]
    assert printed.startswith("narou-tui train") and f"--tokenizer {run_tok}" in printed, (code, printed)
