"""The export area's one error: what cannot be exported or uploaded, said for the user."""

from __future__ import annotations


class ExportError(ValueError):
    """An export refused or failed; the message names the folder, checkpoint or hub."""
