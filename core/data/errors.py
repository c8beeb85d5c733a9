"""Exceptions of the dataset layer; the CLI turns them into messages without tracebacks."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # only for annotations: the importer imports this module
    from core.data.importer import ImportReport


class DatasetError(Exception):
    """Any user-facing dataset problem (bad name, unreadable folder, corrupt meta)."""


class DatasetNotFound(DatasetError, LookupError):
    """No built dataset of that name; the message lists the ones that exist."""

    def __init__(self, name: str, available: Sequence[str], reason: str | None = None) -> None:
        self.name = name
        self.available = list(available)
        self.reason = reason
        listing = ", ".join(self.available) if self.available else "none"
        detail = f": {reason}" if reason else ""
        super().__init__(f"dataset {name!r} not found{detail} (available: {listing})")


class DatasetExists(DatasetError):
    """The target dataset is already built and `force` was not given."""


class ImportFailed(DatasetError):
    """Nothing was written: no usable record, a strict-mode violation, or an unreadable source.

    `report` carries everything learned before the failure (skips, counts) when the source
    could be read at all.
    """

    def __init__(self, message: str, report: ImportReport | None = None) -> None:
        super().__init__(message)
        self.report = report
