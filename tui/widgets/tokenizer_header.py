"""TokenizerHeader: which tokenizer the Tokenizer pane uses (dictionary, vocabulary, warnings)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from rich.text import Text
from textual.widgets import Static

from core.paths import short_path


class TokenizerHeader(Static):
    """The loaded tokenizer in one line and its notes and warnings below, or why none loaded."""

    def show_loaded(self, info: Any, run: Any = None, note: str = "") -> None:
        """`info`: the TokenizerInfo; `run`: the run it came from, if any; `note`: how it was chosen."""
        header = Text()
        if run is not None:
            header.append(f"run {run.run_id}", style="bold")
            header.append(f" ({run.where})")
        else:
            header.append(short_path(info.name, 2) if "/" in info.name and Path(info.name).is_absolute()
                          else info.name, style="bold")
        header.append(f"  {info.word_tokenizer}+{info.subword} {info.vocab_size} pieces  ")
        header.append(f"dictionary {info.dictionary} {info.dictionary_version}", style="bold")
        header.append(f" ({short_path(info.dictionary_path)})" if info.dictionary_path else "")
        if note:
            header.append(f"\n{note}", style="yellow")
        for warning in info.warnings:
            header.append(f"\n⚠ {warning}", style="bold red" if "MISMATCH" in warning else "yellow")
        self.update(header)
        self.tooltip = f"{info.path}\n{info.dictionary_path}"

    def show_problem(self, why: str, hint: str = "") -> None:
        """No tokenizer (or a failed step): `why` in red, then what to do about it."""
        text = Text(why, style="bold red")
        if hint:
            text.append(f"\n{hint}", style="bold yellow")
        self.update(text)

    def show_busy(self, what: str) -> None:
        self.update(Text(what, style="bold yellow"))
