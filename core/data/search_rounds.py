"""One search in flight at a time: what is typed meanwhile coalesces into one more search."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass
class SearchRounds:
    """Numbers searches and decides when the next one starts.

    seq: number of the newest request; a result carrying an older number is stale.
    running: a search is in flight.  pending: a request arrived while it ran.
    """

    seq: int = 0
    running: bool = False
    pending: bool = False

    def request(self) -> bool:
        """A new search is wanted: True when it should start now, False when one is in flight."""
        self.seq += 1
        if self.running:
            self.pending = True
            return False
        return True

    def start(self) -> int:
        """A search starts now; returns the number its result must carry."""
        self.running = True
        self.pending = False
        return self.seq

    def finish(self) -> bool:
        """The search in flight ended (result or failure): True when another must start."""
        self.running = False
        return self.pending

    def invalidate(self) -> None:
        """Results of searches started before now are stale (another dataset was opened)."""
        self.seq += 1

    def is_current(self, seq: int) -> bool:
        return seq == self.seq
