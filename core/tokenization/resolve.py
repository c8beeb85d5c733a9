"""Which tokenizer to show when one is named: the named one, else a run's, else a scratch one.

The Tokenizer pane opens on a preset that needs the model hub; offline, the user still wants
to see how *their* text is cut. The fallback order is a policy, so it lives here (the pane
and tests use it without a screen): the run the spec names, then every other run newest first
(a broken run must not hide an older one that works), then the newest scratch vocabulary.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from core.paths import Paths
from core.runs import tokenizers
from core.runs.tokenizers import RunTokenizer
from core.tokenization.errors import TokenizerLoadError


@dataclass(frozen=True)
class ResolvedTokenizer:
    """A loaded tokenizer, its fast-path encoder spec, why it was chosen, and its run if any."""

    loaded: Any
    encoder: Any
    note: str = ""
    run: RunTokenizer | None = None


def scratch_root(config_dir: Path) -> Path:
    """Where scratch vocabularies trained from the Tokenizer pane are kept."""
    return config_dir / "tokenizers"


def newest_scratch(config_dir: Path) -> Path | None:
    """The most recently trained scratch vocabulary folder, if any."""
    found = sorted(scratch_root(config_dir).glob("*/vocab.txt"), key=lambda p: p.stat().st_mtime,
                   reverse=True)
    return found[0].parent if found else None


def tokenizer_runs(paths: Paths) -> list[RunTokenizer]:
    """Runs with a tokenizer, newest first; none when the checkpoints folder is unreadable
    (that only costs the fallback, never the tokenizer the user named)."""
    try:
        return tokenizers.run_tokenizers(paths)
    except OSError:
        return []


def load_spec(spec: str | Path, run_id: str | None = None) -> tuple[Any, Any]:
    """(LoadedTokenizer, fast-path EncoderSpec) for `spec`; a run's folder is named by its id."""
    from core.tokenization.loader import load_tokenizer, load_tokenizer_dir, resolve_encoder

    loaded = load_tokenizer_dir(Path(spec).resolve(), run_id) if run_id is not None \
        else load_tokenizer(spec)
    encoder, *_ = resolve_encoder(loaded.info.path)
    return loaded, encoder


def resolve_tokenizer(paths: Paths, spec: str, note: str = "") -> ResolvedTokenizer:
    """Load `spec` (a run id means that run's tokenizer) or the first fallback that loads.

    Raises the TokenizerLoadError of `spec` when nothing loads; any other error of `spec`
    itself propagates (it is a fault, not an offline hub).
    """
    runs = tokenizer_runs(paths)
    run = next((r for r in runs if r.run_id == spec), None)
    try:
        loaded, encoder = load_spec(run.path if run else spec, run.run_id if run else None)
    except TokenizerLoadError as exc:
        why = str(exc).split(". ")[0]
        fallback = _fallback(paths, spec, why, [r for r in runs if r is not run])
        if fallback is None:
            raise
        return fallback
    return ResolvedTokenizer(loaded, encoder, note, run)


def _fallback(paths: Paths, spec: str, why: str, runs: list[RunTokenizer]) -> ResolvedTokenizer | None:
    for run in runs:
        if str(run.path) == spec:
            continue
        try:
            loaded, encoder = load_spec(run.path, run.run_id)
        except Exception:  # noqa: BLE001 - a broken run must not hide an older one that works
            continue
        newest = "the newest run" if run is runs[0] else "the newest run whose tokenizer loads"
        return ResolvedTokenizer(loaded, encoder,
                                 f"{why}; using the tokenizer of run {run.run_id} ({newest})", run)
    scratch = newest_scratch(paths.config_dir)
    if scratch is None or spec == str(scratch):
        return None
    try:
        loaded, encoder = load_spec(scratch)
    except Exception:  # noqa: BLE001 - then the caller's hint, as with no scratch vocabulary
        return None
    return ResolvedTokenizer(loaded, encoder, f"{why}; using scratch vocabulary")
