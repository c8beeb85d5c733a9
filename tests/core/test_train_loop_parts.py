"""The training loop's helpers on their own: step meter, fault hooks, step schedule, save guards."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from core.training.config import TrainConfig
from core.training.context import StopTraining
from core.training.dist import Dist
from core.training.faults import NAN_ENV, OOM_ENV, STEP_SLEEP_ENV, Faults
from core.training.meter import StepMeter
from core.training.save_guards import nonfinite_counts, nonfinite_reason
from core.training.schedule import rank_batches, steps_per_epoch, total_steps


def _t(v: float) -> torch.Tensor:
    return torch.tensor(v)


def test_meter_window_averages_losses_and_scales_counts_by_the_world() -> None:
    meter = StepMeter(torch.device("cpu"), step=10, world=2)
    assert not meter.started
    meter.add(11, _t(2.0), _t(1.5), samples=4, tokens=100)
    meter.add(12, _t(4.0), _t(0.5), samples=4, tokens=80)
    assert meter.started and meter.rate_step0 == 11
    w = meter.read(12, total_steps=20)
    assert w.loss == pytest.approx(3.0)
    assert w.grad_norm == pytest.approx(0.5)  # the last step's norm, not a mean
    assert w.consecutive_bad == 0
    assert meter.samples == 0 and meter.tokens == 0 and meter.steps == 0  # next window
    assert float(meter.loss_sum) == 0.0
    # 16 samples and 360 tokens went by in the window (2 ranks × this rank's counts).
    assert w.samples_per_s > 0
    assert w.tokens_per_s / w.samples_per_s == pytest.approx(360 / 16)


def test_meter_counts_consecutive_and_unsaved_nonfinite_steps() -> None:
    meter = StepMeter(torch.device("cpu"), step=0, world=1)
    meter.add(1, _t(math.nan), _t(1.0), 1, 1)
    meter.add(2, _t(math.inf), _t(1.0), 1, 1)
    assert meter.read(2, 10).consecutive_bad == 2
    meter.add(3, _t(1.0), _t(math.nan), 1, 1)  # a finite loss ends the run of bad losses
    assert meter.read(3, 10).consecutive_bad == 0
    # Bad losses and bad grad norms both count towards the save refusal.
    assert int(meter.nonfinite) == 3


def test_meter_has_no_eta_until_a_step_after_the_first() -> None:
    meter = StepMeter(torch.device("cpu"), step=0, world=1)
    meter.add(1, _t(1.0), _t(1.0), 1, 1)
    assert meter.read(1, 10).eta_s is None  # the first step pays warm-up: no rate from it


def test_faults_are_inert_without_their_variables() -> None:
    f = Faults.from_env({})
    f.raise_oom(next_step=10**6, batch_size=10**6)
    assert f.poison(_t(1.5), 10**6).item() == 1.5
    assert f == Faults()


def test_faults_read_their_variables() -> None:
    f = Faults.from_env({OOM_ENV: "3:8", NAN_ENV: "5", STEP_SLEEP_ENV: "0.25"})
    assert f == Faults(oom=(3, 8), nan_from=5, step_sleep=0.25)
    f.raise_oom(next_step=2, batch_size=16)  # before the step
    f.raise_oom(next_step=3, batch_size=8)  # a micro-batch small enough
    with pytest.raises(torch.cuda.OutOfMemoryError, match=OOM_ENV):
        f.raise_oom(next_step=3, batch_size=16)
    assert f.poison(_t(1.0), 4).item() == 1.0
    assert math.isnan(f.poison(_t(1.0), 5).item())


def test_a_split_smaller_than_one_step_is_refused_with_the_numbers() -> None:
    assert steps_per_epoch(100, plan_batch=8, split=2, grad_accum=2, world=1) == 12 * 2 // 2
    with pytest.raises(StopTraining) as exc:
        steps_per_epoch(7, plan_batch=8, split=1, grad_accum=1, world=1)
    assert exc.value.code == 2
    assert "the training split (7 pairs) is smaller than one optimizer step" in exc.value.reason


def test_total_steps_prefers_max_steps_and_rounds_epochs_up() -> None:
    assert total_steps(TrainConfig(max_steps=7, epochs=100), per_epoch=3) == 7
    assert total_steps(TrainConfig(max_steps=0, epochs=1.5), per_epoch=3) == 5


def test_ranks_share_each_step_without_overlap_and_a_resume_skips_done_steps() -> None:
    cfg = TrainConfig()
    rng = np.random.default_rng(0)
    src = rng.integers(5, 200, size=96)
    tgt = rng.integers(3, 30, size=96)
    per_epoch = steps_per_epoch(96, plan_batch=8, split=2, grad_accum=2, world=2)
    mine = [rank_batches(cfg, src, tgt, 8, 2, 2, Dist(rank=r, world=2), per_epoch, 0, 0)
            for r in range(2)]
    rows = [np.concatenate(m) for m in mine]
    assert len(mine[0]) == len(mine[1]) == per_epoch * 2  # grad_accum micro-batches a step
    assert not set(rows[0].tolist()) & set(rows[1].tolist())
    resumed = rank_batches(cfg, src, tgt, 8, 2, 2, Dist(rank=0, world=2), per_epoch, 0, 1)
    assert [b.tolist() for b in resumed] == [b.tolist() for b in mine[0][2:]]


def test_save_guard_finds_nonfinite_weights_and_explains_the_refusal() -> None:
    model = torch.nn.Linear(3, 2)
    zero = torch.zeros(())
    assert nonfinite_counts(model, zero, world=1) == (0, 0)
    with torch.no_grad():
        model.weight[0, 0] = math.nan
    assert nonfinite_counts(model, torch.tensor(2.0), world=1) == (2, 1)
    reason = nonfinite_reason(40, 2, 1, last_saved_step=20, kept="checkpoint-20")
    assert reason == ("not saving checkpoint-40: the loss or gradient norm was NaN/inf on 2 step(s) "
                      "since the save at step 20 and the weights hold NaN/inf; checkpoint-20 is the "
                      "last good one and was kept; lower --lr or check the data")
    assert "since the start" in nonfinite_reason(5, 1, 0, last_saved_step=-1, kept=None)
    assert "no checkpoint is the last good one" in nonfinite_reason(5, 1, 0, -1, None)
