"""Seeded train/validation/test split, grouped by title so a title never spans two splits."""

from __future__ import annotations

import hashlib
import math
import unicodedata
from collections.abc import Sequence

SPLITS: tuple[str, str, str] = ("train", "validation", "test")
DEFAULT_RATIOS: tuple[float, float, float] = (0.9, 0.05, 0.05)
DEFAULT_SEED = 42


class SplitError(ValueError):
    """Ratios that cannot describe a split."""


def parse_ratios(text: str) -> tuple[float, float, float]:
    """ "0.9,0.05,0.05" → (0.9, 0.05, 0.05), validated."""
    try:
        parts = tuple(float(p) for p in text.split(","))
    except ValueError as exc:
        raise SplitError(f"--split {text!r}: expected three numbers like 0.9,0.05,0.05") from exc
    if len(parts) != 3:
        raise SplitError(f"--split {text!r}: expected three numbers (train,validation,test)")
    return check_ratios(parts)  # type: ignore[arg-type]


def check_ratios(ratios: Sequence[float]) -> tuple[float, float, float]:
    if len(ratios) != 3 or not all(math.isfinite(r) and r >= 0 for r in ratios):
        raise SplitError(f"split ratios {tuple(ratios)}: need three finite, non-negative numbers")
    if abs(sum(ratios) - 1.0) > 1e-3:
        raise SplitError(f"split ratios {tuple(ratios)} sum to {sum(ratios):g}, not 1")
    if ratios[0] <= 0:
        raise SplitError("the train ratio must be above 0")
    return (float(ratios[0]), float(ratios[1]), float(ratios[2]))


def title_key(title: str) -> str:
    """Grouping key: titles equal after NFKC, case folding and removing spaces share a group."""
    return "".join(unicodedata.normalize("NFKC", title).casefold().split())


def _rank(seed: int, key: str) -> bytes:
    # Hash order instead of shuffling: a group's split depends only on (seed, title), so it
    # does not move when unrelated records are added or reordered.
    return hashlib.blake2b(
        f"{seed}\0{key}".encode("utf-8", "surrogatepass"), digest_size=16
    ).digest()


def split_indices(
    titles: Sequence[str],
    ratios: Sequence[float] = DEFAULT_RATIOS,
    seed: int = DEFAULT_SEED,
) -> dict[str, list[int]]:
    """Indices of `titles` per split (each list ascending).

    Validation and test get whole title groups while they fit their target size
    (round(n × ratio)); everything else goes to train. A split with a non-zero ratio that
    ends up empty takes the smallest remaining train group, as long as train keeps one, so
    tiny datasets still get every split when there are at least three distinct titles.
    """
    ratios = check_ratios(ratios)
    groups: dict[str, list[int]] = {}
    for i, title in enumerate(titles):
        groups.setdefault(title_key(title), []).append(i)
    order = sorted(groups, key=lambda k: _rank(seed, k))
    n = len(titles)
    targets = {"validation": round(n * ratios[1]), "test": round(n * ratios[2])}
    assigned: dict[str, list[str]] = {s: [] for s in SPLITS}
    sizes = dict.fromkeys(SPLITS, 0)
    for key in order:
        size = len(groups[key])
        for split in ("test", "validation"):
            if sizes[split] + size <= targets[split]:
                break
        else:
            split = "train"
        assigned[split].append(key)
        sizes[split] += size
    for donor in ("validation", "test"):
        # Train must never end up empty: it is the only split every consumer needs.
        if not assigned["train"] and len(assigned[donor]) > 0 and len(order) > 0:
            smallest = min(assigned[donor], key=lambda k: (len(groups[k]), _rank(seed, k)))
            assigned[donor].remove(smallest)
            assigned["train"].append(smallest)
    for split, ratio in (("validation", ratios[1]), ("test", ratios[2])):
        if ratio > 0 and not assigned[split] and len(assigned["train"]) > 1:
            smallest = min(assigned["train"], key=lambda k: (len(groups[k]), _rank(seed, k)))
            assigned["train"].remove(smallest)
            assigned[split].append(smallest)
    return {s: sorted(i for key in assigned[s] for i in groups[key]) for s in SPLITS}
