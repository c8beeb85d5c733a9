"""The CLI's error boundary: known failures become one line, anything else a saved traceback."""

from __future__ import annotations

import os
import tempfile
import time
import traceback
from pathlib import Path

# Exit code of an unexpected exception (BSD sysexits EX_SOFTWARE): a bug, not bad input.
EXIT_INTERNAL = 70
EXIT_KNOWN = 1

# Exception classes (module.qualname) whose message is already written for the user. Named,
# not imported, so the boundary costs no import of the heavy layers that define them.
KNOWN_ERRORS: frozenset[str] = frozenset({
    "core.paths.PathError",
    "core.data.errors.DatasetError",
    "core.data.split.SplitError",
    "core.data.loaders.SourceError",
    "core.data.arrow_io.LayoutError",
    "core.tokenization.errors.TokenizerLoadError",
    "core.training.config.ConfigError",
    "core.training.launch.LaunchError",
    "core.training.locks.LockBusy",
    "core.training.preflight.PreflightFailed",
    "core.generation.checkpoints.CheckpointError",
    "core.generation.options.OptionsError",
    "core.evaluation.data.EvalDataError",
    "core.model.ModelError",
    "core.jsonl.JsonlError",
    "core.fetch.harvester.HarvestError",
    "core.fetch.finalize.ImportUnavailable",
})


class CliError(Exception):
    """A user-facing failure: printed as `narou-tui: <message>` and exits with `code`."""

    def __init__(self, message: str, code: int = 2) -> None:
        super().__init__(message)
        self.code = code


def one_line(text: str) -> str:
    """Messages may list several problems on several lines; the boundary prints one."""
    parts = [p.strip() for p in str(text).splitlines() if p.strip()]
    return "; ".join(parts)


def known_message(exc: BaseException) -> str | None:
    """The user-facing line for an expected failure, or None for a bug."""
    for cls in type(exc).__mro__:
        if f"{cls.__module__}.{cls.__qualname__}" in KNOWN_ERRORS:
            return one_line(str(exc))
    if isinstance(exc, OSError) and exc.filename is not None:
        # A path the user named (or a folder it resolved to) cannot be read or written.
        where = exc.filename if exc.filename2 is None else f"{exc.filename} → {exc.filename2}"
        return f"{where}: {exc.strerror or type(exc).__name__}"
    if isinstance(exc, MemoryError):
        return "out of memory (the input may be too large for this machine)"
    return None


def save_traceback(exc: BaseException, config_dir: Path | None, argv: list[str]) -> Path | None:
    """Write the full traceback to <config_dir>/logs/cli-<time>-<pid>.log; None if impossible."""
    stamp = time.strftime("%Y%m%d-%H%M%S")
    text = "".join(traceback.format_exception(exc))
    body = f"argv: {argv!r}\ncwd: {os.getcwd()}\ntime: {time.ctime()}\n\n{text}"
    folders = [config_dir / "logs"] if config_dir is not None else []
    for folder in [*folders, Path(tempfile.gettempdir())]:
        path = folder / f"cli-{stamp}-{os.getpid()}.log"
        try:
            folder.mkdir(parents=True, exist_ok=True)
            path.write_text(body, encoding="utf-8")
        except OSError:
            continue
        return path
    return None


def internal_message(exc: BaseException, command: str, log: Path | None) -> str:
    """One line naming what failed and where (innermost project frame) and the saved log."""
    frames = traceback.extract_tb(exc.__traceback__)
    ours = [f for f in frames if "/core/" in f.filename or "/tui/" in f.filename] or frames
    where = f" at {Path(ours[-1].filename).name}:{ours[-1].lineno}" if ours else ""
    detail = one_line(str(exc))[:200]
    saved = f"full traceback in {log}" if log else "the traceback could not be saved"
    return (f"internal error in `{command}`: {type(exc).__name__}"
            f"{': ' + detail if detail else ''}{where} ({saved}; please report it)")
