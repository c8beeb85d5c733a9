"""A tokenization worker killed mid-batch fails the batch with a message instead of hanging it."""

from __future__ import annotations

import os
import signal
from pathlib import Path

import psutil
import pytest

from core.tokenization.errors import TokenizationFailed
from core.tokenization.fast import encode_many, spec_from_dir
from tests.generation_tiny import fixed_vocab, sample_pairs


def _workers() -> list[psutil.Process]:
    return [c for c in psutil.Process().children()
            if "spawn_main" in " ".join(c.cmdline()) and "resource_tracker" not in " ".join(c.cmdline())]


def test_sigkilled_worker_fails_the_batch(tmp_path: Path) -> None:
    texts = [r["story"] for r in sample_pairs()]
    spec = spec_from_dir(fixed_vocab(texts, 1200, tmp_path / "vocab"), "unidic_lite")
    many = texts * 100  # 4,800 texts in 240 chunks: most still pending at the first result
    killed: list[int] = []

    def kill_one_worker(done: int, total: int) -> None:
        if not killed:
            victim = _workers()[0]
            os.kill(victim.pid, signal.SIGKILL)
            killed.append(victim.pid)

    with pytest.raises(TokenizationFailed) as err:
        encode_many(spec, many, "source", 128, num_proc=2, progress=kill_one_worker, chunk_size=20)
    assert killed
    assert str(err.value).startswith("a tokenization worker process died after ")
    assert f"of {len(many)} texts (killed, out of memory, or crashed)" in str(err.value)
    gone, alive = psutil.wait_procs(_workers(), timeout=30)
    assert not alive  # the surviving worker was shut down too
