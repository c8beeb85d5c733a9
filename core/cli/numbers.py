"""Numeric command-line values: finite, in range, refused by argparse with one line otherwise."""

from __future__ import annotations

import argparse
import math
from collections.abc import Callable


def _show(x: float) -> str:
    return f"{int(x):,}" if float(x).is_integer() else f"{x:g}"


def _bounds(lo: float | None, hi: float | None, lo_open: bool) -> str:
    if lo is not None and hi is not None:
        return f"{'above' if lo_open else 'from'} {_show(lo)} {'up to' if lo_open else 'to'} {_show(hi)}"
    if lo is not None:
        return f"{'>' if lo_open else '≥'} {_show(lo)}"
    if hi is not None:
        return f"≤ {_show(hi)}"
    return "finite"


def _check(value: float, text: str, lo: float | None, hi: float | None, lo_open: bool) -> None:
    if (lo is not None and (value <= lo if lo_open else value < lo)) or (hi is not None and value > hi):
        raise argparse.ArgumentTypeError(f"must be {_bounds(lo, hi, lo_open)}, got {text!r}")


def int_arg(lo: int | None = None, hi: int | None = None) -> Callable[[str], int]:
    """argparse `type` for a whole number in [lo, hi] (either bound optional)."""

    def parse(text: str) -> int:
        try:
            value = int(text.strip().replace("_", ""))
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
        _check(value, text, lo, hi, False)
        return value

    parse.__name__ = "whole number"
    parse.bounds = (lo, hi)  # type: ignore[attr-defined]  # read by tests: numeric flags are checked
    return parse


def float_arg(lo: float | None = None, hi: float | None = None,
              lo_open: bool = False) -> Callable[[str], float]:
    """argparse `type` for a finite number in [lo, hi] ((lo, hi] with lo_open); NaN and inf refused."""

    def parse(text: str) -> float:
        try:
            value = float(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None
        if not math.isfinite(value):
            raise argparse.ArgumentTypeError(f"must be a finite number, got {text!r}")
        _check(value, text, lo, hi, lo_open)
        return value

    parse.__name__ = "number"
    parse.bounds = (lo, hi)  # type: ignore[attr-defined]
    return parse
