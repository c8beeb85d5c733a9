"""One path for background work: workers post results, their failures reach the App's one handler.

Every worker of the workbench is a method decorated with `background(group)`: it runs on a
thread with Textual's exit_on_error off, so no exception can end the app. A failure reaches
`NarouApp.report_worker_failure` (screens and widgets forward it with `ForwardWorkerFailures`),
which notifies with the group's label, logs the traceback, then lets the node that started the
worker put its pane back in order through `worker_failed`.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import partial, wraps
from typing import Any, Protocol, TypeVar, runtime_checkable

from textual.worker import Worker, WorkerState

from core.failure_log import describe_error

# What each worker group does, as the start of "<label> failed: <reason>". `{name}` is the
# worker's name (its subject: a run id, a checkpoint).
WORKER_LABELS: dict[str, str] = {
    "run-tailer": "Reading run {name}",
    "gpu-sampler": "Sampling the GPU",
    "dataset-list": "Listing datasets",
    "dataset-load": "Opening dataset {name}",
    "dataset-search": "Searching the dataset",
    "dataset-stats": "Dataset statistics",
    "tok-load": "Loading tokenizer {name}",
    "tok-runs": "Finding the runs' tokenizers",
    "tok-text": "Tokenizing",
    "tok-datasets": "Listing datasets",
    "tok-row": "Picking a dataset row",
    "tok-corpus": "Corpus statistics",
    "tok-train": "Training the scratch vocabulary",
    "fetch-finalize": "Building dataset {name} from its fetch",
    "fetch-poll": "Reading fetch {name}",
    "gen-load": "Loading checkpoint {name}",
    "gen-titles": "Generating titles",
    "gen-row": "Picking a dataset row",
    "gen-eval": "Evaluating {name}",
    "gen-demo": "Starting the demo training",
    "gen-export": "Exporting {name}",
    "run-list": "Listing runs",
    "run-compare": "Reading the marked runs",
    "run-stop": "Stopping run {name}",
    "run-resume": "Resuming run {name}",
    "preflight": "Checking the launch form",
    "launch": "Launching the run",
    "queue": "Changing the queue for run {name}",
}

F = TypeVar("F", bound=Callable[..., Any])


def background(group: str, *, exclusive: bool = False,
               subject: Callable[..., str] | None = None) -> Callable[[F], F]:
    """Run the decorated method on a worker thread of `group`; calling it returns the Worker.

    exclusive: cancel the group's running worker first. subject: computes the worker's name
    (shown in a failure's label) from the call's arguments.
    """
    if group not in WORKER_LABELS:
        raise KeyError(f"worker group {group!r} has no label in WORKER_LABELS")

    def decorate(method: F) -> F:
        @wraps(method)
        def start(self: Any, *args: Any, **kwargs: Any) -> Worker[Any]:
            name = subject(*args, **kwargs) if subject is not None else ""
            return self.run_worker(partial(method, self, *args, **kwargs), name=name,
                                   group=group, exclusive=exclusive, thread=True,
                                   exit_on_error=False)

        return start  # type: ignore[return-value]

    return decorate


def failure_line(worker: Worker[Any]) -> str:
    """'<what failed> failed: <why>' in one line, for the notification and the log."""
    label = WORKER_LABELS.get(worker.group, f"Background task {worker.group}")
    label = " ".join(label.format(name=worker.name or "").split())
    error = worker.error
    return f"{label} failed: {describe_error(error) if error is not None else 'unknown error'}"


@runtime_checkable
class RecoversFromWorkerFailure(Protocol):
    """A node whose pane needs tidying after one of its workers failed (clear a 'loading…')."""

    def worker_failed(self, worker: Worker[Any], line: str) -> None: ...


class ForwardWorkerFailures:
    """Mixin for screens and widgets that start workers: hands their failures to the App's one
    handler (a worker's state messages do not bubble, so each such node forwards its own)."""

    app: Any

    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        if event.state is WorkerState.ERROR:
            self.app.report_worker_failure(event.worker)
