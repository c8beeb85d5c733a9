"""Grouped, seeded train/validation/test split."""

from __future__ import annotations

import pytest

from core.data.split import SPLITS, SplitError, parse_ratios, split_indices, title_key


def titles(n: int, repeats: int = 1) -> list[str]:
    return [f"転生したら{i % (n // repeats)}番目の魔王だった件" for i in range(n)]


def test_every_index_in_exactly_one_split_with_expected_sizes() -> None:
    parts = split_indices(titles(1000), (0.8, 0.1, 0.1), seed=1)
    all_idx = sorted(i for s in SPLITS for i in parts[s])
    assert all_idx == list(range(1000))
    assert [len(parts[s]) for s in SPLITS] == [800, 100, 100]


def test_a_title_never_spans_two_splits() -> None:
    ts = titles(600, repeats=6) + ["ＶＲＭＭＯ 物語", "vrmmo物語"]  # same key after NFKC/casefold/spaces
    parts = split_indices(ts, (0.6, 0.2, 0.2), seed=7)
    owner: dict[str, str] = {}
    for split in SPLITS:
        for i in parts[split]:
            assert owner.setdefault(title_key(ts[i]), split) == split
    assert all(parts[s] for s in SPLITS)


def test_seed_determinism_and_order_independence() -> None:
    ts = titles(300)
    a = split_indices(ts, seed=3)
    assert a == split_indices(ts, seed=3)
    assert a != split_indices(ts, seed=4)
    reversed_parts = split_indices(ts[::-1], seed=3)
    # The split of a title depends on (seed, title) only, not on the input order.
    for s in SPLITS:
        assert {ts[i] for i in a[s]} == {ts[::-1][i] for i in reversed_parts[s]}


@pytest.mark.parametrize(("n", "expected"), [(1, [1, 0, 0]), (2, [1, 1, 0]), (3, [1, 1, 1]), (10, [8, 1, 1])])
def test_tiny_datasets_fill_every_split_when_possible(n: int, expected: list[int]) -> None:
    parts = split_indices([f"題名{i}" for i in range(n)])
    assert [len(parts[s]) for s in SPLITS] == expected


def test_a_big_title_group_stays_in_train() -> None:
    ts = ["プロローグ"] * 50 + [f"題名{i}" for i in range(50)]
    parts = split_indices(ts, (0.8, 0.1, 0.1), seed=0)
    assert set(range(50)) <= set(parts["train"])


def test_zero_ratio_split_stays_empty() -> None:
    parts = split_indices([f"題名{i}" for i in range(20)], (0.9, 0.1, 0.0))
    assert parts["test"] == [] and len(parts["validation"]) == 2


@pytest.mark.parametrize("text", ["0.9,0.1", "a,b,c", "0.5,0.5,0.5", "0,0.5,0.5", "-0.1,0.6,0.5"])
def test_bad_ratios_are_refused(text: str) -> None:
    with pytest.raises(SplitError):
        parse_ratios(text)
