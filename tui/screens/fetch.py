"""Fetch screen: a form for `narou-tui fetch`, launched detached, with live progress and cancel."""

from __future__ import annotations

import subprocess
from typing import ClassVar

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.screen import Screen
from textual.widgets import Button, Footer, Header, Input, Label, Select, Static
from textual.worker import Worker

from core.durable import read_json_object
from core.failure_log import describe_error
from core.fetch.config import DEFAULT_API_URL, ORDERS, parse_date
from core.fetch.launch import cancel, snapshot, start_detached
from core.fetch.store import FetchLayout, list_fetches
from core.paths import PathError
from tui.context import app_state
from tui.messages.fetch import FetchFinalized, FetchPolled
from tui.widgets.fetch_progress import FetchProgress
from tui.workers import ForwardWorkerFailures, background

POLL_S = 0.5
# Popen objects of fetches this TUI started, by name: polled so finished ones never linger as
# zombies, even after the screen that started them was closed.
_LAUNCHED: dict[str, subprocess.Popen[bytes]] = {}

# (input id, label, placeholder) in form order.
FIELDS: tuple[tuple[str, str, str], ...] = (
    ("name", "Dataset name", "narou100k"),
    ("target", "Target records", "100000"),
    ("genre", "Genres", "e.g. 201,202 (empty: all)"),
    ("biggenre", "Big genres", "e.g. 1,2 (empty: all)"),
    ("since", "Updated since", "YYYY-MM-DD"),
    ("until", "Updated until", "YYYY-MM-DD (empty: now)"),
    ("min_story_chars", "Min synopsis chars", "0"),
    ("exclude_keywords", "Exclude keywords", "comma-separated, e.g. R15,残酷な描写あり"),
    ("api_url", "API URL", DEFAULT_API_URL),
    ("delay", "Delay (s)", "1.0"),
)


class FormError(ValueError):
    """A form value the fetch command would refuse; the message names the field."""


class FetchScreen(ForwardWorkerFailures, Screen[None]):
    """Start, watch, cancel and resume a harvest. The fetch runs in its own process: closing
    this screen or the app leaves it running, and reopening shows it again."""

    CSS_PATH = "../styles/fetch.tcss"
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("ctrl+s", "start", "Start", id="fetch.start",
                tooltip="Launch the fetch in the background (resumes a stopped one)"),
        Binding("f8", "cancel", "Cancel", id="fetch.cancel",
                tooltip="Stop the running fetch (SIGTERM: it saves its state first)"),
        Binding("ctrl+b", "finalize", "Build", id="fetch.finalize",
                tooltip="Import what has been fetched so far as the dataset"),
        Binding("escape", "close", "Close", id="fetch.close",
                tooltip="Close this screen (a running fetch keeps going)"),
    ]

    def __init__(self) -> None:
        super().__init__()
        self._watched: str | None = None
        self._polling = False

    def compose(self) -> ComposeResult:
        yield Header()
        with Horizontal(id="fetch-body"):
            with VerticalScroll(id="fetch-form"):
                yield Static("Harvest from the Narou API", classes="fetch-title")
                for key, label, placeholder in FIELDS:
                    with Horizontal(classes="fetch-row"):
                        yield Label(label, classes="fetch-label")
                        yield Input(placeholder=placeholder, id=f"f-{key}", compact=True)
                with Horizontal(classes="fetch-row"):
                    yield Label("Order in windows", classes="fetch-label")
                    yield Select([(o, o) for o in ORDERS], value="new", allow_blank=False,
                                 id="f-order", compact=True)
                with Horizontal(id="fetch-buttons"):
                    yield Button("Start / Resume", id="b-start", variant="primary",
                                 tooltip="ctrl+s")
                    yield Button("Cancel", id="b-cancel", variant="error", tooltip="f8")
                    yield Button("Build dataset", id="b-finalize", tooltip="ctrl+b")
            with Vertical(id="fetch-side"):
                yield FetchProgress(id="fetch-progress")
                yield Static("", id="fetch-error", markup=False)
        yield Footer()

    def on_mount(self) -> None:
        self.query_one("#f-target", Input).value = "100000"
        self.query_one("#f-delay", Input).value = "1.0"
        self.query_one("#f-api_url", Input).value = DEFAULT_API_URL
        name = self._pick_initial()
        if name:
            self._load_saved(name)
            self._watch(name)
        self.query_one("#f-name", Input).focus()

    # ------------------------------------------------------------------ form

    def _pick_initial(self) -> str | None:
        """The running harvest if there is one, else the most recently updated."""
        # Runs on the UI thread as the screen opens: a damaged harvest folder must cost a
        # notification, not the app.
        try:
            names = list_fetches(app_state(self).paths)
            best: tuple[int, str, str] | None = None
            for name in names:
                snap = snapshot(app_state(self).paths, name)
                key = (int(snap.running), str((snap.state or {}).get("updated_at", "")), name)
                best = key if best is None or key > best else best
        except Exception as exc:  # noqa: BLE001 - reported through the app's one failure path
            app_state(self).report_failure(
                "fetch-list", f"Listing harvests failed: {describe_error(exc)}", exc)
            return None
        return best[2] if best else None

    def _load_saved(self, name: str) -> None:
        """Fill the form from a saved harvest so Start resumes it with the same options."""
        state = read_json_object(FetchLayout.of(app_state(self).paths, name).state)
        self._set("name", name)
        if not state:
            return
        q = state.get("query") or {}
        self._set("target", str(state.get("target", "")))
        self._set("genre", ",".join(str(g) for g in q.get("genre") or []))
        self._set("biggenre", ",".join(str(g) for g in q.get("biggenre") or []))
        self._set("since", q.get("since") or "")
        self._set("until", q.get("until") or "")
        self._set("min_story_chars", str(q.get("min_story_chars") or ""))
        self._set("exclude_keywords", ",".join(q.get("exclude_keywords") or []))
        self._set("api_url", str(state.get("api_url") or DEFAULT_API_URL))
        self._set("delay", str(state.get("delay_s", "1.0")))
        if q.get("order") in ORDERS:
            self.query_one("#f-order", Select).value = q["order"]

    def _set(self, key: str, value: str) -> None:
        self.query_one(f"#f-{key}", Input).value = value

    def _get(self, key: str) -> str:
        return self.query_one(f"#f-{key}", Input).value.strip()

    def form_args(self) -> tuple[str, list[str]]:
        """(name, fetch arguments after --name) from the form; FormError names a bad field."""
        name = self._get("name")
        if not name:
            raise FormError("Dataset name: required")
        try:
            FetchLayout.of(app_state(self).paths, name)
        except PathError as exc:
            raise FormError(f"Dataset name: {exc}") from None
        args: list[str] = []

        def number(key: str, flag: str, kind: type, minimum: float) -> None:
            text = self._get(key)
            if not text:
                return
            try:
                value = kind(text)
            except ValueError:
                raise FormError(f"{dict((k, lbl) for k, lbl, _ in FIELDS)[key]}: not a number: {text!r}") from None
            if value < minimum:
                raise FormError(f"{dict((k, lbl) for k, lbl, _ in FIELDS)[key]}: must be ≥ {minimum}")
            args.extend([flag, text])

        number("target", "--target", int, 1)
        number("min_story_chars", "--min-story-chars", int, 0)
        number("delay", "--delay", float, 0)
        for key, flag in (("genre", "--genre"), ("biggenre", "--biggenre")):
            text = self._get(key).replace(" ", "")
            if text:
                if not all(p.isdigit() for p in text.replace("-", ",").split(",") if p):
                    raise FormError(f"{key}: use numbers like 201,202")
                args.extend([flag, text])
        for key, flag, end in (("since", "--since", False), ("until", "--until", True)):
            text = self._get(key)
            if text:
                try:
                    parse_date(text, end_of_day=end)
                except ValueError as exc:
                    raise FormError(f"{flag[2:]}: {exc}") from None
                args.extend([flag, text])
        for word in self._get("exclude_keywords").replace("、", ",").split(","):
            if word.strip():
                args.extend(["--exclude-keyword", word.strip()])
        url = self._get("api_url") or DEFAULT_API_URL
        if not url.startswith(("http://", "https://")):
            raise FormError(f"API URL: must start with http:// or https://, got {url!r}")
        delay = float(self._get("delay") or "1")
        if url.rstrip("/") == DEFAULT_API_URL.rstrip("/") and delay < 1.0:
            raise FormError("Delay: at least 1 s against the real API")
        args.extend(["--api-url", url, "--order", str(self.query_one("#f-order", Select).value)])
        return name, args

    def _error(self, text: str) -> None:
        widget = self.query_one("#fetch-error", Static)
        widget.update(text)
        widget.set_class(bool(text), "error")

    # ------------------------------------------------------------------ actions

    def action_start(self) -> None:
        try:
            name, args = self.form_args()
        except FormError as exc:
            self._error(str(exc))
            return
        self._error("")
        try:
            proc = start_detached(app_state(self).paths, name, args)
        except (RuntimeError, OSError) as exc:
            self._error(f"Cannot start: {exc}")
            return
        _LAUNCHED[name] = proc
        self.notify(f"Fetch {name!r} started (pid {proc.pid}); it keeps running if you close this.")
        self._watch(name)

    def action_cancel(self) -> None:
        name = self._watched or self._get("name")
        if not name:
            return
        pid = cancel(app_state(self).paths, name)
        if pid is None:
            self.notify(f"Fetch {name!r} is not running", severity="warning")
        else:
            self.notify(f"Stopping fetch {name!r} (pid {pid}); it saves its state first")

    def action_finalize(self) -> None:
        name = self._watched or self._get("name")
        if name:
            self._finalize(name)

    @background("fetch-finalize", exclusive=True, subject=lambda name: name)
    def _finalize(self, name: str) -> None:
        from core.fetch.finalize import ImportUnavailable, import_harvest

        try:
            summary = import_harvest(app_state(self).paths, name)
        except ImportUnavailable as exc:  # nothing to build yet, or still running: said inline
            self.post_message(FetchFinalized(name, refused=str(exc)))
            return
        self.post_message(FetchFinalized(name, summary=summary))

    def on_fetch_finalized(self, message: FetchFinalized) -> None:
        if message.refused:
            self._error(message.refused)
        else:
            self._error("")
            self.notify(message.summary)

    def action_close(self) -> None:
        self.dismiss(None)

    @on(Button.Pressed, "#b-start")
    def _start_pressed(self) -> None:
        self.action_start()

    @on(Button.Pressed, "#b-cancel")
    def _cancel_pressed(self) -> None:
        self.action_cancel()

    @on(Button.Pressed, "#b-finalize")
    def _finalize_pressed(self) -> None:
        self.action_finalize()

    @on(Input.Submitted, "#f-name")
    def _name_submitted(self, event: Input.Submitted) -> None:
        name = event.value.strip()
        try:
            layout = FetchLayout.of(app_state(self).paths, name)
        except PathError as exc:
            self._error(str(exc))
            return
        if layout.state.exists():
            self._load_saved(name)
        self._watch(name)

    # ------------------------------------------------------------------ polling

    def _watch(self, name: str) -> None:
        self._watched = name
        if not self._polling:
            self._polling = True
            self._poll()

    def _poll(self) -> None:
        if self._watched is not None:
            self._poll_worker(self._watched)

    @background("fetch-poll", exclusive=True, subject=lambda name: name)
    def _poll_worker(self, name: str) -> None:
        for launched, proc in list(_LAUNCHED.items()):
            if proc.poll() is not None:  # reap, so a finished fetch is not a zombie
                _LAUNCHED.pop(launched, None)
        self.post_message(FetchPolled(snapshot(app_state(self).paths, name)))

    def on_fetch_polled(self, message: FetchPolled) -> None:
        if message.snapshot.name == self._watched:
            self.query_one(FetchProgress).show(message.snapshot)
        self._rearm_poll()

    def _rearm_poll(self) -> None:
        # Re-armed only after a poll finished, so polls never overlap.
        if self.is_attached:
            self.set_timer(POLL_S, self._poll)

    def worker_failed(self, worker: Worker[object], line: str) -> None:
        """Say what failed beside the form; a failed poll is retried like any other."""
        self._error(line)
        if worker.group == "fetch-poll":
            self._rearm_poll()
