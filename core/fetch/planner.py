"""Slicing one huge query into `lastup=FROM-TO` windows small enough to page through."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any


@dataclass(frozen=True)
class PageRequest:
    """The window and paging parameters of the next API call."""

    lastup: str
    st: int
    lim: int


@dataclass
class WindowPlanner:
    """Walks [lo, hi] (unix seconds of general_lastup) in windows, newest first by default.

    A window is paged with st = 1, 1+lim, ... up to `max_st`; when the first page reports an
    `allcount` beyond `reach` (max_st + lim - 1) the window is halved and asked again, at the
    same edge, so the walk never skips time. After a window is finished the next one is sized
    from the density just seen (at most ×4 wider), which keeps splits rare on smooth data.
    Everything here is plain data, saved in the state file after every page.

    lo, hi: the part of the range not yet finished (inclusive).
    newest_first: walk from hi down to lo (else lo up to hi).
    span: width in seconds of the next window.
    window: the window being paged, or None between windows.
    next_st: `st=` of the next page of that window.
    total: width of the whole range, for progress display.
    """

    lo: int
    hi: int
    newest_first: bool
    span: int
    lim: int
    max_st: int
    window: list[int] | None = None
    allcount: int | None = None
    next_st: int = 1
    windows_done: int = 0
    splits: int = 0
    unreachable: int = 0
    total: int = 0

    def __post_init__(self) -> None:
        if not self.total:
            self.total = max(0, self.hi - self.lo + 1)

    @classmethod
    def start(cls, lo: int, hi: int, newest_first: bool, lim: int, max_st: int) -> WindowPlanner:
        return cls(lo, hi, newest_first, max(1, hi - lo + 1), lim, max_st)

    @property
    def reach(self) -> int:
        """How many matches of one query paging can reach."""
        return self.max_st + self.lim - 1

    @property
    def done(self) -> bool:
        return self.window is None and self.lo > self.hi

    @property
    def covered_fraction(self) -> float:
        """Rough share of the time range already finished (for display only)."""
        if self.total <= 0:
            return 1.0
        return 1.0 - max(0, self.hi - self.lo + 1) / self.total

    def next_request(self) -> PageRequest:
        if self.done:
            raise RuntimeError("planner is finished")
        if self.window is None:
            self._open_window()
        assert self.window is not None
        return PageRequest(f"{self.window[0]}-{self.window[1]}", self.next_st, self.lim)

    def _open_window(self) -> None:
        span = max(1, self.span)
        if self.newest_first:
            self.window = [max(self.lo, self.hi - span + 1), self.hi]
        else:
            self.window = [self.lo, min(self.hi, self.lo + span - 1)]
        self.allcount = None
        self.next_st = 1

    def on_page(self, allcount: int, returned: int) -> str:
        """Account for the answer to `next_request()`: "split", "page" or "window-done"."""
        assert self.window is not None
        wlo, whi = self.window
        if self.next_st == 1 and allcount > self.reach and whi > wlo:
            self.span = max(1, (whi - wlo + 1) // 2)
            self.splits += 1
            self._open_window()
            return "split"
        if self.next_st == 1 and allcount > self.reach:
            # One second holding more novels than paging reaches: take what is reachable.
            self.unreachable += allcount - self.reach
        self.allcount = allcount
        covered_to = self.next_st + returned - 1
        last = min(allcount, self.reach)
        if returned == 0 or returned < self.lim or covered_to >= last or self.next_st >= self.max_st:
            self._finish_window(allcount)
            return "window-done"
        # Past max_st the last page starts at max_st itself; its overlap is deduplicated.
        self.next_st = min(self.next_st + self.lim, self.max_st)
        return "page"

    def _finish_window(self, allcount: int) -> None:
        assert self.window is not None
        wlo, whi = self.window
        if self.newest_first:
            self.hi = wlo - 1
        else:
            self.lo = whi + 1
        growth = min(4.0, 0.6 * self.reach / max(allcount, 1))
        self.span = max(1, int((whi - wlo + 1) * growth))
        self.window = None
        self.allcount = None
        self.next_st = 1
        self.windows_done += 1

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> WindowPlanner:
        return cls(**{k: data[k] for k in cls.__dataclass_fields__ if k in data})
