"""A pane's side column that folds away on narrow terminals and comes back as an overlay."""

from __future__ import annotations

from typing import Any, ClassVar


class FoldingSideColumn:
    """Mixed into a Screen whose side column has the `side-column` class (app.tcss styles it).

    Below the App's narrow breakpoint the column is hidden and the toggle shows it over the
    main view (`-side-open`); on wider terminals the toggle takes it out of the layout
    (`-side-hidden`) so the main view gets the whole width."""

    # The widget focused when the overlay opens (what the user came to pick from).
    SIDE_FOCUS: ClassVar[str] = ""

    def action_toggle_side(self) -> None:
        screen: Any = self
        if screen.has_class("-narrow"):
            screen.toggle_class("-side-open")
            if screen.has_class("-side-open") and self.SIDE_FOCUS:
                screen.query_one(self.SIDE_FOCUS).focus()
        else:
            screen.toggle_class("-side-hidden")

    def close_side_overlay(self) -> None:
        """The overlay has done its job (a run or checkpoint was picked): back to the main view."""
        screen: Any = self
        screen.remove_class("-side-open")
