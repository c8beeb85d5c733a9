"""The exported model's card: hub front matter, then base model, data, config, metrics, usage."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from core.export.snippet import usage_snippet
from core.generation.checkpoints import CheckpointInfo
from core.runs.reader import read_config

# The training settings a reader of the card needs (local paths left out: the card is shared).
TRAIN_FIELDS: tuple[str, ...] = (
    "epochs", "max_steps", "batch_size", "grad_accum", "gpus", "lr", "warmup", "weight_decay",
    "max_grad_norm", "max_source_len", "max_target_len", "precision", "seed",
)
QUALITY_COLUMNS: tuple[tuple[str, str, str], ...] = (
    ("chrf", "chrF", "{:.1f}"),
    ("bleu", "BLEU", "{:.1f}"),
    ("rouge_l", "ROUGE-L", "{:.1f}"),
    ("distinct_1", "distinct-1", "{:.2f}"),
    ("distinct_2", "distinct-2", "{:.2f}"),
    ("copy_rate", "copy rate", "{:.2f}"),
    ("mean_len", "mean length", "{:.1f}"),
)
SYSTEM_NAMES = {"model": "this model", "first_n_chars": "first {n} characters of the synopsis",
                "most_common_title": "most common training title"}
TAGS = ("bert2bert", "encoder-decoder", "japanese", "title-generation", "narou", "narou-tui")


@dataclass
class CardFacts:
    """What the card says, gathered from the run folder (config, eval reports, metrics).

    base_model: hub id or folder of the BERT both halves started from; None for scratch.
    scratch: the scratch preset name and its sizes when trained from random weights.
    dataset: name, rows per split, fingerprint (from the run's frozen config.json).
    train: the run's training settings (see TRAIN_FIELDS); epochs left out when max_steps
        decided the length.
    tokenizer: dictionary, its version, vocabulary size.
    eval_reports: `narou-tui eval` reports of this checkpoint, newest first.
    quality / quality_baseline: the latest live title-quality figures at or before the step,
        and the first-N-characters baseline logged with the run's first quality line.
    decoding: the generation settings written to generation_config.json.
    """

    spec: str
    step: int
    eval_loss: float | None
    parameters: int
    base_model: str | None
    scratch: dict[str, Any] | None
    dataset: dict[str, Any]
    train: dict[str, Any]
    tokenizer: dict[str, Any]
    versions: dict[str, str]
    decoding: dict[str, Any]
    eval_reports: list[dict[str, Any]] = field(default_factory=list)
    quality: dict[str, Any] | None = None
    quality_baseline: dict[str, Any] | None = None


def _eval_reports(run_dir: Path, spec: str) -> list[dict[str, Any]]:
    """Full reports of this checkpoint (one per split, newest), else its newest partial one."""
    from core.evaluation.runner import latest_reports

    mine = [r for r in latest_reports(run_dir) if r.get("checkpoint") == spec
            and isinstance(r.get("systems"), dict) and "model" in r["systems"]]
    full: dict[str, dict[str, Any]] = {}
    for r in mine:
        if r.get("limit") is None:
            full.setdefault(str(r.get("split")), r)
    return list(full.values()) or mine[:1]


def _quality_lines(run_dir: Path, step: int) -> tuple[dict[str, Any] | None, dict[str, Any] | None]:
    """(latest `quality` figures at or before `step`, the run's baseline) from the quality lines
    the run-directory rule keeps (a resume's superseded ones left out)."""
    from core.runs.history import read_history
    from core.runs.rule import step_of

    latest: dict[str, Any] | None = None
    baseline: dict[str, Any] | None = None
    for rec in read_history(run_dir).qualities:
        if not isinstance(rec.get("quality"), dict):
            continue
        if baseline is None and isinstance(rec.get("baseline"), dict):
            baseline = rec["baseline"]
        if 0 <= step_of(rec) <= step:
            latest = {**rec["quality"], "step": step_of(rec), "samples": rec.get("quality_samples")}
    return latest, baseline


def gather_facts(info: CheckpointInfo, parameters: int, tokenizer: dict[str, Any],
                 decoding: dict[str, Any]) -> CardFacts:
    """The card's facts for one checkpoint of a run (its run folder is the checkpoint's parent)."""
    run_dir = info.path.parent
    config = read_config(run_dir)
    train = config.get("train") if isinstance(config.get("train"), dict) else {}
    model = config.get("model") if isinstance(config.get("model"), dict) else {}
    base = model.get("pretrained") or train.get("model")
    scratch = None
    if not base:
        name = model.get("scratch") or train.get("scratch")
        scratch = {"name": name, **(model.get("preset") or {})} if name else None
    dataset = config.get("dataset") if isinstance(config.get("dataset"), dict) else {}
    if not dataset and isinstance(train.get("dataset"), str):
        dataset = {"name": train["dataset"]}
    quality, baseline = _quality_lines(run_dir, info.step)
    versions = config.get("versions") if isinstance(config.get("versions"), dict) else {}
    settings = {k: train[k] for k in TRAIN_FIELDS if train.get(k) is not None}
    if "max_steps" in settings:  # max_steps decided the length: an epochs figure would mislead
        settings.pop("epochs", None)
    return CardFacts(
        spec=info.spec, step=info.step, eval_loss=info.eval_loss, parameters=parameters,
        base_model=str(base) if base else None, scratch=scratch,
        dataset={k: dataset.get(k) for k in ("name", "counts", "fingerprint") if dataset.get(k)},
        train=settings,
        tokenizer=tokenizer, versions={str(k): str(v) for k, v in versions.items()},
        decoding=decoding, eval_reports=_eval_reports(run_dir, info.spec), quality=quality,
        quality_baseline=baseline,
    )


def is_hub_id(spec: str) -> bool:
    """`owner/name` as the hub spells a repo (a local folder is not one)."""
    owner, _, name = spec.partition("/")
    return bool(owner and name) and "/" not in name and not spec.startswith((".", "/", "~")) \
        and not Path(spec).expanduser().exists()


def _yaml_str(value: str) -> str:
    # A JSON string is a valid YAML double-quoted scalar: no quoting rules of our own.
    return json.dumps(value, ensure_ascii=False)


def front_matter(facts: CardFacts) -> str:
    """The hub's YAML metadata block (language, library, pipeline tag, base model, datasets)."""
    lines = ["---", "language:", "- ja", "library_name: transformers",
             "pipeline_tag: text2text-generation"]
    if facts.base_model and is_hub_id(facts.base_model):
        lines.append(f"base_model: {_yaml_str(facts.base_model)}")
    if facts.dataset.get("name"):
        lines += ["datasets:", f"- {_yaml_str(str(facts.dataset['name']))}"]
    lines += ["tags:", *[f"- {t}" for t in TAGS], "---"]
    return "\n".join(lines)


def _table(header: list[str], rows: list[list[str]]) -> list[str]:
    out = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    out += ["| " + " | ".join(r) + " |" for r in rows]
    return out


def _fmt(value: Any, fmt: str) -> str:
    try:
        return fmt.format(float(value))
    except (TypeError, ValueError):
        return "—"


def _eval_section(facts: CardFacts) -> list[str]:
    from core.evaluation.runner import METRIC_COLUMNS

    out: list[str] = []
    for r in facts.eval_reports:
        n_prefix = (r.get("baselines") or {}).get("first_n_chars", "N")
        part = f", first {r['limit']} rows" if r.get("limit") is not None else ""
        out += ["", f"`narou-tui eval` on the {r.get('split')} split of {r.get('dataset')} "
                f"({r.get('n')} synopses{part}), character-level scores; decoding: "
                f"{_options_text(r.get('options') or {})}:", ""]
        rows = []
        for key, scores in r["systems"].items():
            name = SYSTEM_NAMES.get(key, key).format(n=n_prefix)
            rows.append([name, *[_fmt(scores.get(k), fmt) for k, _, fmt in METRIC_COLUMNS]])
        out += _table(["system", *[h for _, h, _ in METRIC_COLUMNS]], rows)
        collapse = (r["systems"]["model"].get("collapse") or {})
        if collapse.get("collapsed"):
            out += ["", f"**Collapse warning:** {collapse.get('n_distinct')} distinct titles for "
                    f"{collapse.get('n_inputs')} synopses."]
    if facts.quality is not None:
        q = facts.quality
        out += ["", f"Live title quality logged during training at step {q['step']} "
                f"(greedy, {q.get('samples') or '?'} validation synopses):", ""]
        rows = [["this model", *[_fmt(q.get(k), fmt) for k, _, fmt in QUALITY_COLUMNS]]]
        if facts.quality_baseline is not None:
            rows.append(["first N characters of the synopsis",
                         *[_fmt(facts.quality_baseline.get(k), fmt) for k, _, fmt in QUALITY_COLUMNS]])
        out += _table(["system", *[h for _, h, _ in QUALITY_COLUMNS]], rows)
    loss = f"{facts.eval_loss:.4f}" if facts.eval_loss is not None else "not recorded"
    out += ["", f"Validation loss (cross-entropy per title token) at step {facts.step}: {loss}."]
    if not facts.eval_reports:
        out += ["", f"No `narou-tui eval` report exists for this checkpoint yet: run "
                f"`narou-tui eval --checkpoint {facts.spec}` and export again to put title "
                "metrics beside the baselines here."]
    return out


def _short_options(options: dict[str, Any]) -> dict[str, Any]:
    keep = ("num_beams", "do_sample", "length_penalty", "no_repeat_ngram_size",
            "repetition_penalty", "max_new_tokens")
    return {k: options[k] for k in keep if k in options}


def _options_text(options: dict[str, Any]) -> str:
    return ", ".join(f"{k}={v}" for k, v in _short_options(options).items())


def _base_section(facts: CardFacts) -> list[str]:
    if facts.base_model:
        where = (f"[{facts.base_model}](https://huggingface.co/{facts.base_model})"
                 if is_hub_id(facts.base_model) else f"`{Path(facts.base_model).name}` (a local folder)")
        return [f"- **Base model:** {where}; encoder and decoder both start from it, the "
                "decoder with new cross-attention layers (BERT2BERT)."]
    s = facts.scratch or {}
    shape = ", ".join(f"{k} {s[k]}" for k in ("hidden", "layers", "heads", "intermediate") if k in s)
    return [f"- **Base model:** none: trained from random weights (narou-tui scratch preset "
            f"`{s.get('name', '?')}`{': ' + shape if shape else ''})."]


def _data_section(facts: CardFacts) -> list[str]:
    d = facts.dataset
    counts = d.get("counts") or {}
    sizes = ", ".join(f"{k} {int(v):,}" for k, v in counts.items()) if counts else "not recorded"
    return [f"- **Dataset:** `{d.get('name', 'unknown')}`, (synopsis, title) pairs of "
            f"小説家になろう novels; rows: {sizes}; fingerprint `{d.get('fingerprint', 'not recorded')}`."]


def _decoding_phrase(options: dict[str, Any]) -> str:
    if options.get("do_sample"):
        return "sampling"
    beams = int(options.get("num_beams") or 1)
    return f"beam search, {beams} beams" if beams > 1 else "greedy"


def render_card(facts: CardFacts, model_ref: str) -> str:
    """README.md of the exported folder; `model_ref` is what the usage snippet loads."""
    t = facts.tokenizer
    dictionary = str(t.get("dictionary") or "unidic_lite")
    package = dictionary.replace("_", "-")
    decoding = _options_text(facts.decoding)
    lines = [
        front_matter(facts), "",
        f"# BERT2BERT title generator for 小説家になろう ({facts.spec})", "",
        "Writes a Japanese web-novel title (タイトル) from a synopsis (あらすじ). A "
        "`transformers` `EncoderDecoderModel` (BERT encoder + BERT decoder) fine-tuned with "
        "narou-tui; this folder loads with plain `transformers`, no narou-tui needed.", "",
        "## Model", "",
        *_base_section(facts),
        f"- **Parameters:** {facts.parameters:,}; weights in safetensors.",
        f"- **Tokenizer:** `BertJapaneseTokenizer`, MeCab (fugashi) with the `{dictionary}` "
        f"dictionary{' ' + str(t['dictionary_version']) if t.get('dictionary_version') else ''}, "
        f"then WordPiece; {t.get('vocab_size', '?')} pieces.",
        f"- **Decoding defaults** (generation_config.json): {decoding}.", "",
        "## Training data", "",
        *_data_section(facts), "",
        "## Training", "",
        f"Checkpoint `{facts.spec}`, optimizer step {facts.step}.", "",
        *_table(["setting", "value"], [[k, str(v)] for k, v in facts.train.items()]),
    ]
    if facts.versions:
        lines += ["", "Software: " + ", ".join(f"{k} {v}" for k, v in facts.versions.items()) + "."]
    lines += ["", "## Evaluation", *_eval_section(facts), ""]
    lines += [
        "## Limitations", "",
        "- Trained only on 小説家になろう synopses and titles: it imitates that site's "
        "conventions (long, explanatory titles; isekai, reincarnation, villainess tropes) and "
        "does poorly on other kinds of text.",
        "- It can repeat phrases from the synopsis, or give near-identical titles to different "
        "synopses; check the distinct and copy-rate figures above before relying on it.",
        "- A title may name people or places that are not in the synopsis, and the scores "
        "above are character overlaps with the real titles, not judgements of quality.",
        f"- The tokenizer needs MeCab: `fugashi` and the `{package}` dictionary must be "
        "installed, or the text is split differently from training.", "",
        "## Usage", "",
        "```bash",
        f"pip install transformers torch fugashi {package}",
        "```", "",
        "```python",
        usage_snippet(model_ref, package, _decoding_phrase(facts.decoding)).rstrip("\n"),
        "```", "",
    ]
    return "\n".join(lines)
