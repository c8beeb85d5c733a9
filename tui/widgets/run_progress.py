"""RunProgress: step/total bar, epoch, elapsed, resume-aware ETAs and the run's state."""

from __future__ import annotations

from rich.text import Text
from textual.widgets import Static

from core.runs.eta import Eta
from core.runs.progress import ProgressInfo
from core.timefmt import format_duration
from tui.redraw import show_text
from tui.widgets.run_list import STATE_STYLE


class RunProgress(Static):
    """A few lines of text; `show(info)` replaces them."""

    DEFAULT_CSS = "RunProgress { height: auto; padding: 0 1; }"

    def __init__(self, **kwargs: object) -> None:
        super().__init__("no run attached", **kwargs)  # type: ignore[arg-type]
        self.info = ProgressInfo()

    def show(self, info: ProgressInfo) -> None:
        self.info = info
        show_text(self, self.text(info))

    @staticmethod
    def text(info: ProgressInfo, bar_w: int = 22) -> Text:
        t = Text(no_wrap=True, overflow="ellipsis")
        t.append(info.run_id or "no run attached", style="bold")
        t.append("  ")
        t.append(info.state, style=STATE_STYLE.get(info.state, ""))
        if info.segment:
            t.append(f"  segment {info.segment}", style="dim")
        t.append("\n")
        total = info.total_steps or 0
        frac = min(1.0, info.step / total) if total else 0.0
        filled = int(round(frac * bar_w))
        t.append("█" * filled, style="green")
        t.append("░" * (bar_w - filled), style="dim")
        t.append(f" {100 * frac:.1f}%\n" if total else "\n")
        t.append(f"step {info.step:,}/{total:,}" if total else f"step {info.step:,}")
        t.append(f"  epoch {info.epoch:.2f}\n")
        eta = info.eta or Eta()
        t.append(f"elapsed {format_duration(info.elapsed_s)}  ")
        t.append(f"ETA {format_duration(eta.eta_end_s)}\n")
        if eta.next_checkpoint_step:
            t.append(f"next ckpt @{eta.next_checkpoint_step:,} in "
                     f"{format_duration(eta.eta_checkpoint_s)}\n")
        if eta.steps_per_s:
            since = "resume" if info.segment else "start"
            t.append(f"{eta.steps_per_s:.2f} steps/s since {since}\n", style="dim")
        loss = f"{info.last_loss:.4f}" if info.last_loss is not None else "—"
        best = (f"{info.best_eval[0]:.4f} @{info.best_eval[1]:,}" if info.best_eval else "—")
        t.append(f"loss {loss}  best eval {best}")
        if info.activity:
            t.append(f"\n{info.activity}", style="yellow")
        if info.exit_reason:
            # A finished run's reason is why it ended early (early stopping), not a failure.
            t.append(f"\n{info.exit_reason}", style="cyan" if info.state == "finished" else "red")
        if info.bad_lines:
            t.append(f"\n{info.bad_lines} unreadable metric line(s) skipped", style="yellow")
        for line in info.ignored:
            t.append(f"\n{line}", style="yellow")
        return t
