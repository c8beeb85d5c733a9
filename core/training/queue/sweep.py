"""Sweeps: the points of a `--grid` cross product or of `--random N` samples over ranges."""

from __future__ import annotations

import itertools
import math
import random
from dataclasses import dataclass, fields
from typing import Any

from core.training.config import LIMITS, TrainConfig

# Fields a sweep may not vary: they name the run or its data, not a hyper-parameter.
NOT_SWEPT = ("dataset", "run_name", "extra")


class SweepError(ValueError):
    """A bad --grid/--random spec; the message names the spec and what is wrong."""


@dataclass
class Axis:
    """One swept field: a list of values, or a numeric range lo:hi (log-uniform with `log`)."""

    field: str
    values: list[Any] | None = None
    lo: float | None = None
    hi: float | None = None
    log: bool = False

    @property
    def is_range(self) -> bool:
        return self.values is None


def _kinds() -> dict[str, str]:
    return {f.name: str(f.type) for f in fields(TrainConfig) if f.name not in NOT_SWEPT}


def _value(spec: str, name: str, kind: str, text: str) -> Any:
    text = text.strip()
    if kind.startswith("str"):
        if not text:
            raise SweepError(f"--grid {spec}: an empty value")
        return text
    try:
        value: Any = int(text) if kind.startswith("int") else float(text)
    except ValueError:
        what = "a whole number" if kind.startswith("int") else "a number"
        raise SweepError(f"--grid {spec}: {text!r} is not {what} ({name} takes {what}s)") from None
    if isinstance(value, float) and not math.isfinite(value):
        raise SweepError(f"--grid {spec}: {text!r} is not finite")
    lo, hi = LIMITS.get(name, (None, None))
    if (lo is not None and value < lo) or (hi is not None and value > hi):
        raise SweepError(f"--grid {spec}: {name} must be from {lo:g} to {hi:g}, got {text}")
    return value


def parse_axis(spec: str) -> Axis:
    """`lr=3e-5,5e-5,1e-4` (values) or `lr=1e-5:1e-4:log` / `max_source_len=128:512` (range)."""
    name, sep, rest = spec.partition("=")
    name = name.strip().replace("-", "_")
    kinds = _kinds()
    if not sep or not rest.strip():
        raise SweepError(f"--grid {spec}: expected FIELD=V1,V2,... or FIELD=LO:HI[:log]")
    if name not in kinds:
        raise SweepError(f"--grid {spec}: {name!r} is not a training field that can be swept")
    kind = kinds[name]
    if kind.startswith("bool"):
        raise SweepError(f"--grid {spec}: {name} is an on/off switch; sweep numbers or names")
    if ":" in rest and not kind.startswith("str"):
        parts = rest.split(":")
        log = len(parts) == 3 and parts[2].strip() == "log"
        if len(parts) not in (2, 3) or (len(parts) == 3 and not log):
            raise SweepError(f"--grid {spec}: a range is LO:HI or LO:HI:log")
        lo, hi = (_value(spec, name, kind, p) for p in parts[:2])
        if not lo < hi:
            raise SweepError(f"--grid {spec}: the range needs LO < HI")
        if log and lo <= 0:
            raise SweepError(f"--grid {spec}: a log range needs LO > 0")
        return Axis(name, lo=lo, hi=hi, log=log)
    values = [_value(spec, name, kind, v) for v in rest.split(",")]
    return Axis(name, values=list(dict.fromkeys(values)))


def grid_points(axes: list[Axis]) -> list[dict[str, Any]]:
    """Every combination of the axes' values, the first axis varying slowest."""
    for a in axes:
        if a.is_range:
            raise SweepError(f"--grid {a.field}={a.lo:g}:{a.hi:g} is a range: give --random N to sample it")
    _distinct(axes)
    return [dict(zip([a.field for a in axes], combo, strict=True))
            for combo in itertools.product(*[a.values or [] for a in axes])]


def random_points(axes: list[Axis], n: int, seed: int = 0) -> list[dict[str, Any]]:
    """`n` points, each axis sampled on its own: a value list uniformly, a range uniformly
    (log-uniformly with :log; integers rounded). Seeded, so a sweep can be repeated."""
    _distinct(axes)
    rng = random.Random(seed)
    points = []
    for _ in range(n):
        point: dict[str, Any] = {}
        for a in axes:
            if a.values is not None:
                point[a.field] = rng.choice(a.values)
                continue
            assert a.lo is not None and a.hi is not None
            x = math.exp(rng.uniform(math.log(a.lo), math.log(a.hi))) if a.log else rng.uniform(a.lo, a.hi)
            point[a.field] = round(x) if isinstance(a.lo, int) else float(f"{x:.3g}")
        points.append(point)
    return points


def _distinct(axes: list[Axis]) -> None:
    seen = set()
    for a in axes:
        if a.field in seen:
            raise SweepError(f"--grid {a.field} is given twice")
        seen.add(a.field)


def describe(point: dict[str, Any]) -> str:
    """`lr=3e-05 max_source_len=256`: a point as people write it."""
    return " ".join(f"{k}={v:g}" if isinstance(v, float) else f"{k}={v}" for k, v in point.items())
