"""BERT2BERT construction: ids in one place, pretrained dirs through the hub code path, offline
failure, safetensors-only loading."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from core.model import (
    SCRATCH_PRESETS,
    ModelError,
    build_model,
    check_ids,
    count_parameters,
    load_checkpoint,
    pretrained_config,
)
from tests.core.train_helpers import tokenizer_dir


@pytest.fixture(scope="module")
def tok():
    from core.tokenization import load_tokenizer

    return load_tokenizer(str(tokenizer_dir())).tokenizer


def test_scratch_tiny_wires_ids_and_generation_config(tok) -> None:
    model = build_model(tok, scratch="tiny", max_title_tokens=40)
    cfg, gen = model.config, model.generation_config
    assert (cfg.decoder_start_token_id, cfg.eos_token_id, cfg.pad_token_id) == (
        tok.cls_token_id, tok.sep_token_id, tok.pad_token_id)
    assert (gen.decoder_start_token_id, gen.eos_token_id, gen.pad_token_id, gen.max_length) == (
        tok.cls_token_id, tok.sep_token_id, tok.pad_token_id, 40)
    assert cfg.decoder.is_decoder and cfg.decoder.add_cross_attention
    assert cfg.encoder.vocab_size == cfg.decoder.vocab_size == len(tok)
    assert cfg.encoder.hidden_size == SCRATCH_PRESETS["tiny"].hidden
    assert model.encoder.pooler is None  # unused by the loss; DDP needs every param used
    assert model.config.encoder._attn_implementation == "sdpa"
    assert check_ids(model, tok) == []
    model.generation_config.eos_token_id = 99
    assert any("eos_token_id" in p for p in check_ids(model, tok))


def test_tie_encoder_decoder_is_refused_loudly(tok) -> None:
    # transformers 5.x cannot tie or save tied BERT2BERT weights; never train untied silently.
    with pytest.raises(ModelError, match="not supported"):
        build_model(tok, scratch="tiny", tie_encoder_decoder=True)
    assert count_parameters(build_model(tok, scratch="tiny")) > 0


def _local_bert(tmp_path: Path, tok, vocab_size: int | None = None) -> Path:
    from transformers import BertConfig, BertModel

    cfg = BertConfig(vocab_size=vocab_size or len(tok), hidden_size=32, num_hidden_layers=2,
                     num_attention_heads=2, intermediate_size=64, max_position_embeddings=128)
    folder = tmp_path / "local-bert"
    BertModel(cfg).save_pretrained(folder)
    for f in tokenizer_dir().iterdir():
        shutil.copy(f, folder / f.name)
    return folder


def test_pretrained_local_dir_takes_the_hub_code_path(tok, tmp_path: Path) -> None:
    import torch
    from safetensors.torch import load_file

    folder = _local_bert(tmp_path, tok)
    assert pretrained_config(str(folder)).max_position_embeddings == 128
    model = build_model(tok, pretrained=str(folder))
    saved = load_file(folder / "model.safetensors")
    key = next(k for k in saved if k.endswith("word_embeddings.weight"))
    assert torch.equal(model.encoder.embeddings.word_embeddings.weight, saved[key])
    assert torch.equal(model.decoder.bert.embeddings.word_embeddings.weight, saved[key])
    assert hasattr(model.decoder.bert.encoder.layer[0], "crossattention")
    assert check_ids(model, tok) == []


def test_pretrained_with_a_smaller_vocab_is_refused(tok, tmp_path: Path) -> None:
    folder = _local_bert(tmp_path, tok, vocab_size=100)
    with pytest.raises(ModelError, match="tokenizer has"):
        build_model(tok, pretrained=str(folder))


def test_offline_hub_id_fails_fast_with_local_dir_hint(tok, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf"))
    with pytest.raises(ModelError) as err:
        build_model(tok, pretrained="tohoku-nlp/bert-base-japanese-v3")
    # Offline means the local cache only: the failure is decided from the cache, no download tried.
    msg = str(err.value)
    assert "HF_HUB_OFFLINE is set" in msg
    assert "tohoku-nlp/bert-base-japanese-v3" in msg and "--model" in msg and "--scratch" in msg
    with pytest.raises(ModelError, match="not reachable"):
        pretrained_config("tohoku-nlp/bert-base-japanese-v3")


def test_build_model_needs_exactly_one_source(tok) -> None:
    with pytest.raises(ModelError, match="exactly one"):
        build_model(tok)
    with pytest.raises(ModelError, match="unknown scratch preset"):
        build_model(tok, scratch="huge")


def test_load_checkpoint_is_safetensors_only_and_needs_the_marker(tok, tmp_path: Path) -> None:
    model = build_model(tok, scratch="tiny")
    ck = tmp_path / "checkpoint-5"
    model.save_pretrained(ck)
    tok.save_pretrained(ck)
    with pytest.raises(ModelError, match="incomplete"):
        load_checkpoint(ck)
    (ck / "COMPLETE").write_text("5\n")
    loaded, ltok = load_checkpoint(ck)
    assert check_ids(loaded, ltok) == []
    (ck / "model.safetensors").rename(ck / "pytorch_model.bin")
    with pytest.raises(ModelError, match="safetensors"):
        load_checkpoint(ck)
    with pytest.raises(ModelError, match="does not exist"):
        load_checkpoint(tmp_path / "nope")
