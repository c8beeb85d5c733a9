"""A tiny pretrained Japanese BERT in the file layout of tohoku-nlp/bert-base-japanese-v3.

`build_pretrained_bert` writes what that hub repository holds — `config.json` with the v3 keys,
`BertForPreTraining` weights as safetensors (`bert.*`, `cls.predictions.*`,
`cls.seq_relationship.*`), a BertJapaneseTokenizer `vocab.txt` + `tokenizer_config.json`
(MeCab with unidic_lite, WordPiece) — at a size that pretrains in seconds: a short
masked-LM run on a few fixture synopses, so every tensor holds learnt values, not init values.
`place_in_hub_cache` lays the same files out as the Hugging Face cache does after a download.
"""

from __future__ import annotations

import hashlib
import json
import shutil
from pathlib import Path
from typing import Any

from tests.generation_tiny import fixed_vocab, sample_pairs

HUB_ID = "tohoku-nlp/bert-base-japanese-v3"
# The keys (and key order) of the hub's config.json; sizes shrunk so the model trains in seconds.
V3_CONFIG: dict[str, object] = {
    "architectures": ["BertForPreTraining"],
    "attention_probs_dropout_prob": 0.1,
    "hidden_act": "gelu",
    "hidden_dropout_prob": 0.1,
    "hidden_size": 32,
    "initializer_range": 0.02,
    "intermediate_size": 64,
    "layer_norm_eps": 1e-12,
    "max_position_embeddings": 128,
    "model_type": "bert",
    "num_attention_heads": 2,
    "num_hidden_layers": 2,
    "pad_token_id": 0,
    "type_vocab_size": 2,
    "vocab_size": 0,  # set to the fixture vocabulary's size
}
# tokenizer_config.json as the hub ships it (no special_tokens_map.json there: defaults apply).
V3_TOKENIZER_CONFIG: dict[str, object] = {
    "tokenizer_class": "BertJapaneseTokenizer",
    "model_max_length": 512,
    "do_lower_case": False,
    "word_tokenizer_type": "mecab",
    "subword_tokenizer_type": "wordpiece",
    "mecab_kwargs": {"mecab_dic": "unidic_lite"},
}
# Enough for every pretrained tensor to move off its init value; more only costs test time.
PRETRAIN_STEPS = 8
PRETRAIN_STORIES = 16
_BUILT: dict[Path, Path] = {}


def build_pretrained_bert(out: Path) -> Path:
    """Write the tiny v3-layout BERT into `out` (cached per folder within a session)."""
    if out in _BUILT:
        return _BUILT[out]
    import torch
    from transformers import BertConfig, BertForPreTraining

    texts = [t for r in sample_pairs() for t in (r["story"], r["title"])]
    fixed_vocab(texts, 1200, out)
    (out / "tokenizer_config.json").write_text(json.dumps(V3_TOKENIZER_CONFIG, indent=4),
                                               encoding="utf-8")
    vocab_size = len((out / "vocab.txt").read_text(encoding="utf-8").splitlines())
    config = {**V3_CONFIG, "vocab_size": vocab_size}
    torch.manual_seed(0)
    model = BertForPreTraining(BertConfig(**config))
    _pretrain_mlm(model, out, [r["story"] for r in sample_pairs()[:PRETRAIN_STORIES]])
    model.save_pretrained(out, safe_serialization=True)
    # save_pretrained adds transformers' own keys (dtype, version); the hub file has only these.
    (out / "config.json").write_text(json.dumps(config, indent=4), encoding="utf-8")
    _BUILT[out] = out
    return out


def _pretrain_mlm(model: Any, vocab_dir: Path, stories: list[str]) -> None:
    """A few masked-LM steps, so the encoder, the embeddings and the MLM head are all learnt."""
    import torch

    from core.tokenization import load_tokenizer

    tok = load_tokenizer(str(vocab_dir)).tokenizer
    batch = tok(stories, padding=True, truncation=True, max_length=48, return_tensors="pt")
    g = torch.Generator().manual_seed(0)
    opt = torch.optim.AdamW(model.parameters(), lr=3e-3)
    model.train()
    special = batch["input_ids"] <= tok.mask_token_id  # [PAD] [UNK] [CLS] [SEP] [MASK] are 0-4
    for _ in range(PRETRAIN_STEPS):
        picked = (torch.rand(batch["input_ids"].shape, generator=g) < 0.15) & ~special
        inputs = batch["input_ids"].masked_fill(picked, tok.mask_token_id)
        labels = batch["input_ids"].masked_fill(~picked, -100)
        # BertForPreTraining returns a loss only with both labels; the sentence pairs are random.
        nsp = torch.randint(0, 2, (len(stories),), generator=g)
        out = model(input_ids=inputs, attention_mask=batch["attention_mask"], labels=labels,
                    next_sentence_label=nsp)
        out.loss.backward()
        opt.step()
        opt.zero_grad()
    model.eval()


def place_in_hub_cache(model_dir: Path, hub_cache: Path, hub_id: str = HUB_ID) -> Path:
    """Lay `model_dir`'s files out like huggingface_hub's cache after a download of `hub_id`:
    models--org--name/{blobs/<sha256>, refs/main, snapshots/<commit>/<file> -> ../../blobs/...}.

    Returns the snapshot folder.
    """
    repo = hub_cache / ("models--" + hub_id.replace("/", "--"))
    commit = hashlib.sha1(hub_id.encode()).hexdigest()  # any 40-hex revision will do
    snapshot = repo / "snapshots" / commit
    (repo / "blobs").mkdir(parents=True, exist_ok=True)
    snapshot.mkdir(parents=True, exist_ok=True)
    (repo / "refs").mkdir(exist_ok=True)
    (repo / "refs" / "main").write_text(commit)
    for f in sorted(p for p in model_dir.iterdir() if p.is_file()):
        blob = repo / "blobs" / hashlib.sha256(f.read_bytes()).hexdigest()
        if not blob.exists():
            shutil.copyfile(f, blob)
        link = snapshot / f.name
        if not link.exists():
            link.symlink_to(Path("..", "..", "blobs", blob.name))
    return snapshot
