"""The export area's one error: what cannot be exported or uploaded, said for the user."""

from __future__ import annotations


class ExportError(ValueError):
    """An export refused or failed; the message names the folder, checkpoint or hub.

    exit_code: 1 (it could not be done), or 2 when the checkpoint named does not exist.
    """

    def __init__(self, message: str, exit_code: int = 1) -> None:
        super().__init__(message)
        self.exit_code = exit_code
