"""Tiny locally trained BERT2BERT checkpoints in the run-dir layout, for generation/eval tests.

`build_tiny_run` trains through the project's real training job (`core.training.launch` in the
foreground, scratch `tiny`, on the head of the bundled sample). `build_collapsed_run` plants
the classic failure: a real tiny model trained on one title for every synopsis.
"""

from __future__ import annotations

import json
import shutil
import time
from pathlib import Path

from core.paths import REPO_ROOT, Paths
from core.runs.schema import COMPLETE_MARKER

SAMPLE = REPO_ROOT / "datasets" / "sample" / "sample.jsonl"
DATASET = "tiny-sample"
_BUILT: dict[tuple[Path, str], Path] = {}
# The sample keeps growing; a fixed head keeps the fixture's cost and behaviour stable, and a
# tiny model learns 48 titles well enough in seconds to answer synopses differently.
FIXTURE_ROWS = 48


def sample_pairs(limit: int = FIXTURE_ROWS) -> list[dict[str, str]]:
    """The first `limit` bundled original sample records (story, title, ncode)."""
    rows = []
    for line in SAMPLE.read_text(encoding="utf-8").splitlines():
        if line.strip():
            rec = json.loads(line)
            rows.append({"story": rec["story"], "title": rec["title"], "ncode": rec["ncode"]})
    return rows[:limit]


def fixed_vocab(texts: list[str], size: int, out: Path) -> Path:
    """A WordPiece folder built deterministically: the most frequent MeCab words (ties by
    text), then every character alone and as a ##continuation.

    The tokenizers library's WordPiece trainer breaks count ties by hash-map order, so its
    vocabulary changes from run to run (huggingface/tokenizers#1794); a fixture model trained
    on it then behaves differently each session. This one is the same every time.
    """
    import unicodedata
    from collections import Counter

    from core.tokenization.dictionary import open_tagger
    from core.tokenization.scratch import SPECIAL_TOKENS, tokenizer_config

    tagger = open_tagger("unidic_lite", wakati=True)
    words: Counter[str] = Counter()
    for text in texts:
        words.update(tagger.parse(unicodedata.normalize("NFKC", text)).split())
    chars = sorted({ch for w in words for ch in w})
    pieces = list(SPECIAL_TOKENS) + chars + [f"##{ch}" for ch in chars]
    room = max(0, size - len(pieces))
    pieces += [w for w, _ in sorted(words.items(), key=lambda kv: (-kv[1], kv[0])) if len(w) > 1][:room]
    out.mkdir(parents=True, exist_ok=True)
    (out / "vocab.txt").write_text("".join(p + "\n" for p in pieces), encoding="utf-8")
    (out / "tokenizer_config.json").write_text(json.dumps(tokenizer_config()), encoding="utf-8")
    return out


def build_tiny_run(root: Path, run_id: str = "tiny-run", steps: int = 150) -> Path:
    """Train through the real job; the run is copied to root/run_id. Returns its checkpoint.

    Cached per (root, run_id) inside one test session.
    """
    key = (root, run_id)
    if key in _BUILT:
        return _BUILT[key]
    from core.data.importer import import_dataset
    from core.training.config import TrainConfig
    from core.training.launch import launch

    work = root / f"{run_id}-work"
    paths = Paths(work / "datasets", work / "checkpoints", work / "config")
    src = work / "pairs.jsonl"
    src.parent.mkdir(parents=True, exist_ok=True)
    src.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in sample_pairs()),
                   encoding="utf-8")
    import_dataset(src, DATASET, paths)
    vocab = fixed_vocab([t for r in sample_pairs() for t in (r["story"], r["title"])], 1200,
                        work / "vocab")
    config = TrainConfig(
        dataset=DATASET, scratch="tiny", tokenizer=str(vocab), max_steps=steps, batch_size=8,
        grad_accum=1, lr=5e-3, warmup=0.0, eval_steps=steps, save_steps=steps, device="cpu",
        compile="off", run_name="tiny",
    )
    made = launch(paths, config, foreground=True)
    shutil.copytree(paths.run(made), root / run_id)
    ck = root / run_id / f"checkpoint-{steps}"
    if not (ck / COMPLETE_MARKER).exists():
        raise RuntimeError(f"the tiny training run left no complete {ck.name}")
    _BUILT[key] = ck
    return ck


def build_collapsed_run(
    root: Path, title: str, run_id: str = "collapsed", steps: int = 60
) -> Path:
    """A real tiny model trained on `title` for every synopsis, saved as a complete checkpoint."""
    key = (root, run_id)
    if key in _BUILT:
        return _BUILT[key]
    import torch

    from core.model import build_model
    from core.tokenization import load_tokenizer

    torch.manual_seed(0)
    pairs = [{**p, "title": title} for p in sample_pairs()]
    # The deterministic vocabulary: with the trainer's, the planted model's one title came
    # out a piece different on some machines ("竜の卵をのた" for "竜の卵をた").
    tok_dir = fixed_vocab([p["story"] for p in pairs] + [title], 1200, root / f"{run_id}-vocab")
    tok = load_tokenizer(str(tok_dir)).tokenizer
    model = build_model(tok, scratch="tiny", max_title_tokens=32)
    src = tok([p["story"] for p in pairs], padding=True, truncation=True, max_length=128,
              return_tensors="pt")
    body = tok(title, add_special_tokens=False)["input_ids"]
    # labels = title pieces + [SEP], no leading [CLS] (the model shifts them right itself).
    labels = torch.tensor([body + [tok.sep_token_id]] * len(pairs))
    opt = torch.optim.AdamW(model.parameters(), lr=3e-3)
    model.train()
    t0 = time.perf_counter()
    g = torch.Generator().manual_seed(0)
    loss = 0.0
    for _ in range(steps):
        idx = torch.randperm(len(pairs), generator=g)[:8]
        # Shifted right behind [CLS] here, as the training loop does (passing labels= to the
        # model works too, but transformers then warns about pre-4.12 checkpoints each step).
        dec_in = torch.cat([torch.full((len(idx), 1), tok.cls_token_id), labels[idx][:, :-1]], dim=1)
        out = model(input_ids=src["input_ids"][idx], attention_mask=src["attention_mask"][idx],
                    decoder_input_ids=dec_in)
        step_loss = torch.nn.functional.cross_entropy(out.logits.reshape(-1, out.logits.size(-1)),
                                                      labels[idx].reshape(-1))
        step_loss.backward()
        opt.step()
        opt.zero_grad()
        loss = float(step_loss.detach())
    model.eval()
    run_dir = root / run_id
    ck = run_dir / f"checkpoint-{steps}"
    model.save_pretrained(ck)
    tok.save_pretrained(ck)
    (ck / "trainer_state.json").write_text(json.dumps(
        {"global_step": steps, "log_history": [{"step": steps, "eval_loss": loss}]}))
    (ck / COMPLETE_MARKER).write_text("")
    (run_dir / "config.json").write_text(json.dumps(
        {"run_id": run_id, "dataset": {"name": DATASET}, "train_s": time.perf_counter() - t0}))
    _BUILT[key] = ck
    return ck


def write_sample_dataset(datasets_dir: Path, name: str = DATASET) -> Path:
    """The fixture rows as a DatasetDict on disk (documented layout): train/validation/test.

    The evaluation splits overlap the rows the tiny model saw: the tests check the eval
    machinery on a model that answers each synopsis differently, not generalisation.
    """
    from datasets import Dataset, DatasetDict

    rows = sample_pairs()
    parts = {"train": rows, "validation": rows[:20], "test": rows[20:40]}
    dd = DatasetDict({k: Dataset.from_list(v) for k, v in parts.items()})
    out = datasets_dir / name
    dd.save_to_disk(str(out))
    return out
