"""Replay a session from the TUI (`inspector.replay`): choose the target, pacing and waiting,
watch the client events go out and the server's come back, then see the diff with the original.

The replay runs in a worker thread on its own event loop (the mock, when it is the target,
runs there too), so the UI stays responsive; `escape` stops it cleanly (what was recorded is
kept, as with Ctrl-C on the command line)."""

from __future__ import annotations

import asyncio
import os
import time
from dataclasses import dataclass

from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.screen import Screen
from textual.widgets import Button, Checkbox, Footer, Input, Label, ProgressBar, Static

from inspector.replay.plan import Pace, ReplayPlan
from inspector.replay.runner import ReplayOptions, ReplayResult
from inspector.tui.widgets._keys import HELP_BINDING

__all__ = ["ReplayScreen", "ReplaySettings"]


@dataclass(frozen=True)
class ReplaySettings:
    """What the form asks for, checked: the target (None: the mock), pacing, waiting, the
    timeout and the variable holding the target's key."""

    target: str | None
    pace: Pace
    wait: bool
    timeout: float
    key_env: str

    @classmethod
    def parse(cls, target: str, pace: str, wait: bool, timeout: str, key_env: str) -> ReplaySettings:
        """Raises ValueError with a message for the form."""
        target = target.strip()
        if target and not target.startswith(("ws://", "wss://")):
            raise ValueError("the target is a ws:// or wss:// URL (empty: the mock)")
        try:
            parsed_pace = Pace.parse(pace.strip() or "original")
        except ValueError:
            raise ValueError("pacing is original, asap or a speed factor such as 2") from None
        try:
            seconds = float(timeout)
        except ValueError:
            raise ValueError("the timeout is a number of seconds") from None
        if seconds <= 0:
            raise ValueError("the timeout is a number of seconds above 0")
        return cls(target or None, parsed_pace, wait, seconds, key_env.strip() or "OPENAI_API_KEY")


class ReplayScreen(Screen[None]):
    NAMESPACE = "replay"
    HELP_SECTION = "Replay"
    BINDINGS = [
        HELP_BINDING,
        Binding("ctrl+r", "start", "Replay"),
        Binding("escape", "back", "Back / stop"),
    ]
    DEFAULT_CSS = """
    ReplayScreen > #replay-title { height: 1; padding: 0 1; background: $primary-background; }
    ReplayScreen #replay-form { height: auto; padding: 1 2; }
    ReplayScreen #replay-form Horizontal { height: auto; }
    ReplayScreen #replay-form Label { width: 22; padding: 1 1 0 0; }
    ReplayScreen #replay-form Input { width: 1fr; }
    ReplayScreen #replay-progress { padding: 0 2; height: auto; }
    ReplayScreen #replay-status { padding: 0 2; height: auto; }
    """

    def __init__(self, session_id: int) -> None:
        super().__init__()
        self.session_id = session_id
        self.result: ReplayResult | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stop: asyncio.Event | None = None
        self._last_progress = 0.0

    def compose(self) -> ComposeResult:
        yield Static(f"replay session {self.session_id}", id="replay-title", markup=False)
        with Vertical(id="replay-form"):
            for label, widget in (
                ("Target", Input(placeholder="empty: the mock, started here; or wss://…", id="target")),
                ("Pacing", Input("original", placeholder="original, asap or a factor (2)", id="pace")),
                ("Wait timeout (s)", Input("10", id="timeout")),
                ("Key from variable", Input("OPENAI_API_KEY", id="key-env")),
            ):
                with Horizontal():
                    yield Label(label)
                    yield widget
            yield Checkbox("Wait for the server events that preceded each client event", True, id="wait")
            yield Button("Replay", id="start", variant="primary")
        yield ProgressBar(id="replay-progress", show_eta=False)
        yield Static("", id="replay-status", markup=False)
        yield Footer()

    def on_mount(self) -> None:
        self.query_one("#target", Input).focus()

    # -- starting --------------------------------------------------------------------------

    def on_button_pressed(self, event: Button.Pressed) -> None:
        event.stop()
        self.action_start()

    def on_input_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        self.action_start()

    def settings(self) -> ReplaySettings:
        return ReplaySettings.parse(
            self.query_one("#target", Input).value,
            self.query_one("#pace", Input).value,
            self.query_one("#wait", Checkbox).value,
            self.query_one("#timeout", Input).value,
            self.query_one("#key-env", Input).value,
        )

    def action_start(self) -> None:
        if self._stop is not None:
            return  # one replay at a time
        try:
            settings = self.settings()
        except ValueError as exc:
            self._status(str(exc))
            return
        key = os.environ.get(settings.key_env) if settings.target else None
        if settings.target and not key:
            self._status(f"{settings.key_env} is not set: the target needs a key (it is sent, never recorded)")
            return
        self.query_one("#replay-form").disabled = True
        self._status("starting…")
        self.run_replay(settings, key)

    @work(thread=True, exclusive=True, group="replay")
    def run_replay(self, settings: ReplaySettings, key: str | None) -> None:
        from inspector.replay.runner import replay_sessions

        options = ReplayOptions(pace=settings.pace, wait=settings.wait, timeout=settings.timeout)

        async def run() -> list[ReplayResult]:
            self._loop, self._stop = asyncio.get_running_loop(), asyncio.Event()
            return await replay_sessions(
                self.app.db_path,  # type: ignore[attr-defined]
                [self.session_id],
                target=settings.target,
                api_key=key,
                options=options,
                progress=self._progress_from_thread,
                stop=self._stop,
            )

        try:
            results = asyncio.run(run())
        except Exception as exc:  # the store or the mock could not start
            self.app.call_from_thread(self._finished, None, f"replay failed: {exc}", settings)
            return
        self.app.call_from_thread(self._finished, results[0] if results else None, None, settings)

    # -- progress and result ---------------------------------------------------------------

    def _progress_from_thread(self, plan: ReplayPlan) -> None:
        """Called by the replay for every event: the UI hears of it at most ten times a second
        (each hand-over waits for the UI thread)."""
        now = time.monotonic()
        if now - self._last_progress >= 0.1:
            self._last_progress = now
            self.app.call_from_thread(self._progress, *_figures(plan))

    def _progress(self, done: int, total: int, received: int, waited: int, divergences: int) -> None:
        bar = self.query_one(ProgressBar)
        bar.update(total=max(total, 1), progress=done)
        self._status(
            f"{done}/{total} client events sent, {received} received, {waited} waited, {divergences} divergence(s)"
        )

    def _finished(self, result: ReplayResult | None, error: str | None, settings: ReplaySettings) -> None:
        self._stop = self._loop = None
        self.result = result
        self.query_one("#replay-form").disabled = False
        if result is None or result.error is not None or result.session_id is None:
            self._status(error or (result.error if result else None) or "the replay recorded nothing")
            return
        c = result.counts
        verdict = "interrupted" if result.interrupted else "diverged" if result.divergences else "complete"
        lines = [
            f"{verdict}: recorded as session {result.session_id} in {result.seconds:.1f} s; {c.sent} sent, "
            f"{c.received} received, {c.waited} waited, {c.timed_out} timed out, {c.skipped} skipped, "
            f"{c.remapped} remapped",
            *(f"  {d.message}" for d in result.divergences[:5]),
        ]
        self._status("\n".join(lines))
        self.app.notify(f"replay recorded as session {result.session_id}", markup=False)
        self._open_diff(result.session_id, settings)

    def _open_diff(self, replay_id: int, settings: ReplaySettings) -> None:
        """The diff with the original: content against the mock, structure against a live
        target (its words change from run to run; its structure should not)."""
        from inspector.diff import Mode
        from inspector.tui.screens.diff import DiffScreen

        mode = Mode.STRUCTURE if settings.target else Mode.CONTENT
        self.app.push_screen(DiffScreen(self.session_id, replay_id, mode))

    def _status(self, text: str) -> None:
        self.query_one("#replay-status", Static).update(text)

    # -- stopping --------------------------------------------------------------------------

    def action_back(self) -> None:
        loop, stop = self._loop, self._stop
        if loop is not None and stop is not None:
            loop.call_soon_threadsafe(stop.set)  # ends cleanly; the result still arrives
            self._status("stopping…")
            return
        self.app.pop_screen()


def _figures(plan: ReplayPlan) -> tuple[int, int, int, int, int]:
    """What the progress line shows, read on the replay's thread (the plan is not thread-safe)."""
    c = plan.counts
    return plan.position, c.client_events, c.received, c.waited, len(plan.divergences)
