"""compute_stats on hand-built Arrow tables: lengths, histograms, duplicates, tops."""

from __future__ import annotations

import numpy as np
import pyarrow as pa

from core.data.stats import compute_stats, histogram


def table(rows: list[tuple[str, str, str, int | None]]) -> pa.Table:
    titles, stories, keywords, genres = (list(c) for c in zip(*rows, strict=True)) if rows else ([], [], [], [])
    return pa.table(
        {
            "title": pa.array(titles, pa.string()),
            "story": pa.array(stories, pa.string()),
            "keyword": pa.array(keywords, pa.string()),
            "genre": pa.array(genres, pa.int64()),
        }
    )


def test_counts_lengths_duplicates_and_tops() -> None:
    tables = {
        "train": table([("あ" * 4, "い" * 10, "追放 ざまぁ", 201), ("か" * 6, "き" * 30, "追放", 201),
                        ("あ" * 4, "い" * 10, "追放", 101), ("", "", "", None)]),
        "validation": table([("か" * 6, "く" * 20, "", 304)]),
        "test": table([]),
    }
    s = compute_stats(tables, top_n=2)
    assert s.counts == {"train": 4, "validation": 1, "test": 0} and s.total == 5
    assert (s.story_length.min, s.story_length.max, s.story_length.median) == (0, 30, 10.0)
    assert s.story_length.mean == 14.0
    assert (s.title_length.min, s.title_length.max) == (0, 6)
    assert s.duplicate_pairs == 1  # row 3 repeats row 1
    assert s.duplicate_titles == 2  # "ああああ" and "かかかかかか" both repeat
    assert s.titles_across_splits == 1  # かかかかかか is in train and validation
    assert (s.empty_titles, s.empty_stories) == (1, 1)
    assert s.top_keywords == [("追放", 3), ("ざまぁ", 1)]
    assert s.top_genres[0] == (201, "ハイファンタジー", 2)
    assert len(s.top_genres) == 2
    d = s.to_dict()
    assert d["top_keywords"][0] == {"keyword": "追放", "count": 3}
    assert sum(d["title_histogram"]["counts"]) == 5


def test_histogram_buckets_cover_everything() -> None:
    lengths = np.array([0, 5, 49, 50, 120, 999, 5000])
    h = histogram(lengths, buckets=10)
    assert sum(h.counts) == lengths.size
    assert h.lower[0] == 0 and all(b - a == h.width for a, b in zip(h.lower, h.lower[1:], strict=False))
    assert h.counts[-1] >= 1 and h.labels()[-1].endswith("+")


def test_empty_tables() -> None:
    s = compute_stats({"train": table([])})
    assert s.total == 0 and s.story_histogram.counts == [] and s.top_keywords == []
