"""The lastup window planner: full coverage, halving on overflow, paging limits, save/restore."""

from __future__ import annotations

import random

from core.fetch.planner import WindowPlanner


def _simulate(times: list[int], lo: int, hi: int, lim: int, max_st: int, newest: bool) -> tuple[set[int], WindowPlanner, int]:
    """Drive the planner over an in-memory catalogue of timestamps; return what it reached."""
    plan = WindowPlanner.start(lo, hi, newest, lim, max_st)
    got: set[int] = set()
    requests = 0
    while not plan.done:
        req = plan.next_request()
        assert 1 <= req.st <= max_st and req.lim == lim
        a, b = (int(x) for x in req.lastup.split("-"))
        rows = sorted((i for i, t in enumerate(times) if a <= t <= b), key=lambda i: (-times[i], i))
        page = rows[req.st - 1 : req.st - 1 + lim]
        got.update(page)
        requests += 1
        plan.on_page(len(rows), len(page))
        plan = WindowPlanner.from_dict(plan.to_dict())  # state survives a save/load every page
    return got, plan, requests


def test_planner_reaches_every_record_through_halving() -> None:
    rng = random.Random(1)
    times = [rng.randint(0, 10_000) for _ in range(3000)] + [rng.randint(5000, 5100) for _ in range(1500)]
    got, plan, requests = _simulate(times, 0, 10_000, lim=50, max_st=100, newest=True)
    assert got == set(range(len(times)))
    assert plan.splits > 0 and plan.windows_done >= len(times) / plan.reach
    assert plan.covered_fraction == 1.0
    # Slicing stays within a small factor of the ideal page count.
    assert requests < 3 * len(times) / 50


def test_oldest_first_walk_is_also_complete() -> None:
    times = list(range(0, 4000, 2))
    got, plan, _ = _simulate(times, 0, 4000, lim=20, max_st=40, newest=False)
    assert got == set(range(len(times))) and plan.lo > plan.hi


def test_last_page_starts_at_max_st() -> None:
    plan = WindowPlanner.start(0, 0, True, lim=500, max_st=2000)
    sts = []
    while not plan.done:
        req = plan.next_request()
        sts.append(req.st)
        plan.on_page(5000, 500)  # one second with more novels than paging reaches
    assert sts == [1, 501, 1001, 1501, 2000]
    assert plan.unreachable == 5000 - 2499
