"""A tiny locally trained BERT2BERT checkpoint in the run-dir layout, for generation/eval tests."""

from __future__ import annotations

import json
import time
from pathlib import Path

from core.paths import REPO_ROOT
from core.runs.schema import COMPLETE_MARKER

SAMPLE = REPO_ROOT / "datasets" / "sample" / "sample.jsonl"
_BUILT: dict[tuple[Path, str], Path] = {}
# The sample keeps growing; a fixed head keeps the fixture's cost and behaviour stable, and a
# tiny model learns 48 titles well enough in a few seconds to answer each synopsis its own way.
FIXTURE_ROWS = 48


def sample_pairs(limit: int = FIXTURE_ROWS) -> list[dict[str, str]]:
    """The first `limit` bundled original sample records (story, title, ncode)."""
    rows = []
    for line in SAMPLE.read_text(encoding="utf-8").splitlines():
        if line.strip():
            rec = json.loads(line)
            rows.append({"story": rec["story"], "title": rec["title"], "ncode": rec["ncode"]})
    return rows[:limit]


def _train_vocab(texts: list[str], out_dir: Path) -> None:
    import fugashi
    import unidic_lite
    from tokenizers import Tokenizer, models, pre_tokenizers, trainers

    tagger = fugashi.GenericTagger(f"-r {unidic_lite.DICDIR}/mecabrc -d {unidic_lite.DICDIR} -Owakati")
    words = [tagger.parse(t).strip() for t in texts]
    tk = Tokenizer(models.WordPiece(unk_token="[UNK]"))
    tk.pre_tokenizer = pre_tokenizers.WhitespaceSplit()
    specials = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]
    tk.train_from_iterator(words, trainers.WordPieceTrainer(vocab_size=1200, special_tokens=specials))
    vocab = sorted(tk.get_vocab().items(), key=lambda kv: kv[1])
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / "vocab.txt").write_text("".join(t + "\n" for t, _ in vocab), encoding="utf-8")


def build_tiny_run(
    root: Path, run_id: str = "tiny-run", one_title: str | None = None, steps: int = 150,
    batch: int = 8,
) -> Path:
    """Train a tiny model on the sample and save it as root/run_id/checkpoint-<steps>/.

    one_title: train every pair with this title instead (a planted collapsed model).
    Cached per (root, run_id) inside one test session.
    """
    key = (root, run_id)
    if key in _BUILT:
        return _BUILT[key]
    import torch
    from transformers import BertJapaneseTokenizer

    from core.model import build_model

    torch.manual_seed(0)
    pairs = sample_pairs()
    if one_title is not None:
        pairs = [{**p, "title": one_title} for p in pairs]
    run_dir = root / run_id
    tok_dir = root / f"{run_id}-vocab"
    _train_vocab([p["story"] for p in pairs] + [p["title"] for p in pairs], tok_dir)
    tok = BertJapaneseTokenizer(
        str(tok_dir / "vocab.txt"), word_tokenizer_type="mecab",
        mecab_kwargs={"mecab_dic": "unidic_lite"},
    )
    model = build_model(tok, scratch="tiny", max_title_tokens=32)

    src = tok([p["story"] for p in pairs], padding=True, truncation=True, max_length=128,
              return_tensors="pt")
    tgt = tok([p["title"] for p in pairs], padding=True, truncation=True, max_length=32,
              add_special_tokens=False, return_tensors="pt")
    # labels = title pieces + [SEP], padding → -100 (the model shifts them right itself).
    lab = torch.full((len(pairs), tgt["input_ids"].shape[1] + 1), -100)
    for i, row in enumerate(tgt["input_ids"]):
        body = row[tgt["attention_mask"][i].bool()]
        lab[i, : len(body)] = body
        lab[i, len(body)] = tok.sep_token_id
    opt = torch.optim.AdamW(model.parameters(), lr=3e-3)
    model.train()
    t0 = time.perf_counter()
    losses = []
    g = torch.Generator().manual_seed(0)
    for _step in range(steps):
        idx = torch.randperm(len(pairs), generator=g)[:batch]
        out = model(input_ids=src["input_ids"][idx], attention_mask=src["attention_mask"][idx],
                    labels=lab[idx])
        out.loss.backward()
        opt.step()
        opt.zero_grad()
        losses.append(float(out.loss.detach()))
    model.eval()
    ck = run_dir / f"checkpoint-{steps}"
    model.save_pretrained(ck)
    tok.save_pretrained(ck)
    (ck / "trainer_state.json").write_text(json.dumps({
        "global_step": steps,
        "log_history": [{"step": steps, "loss": losses[-1]}, {"step": steps, "eval_loss": losses[-1]}],
    }))
    (ck / COMPLETE_MARKER).write_text("")
    (run_dir / "config.json").write_text(json.dumps({"run_id": run_id, "dataset": "tiny-sample",
                                                     "train_s": time.perf_counter() - t0}))
    _BUILT[key] = ck
    return ck


def write_sample_dataset(datasets_dir: Path, name: str = "tiny-sample") -> Path:
    """The sample as a DatasetDict on disk (documented layout): train / validation / test."""
    from datasets import Dataset, DatasetDict

    rows = sample_pairs()
    # Evaluation splits overlap the rows the tiny model saw: these tests check the eval
    # machinery on a model that answers each synopsis differently, not generalisation.
    parts = {"train": rows, "validation": rows[:20], "test": rows[20:40]}
    dd = DatasetDict({k: Dataset.from_list(v) for k, v in parts.items()})
    out = datasets_dir / name
    dd.save_to_disk(str(out))
    return out
