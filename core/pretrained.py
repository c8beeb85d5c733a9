"""Load a pretrained BERT as BERT2BERT encoder and decoder: local cache first, one plain report line per part."""

from __future__ import annotations

import copy
import json
import logging
import re
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any


class ModelError(RuntimeError):
    """A model could not be built or loaded; the message says what to do."""


log = logging.getLogger(__name__)

# A snapshot in the Hugging Face cache is usable offline when it holds the config and one of these.
WEIGHT_FILES = ("model.safetensors", "model.safetensors.index.json", "pytorch_model.bin",
                "pytorch_model.bin.index.json")
# Checkpoint tensors a BERT2BERT never uses: the masked-LM head (in the encoder), the
# next-sentence head, and the pooler that feeds it (in the decoder).
PRETRAINING_HEADS = ("cls.predictions.", "cls.seq_relationship.", "bert.pooler.", "pooler.")
CROSS_ATTENTION = ".crossattention."
LM_HEAD = "cls.predictions."
_ESCAPES = re.compile(r"\x1b(\[[0-?]*[ -/]*[@-~]|\][^\x07\x1b]*(\x07|\x1b\\)|[@-Z\\-_])")


def strip_escapes(text: str) -> str:
    """`text` without terminal escape sequences (colours, cursor moves, hyperlinks)."""
    return _ESCAPES.sub("", text)


@dataclass(frozen=True)
class LoadReport:
    """How one part's weights matched the checkpoint.

    part: "encoder" or "decoder".
    loaded: model tensors that took a checkpoint value.
    missing: model tensors absent from the checkpoint (newly initialised).
    unused: checkpoint tensors the part has no place for.
    """

    part: str
    loaded: int
    missing: tuple[str, ...]
    unused: tuple[str, ...]

    def summary(self) -> str:
        """One plain line, e.g. "decoder: 42 tensors from the checkpoint; 20 cross-attention
        tensors newly initialised (expected for BERT2BERT); 4 pretraining-head tensors unused"."""
        cross = [k for k in self.missing if CROSS_ATTENTION in k]
        head = [k for k in self.missing if k.startswith(LM_HEAD)]
        other = [k for k in self.missing if k not in cross and k not in head]
        heads_unused = [k for k in self.unused if k.startswith(PRETRAINING_HEADS)]
        other_unused = [k for k in self.unused if k not in heads_unused]
        parts = [f"{self.loaded} tensors from the checkpoint"]
        if cross:
            parts.append(f"{len(cross)} cross-attention tensors newly initialised (expected for BERT2BERT)")
        if head:
            parts.append(f"{len(head)} LM-head tensors newly initialised (the checkpoint has no "
                         f"cls.predictions: the title layer starts untrained)")
        if other:
            parts.append(f"{len(other)} other tensors newly initialised ({some_names(other)})")
        if heads_unused:
            parts.append(f"{len(heads_unused)} pretraining-head tensors unused")
        if other_unused:
            parts.append(f"{len(other_unused)} other checkpoint tensors unused ({some_names(other_unused)})")
        return f"{self.part}: " + "; ".join(parts)


def some_names(names: list[str], shown: int = 3) -> str:
    """The first `shown` names, sorted, and how many more (for one-line reports)."""
    head = ", ".join(sorted(names)[:shown])
    return head + (f" and {len(names) - shown} more" if len(names) > shown else "")


def cached_snapshot(hub_id: str) -> Path | None:
    """The folder of `hub_id` in the local Hugging Face cache when it holds config and weights."""
    from huggingface_hub import try_to_load_from_cache

    try:
        config = try_to_load_from_cache(hub_id, "config.json")
    except Exception:  # noqa: BLE001 - a malformed id or cache is simply "not cached"
        return None
    if not isinstance(config, str):
        return None
    folder = Path(config).parent
    for name in WEIGHT_FILES:
        if (folder / name).is_file():
            if name.endswith(".index.json") and not _shards_present(folder / name):
                continue
            return folder
    return None


def _shards_present(index: Path) -> bool:
    try:
        shards = set(json.loads(index.read_text(encoding="utf-8"))["weight_map"].values())
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        return False
    return all((index.parent / s).is_file() for s in shards)


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else "no details"


def offline_message(spec: str, reason: str) -> str:
    """Why a hub id could not be loaded, and how to point at a local copy instead."""
    return (
        f"cannot load model {spec!r}: not a local directory, and the Hugging Face hub is not "
        f"reachable or the model is not in the local cache ({reason}). "
        f"Download it where the hub is reachable (e.g. `hf download {spec} "
        f"--local-dir models/{spec.split('/')[-1]}`) and pass that directory with --model, "
        f"or use --scratch tiny|small|base."
    )


def resolve_pretrained(spec: str) -> str:
    """A local folder for `spec` when there is one (a directory, or the hub id's snapshot in the
    local cache), else the hub id itself once the hub has answered a probe.

    The cache comes first so a cached model never waits on the network: transformers would
    otherwise ask the hub for files the repository lacks (generation_config.json) and retry
    for about half a minute on a machine without a route to it.
    """
    from core.tokenization.hub import offline_mode, probe_hub

    local = Path(spec).expanduser()
    if local.is_dir():
        return str(local.resolve())
    cached = cached_snapshot(spec)
    if cached is not None:
        log.debug("model %s: found in the local Hugging Face cache (%s)", spec, cached)
        return str(cached)
    if offline_mode():
        raise ModelError(offline_message(spec, "HF_HUB_OFFLINE is set"))
    reason = probe_hub()
    if reason is not None:
        raise ModelError(offline_message(spec, reason))
    return spec


@contextmanager
def load_reports_at_debug() -> Iterator[None]:
    """Demote transformers' load-report tables (≈40 lines with colour codes) to core's debug
    log, without the codes; callers write one plain line from the loading info instead."""
    hf_logger = logging.getLogger("transformers.modeling_utils")
    # The report is a warning: a quieter transformers verbosity (set_verbosity_error, as the
    # generate command sets) would stop it being made at all, and debug level would lose it.
    # Lower the level for the load and let through only what the old level would have.
    shown_from = hf_logger.getEffectiveLevel()
    saved_level = hf_logger.level
    if log.isEnabledFor(logging.DEBUG):
        hf_logger.setLevel(min(shown_from, logging.WARNING))

    def demote(record: logging.LogRecord) -> bool:
        message = record.getMessage()
        if "LOAD REPORT" not in message:
            return record.levelno >= shown_from
        log.debug("%s", strip_escapes(message))
        return False

    hf_logger.addFilter(demote)
    try:
        yield
    finally:
        hf_logger.removeFilter(demote)
        hf_logger.setLevel(saved_level)


def _report(part: str, model: Any, info: dict[str, Any]) -> LoadReport:
    # The encoder's pooler is dropped right after loading (strip_pooler): its absence is moot.
    missing = tuple(sorted(k for k in info.get("missing_keys") or () if not k.startswith("pooler.")))
    unused = tuple(sorted(info.get("unexpected_keys") or ()))
    # Tied weights (the LM head's decoder and the word embeddings) share one storage: count it once.
    loaded = len({t.data_ptr() for k, t in model.state_dict().items() if k not in set(missing)})
    return LoadReport(part, loaded, missing, unused)


def load_encoder_decoder(spec: str) -> tuple[Any, list[LoadReport]]:
    """(EncoderDecoderModel with both halves from `spec`, one LoadReport per half).

    The decoder gets causal self-attention and fresh cross-attention; its LM head comes from
    the checkpoint's cls.predictions when it has one.
    """
    from transformers import AutoConfig, AutoModel, AutoModelForCausalLM, EncoderDecoderModel

    src = resolve_pretrained(spec)
    local = Path(src).is_dir()
    if src != spec and not Path(spec).expanduser().is_dir():
        log.info("model %s: loading from the local Hugging Face cache (%s)", spec, src)
    common: dict[str, Any] = {"trust_remote_code": False, "local_files_only": local}
    try:
        enc_cfg = AutoConfig.from_pretrained(src, **common)
        dec_cfg = copy.deepcopy(enc_cfg)
        enc_cfg.is_decoder, enc_cfg.add_cross_attention = False, False
        dec_cfg.is_decoder, dec_cfg.add_cross_attention = True, True
        with load_reports_at_debug():
            encoder, enc_info = AutoModel.from_pretrained(
                src, config=enc_cfg, attn_implementation="sdpa", output_loading_info=True, **common)
            decoder, dec_info = AutoModelForCausalLM.from_pretrained(
                src, config=dec_cfg, attn_implementation="sdpa", output_loading_info=True, **common)
    except (OSError, ValueError, RuntimeError) as exc:
        # RuntimeError: transformers' verdict on weights whose shapes disagree with the config.
        why = f"{type(exc).__name__}: {_first_line(exc)}"
        if local:
            raise ModelError(f"cannot load model {spec!r} from {src}: {why}") from exc
        raise ModelError(offline_message(spec, why)) from exc
    reports = [_report("encoder", encoder, enc_info), _report("decoder", decoder, dec_info)]
    for r in reports:
        log.info("%s", r.summary())
    model = EncoderDecoderModel(encoder=encoder, decoder=decoder)
    return model, reports
