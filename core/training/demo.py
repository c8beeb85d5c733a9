"""First-run demo: train a `tiny` model on the bundled sample through the normal training job."""

from __future__ import annotations

from dataclasses import dataclass

from core.paths import REPO_ROOT, Paths
from core.runs.reader import read_status
from core.runs.schema import RunState

DEMO_DATASET = "sample"
SAMPLE_SOURCE = REPO_ROOT / "datasets" / "sample" / "sample.jsonl"


@dataclass(frozen=True)
class DemoPlan:
    """What the demo trains: a scratch tiny model, briefly, on the CPU.

    max_steps: optimizer steps (a minute or two on a laptop CPU).
    batch_size: samples per step, no accumulation: small steps learn the sample quickest.
    lr: high, as the model is tiny and trained from scratch.
    eval_steps / save_steps: a checkpoint (and eval loss) every this many steps.
    """

    max_steps: int = 600
    batch_size: int = 8
    lr: float = 3e-3
    eval_steps: int = 300
    save_steps: int = 300


def ensure_sample_dataset(paths: Paths) -> str:
    """Import the bundled sample as dataset `sample` unless it is built already."""
    from core.data.importer import import_dataset
    from core.data.store import is_built

    if not is_built(paths, DEMO_DATASET):
        import_dataset(SAMPLE_SOURCE, DEMO_DATASET, paths)
    return DEMO_DATASET


def start_demo(paths: Paths, plan: DemoPlan | None = None) -> str:
    """Launch the detached demo run; returns its run id (watch it with `demo_state`)."""
    from core.training.config import TrainConfig
    from core.training.launch import launch

    plan = plan or DemoPlan()
    config = TrainConfig(
        dataset=ensure_sample_dataset(paths), scratch="tiny", max_steps=plan.max_steps,
        batch_size=plan.batch_size, grad_accum=1, eval_steps=plan.eval_steps,
        save_steps=plan.save_steps, lr=plan.lr, warmup=0.05,
        device="cpu", run_name="demo",
    )
    return launch(paths, config)


def demo_state(paths: Paths, run_id: str) -> tuple[str, int, int | None, str | None]:
    """(state, step, total_steps, exit_reason) of the demo run."""
    status = read_status(paths.run(run_id))
    if status is None:
        return RunState.STARTING.value, 0, None, None
    return status.state, status.step, status.total_steps, status.exit_reason
