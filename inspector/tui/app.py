"""The Textual app: `make_app(...)` is what the CLI runs and what the snapshot tests render."""

from __future__ import annotations

from collections.abc import Iterable
from functools import partial
from pathlib import Path

from textual.app import App, SystemCommand
from textual.binding import Binding, BindingType
from textual.screen import Screen

from inspector.store import Store, db_location, open_store
from inspector.tui.db import DB_ERRORS, WorkerStores
from inspector.tui.messages import DatabaseChanged
from inspector.tui.screens.diff import DiffScreen
from inspector.tui.screens.error import ErrorScreen
from inspector.tui.screens.help import HelpScreen
from inspector.tui.screens.replay import ReplayScreen
from inspector.tui.screens.session import SessionScreen
from inspector.tui.screens.sessions import SessionsScreen
from inspector.tui.screens.turns import TurnsScreen
from inspector.tui.widgets._keys import HELP_BINDING, TABLE_BINDINGS
from inspector.tui.widgets.diff_list import DiffList
from inspector.tui.widgets.event_list import EventList
from inspector.tui.widgets.sessions_table import SessionsTable

__all__ = ["InspectorApp", "make_app"]

POLL_SECONDS = 0.25


class InspectorApp(App[None]):
    TITLE = "Realtime Inspector"
    BINDINGS = [
        Binding("q", "quit", "Quit"),
        Binding("question_mark", "help", "Help"),
        Binding("ctrl+p", "command_palette", "Commands", show=False),
    ]

    def __init__(self, db_path: Path | str, session_id: int | None = None, filter_text: str | None = None) -> None:
        super().__init__()
        self.db_path = db_location(db_path)  # a file, or a PostgreSQL URL
        self.initial_session = session_id
        self.initial_filter = filter_text
        self.store: Store | None = None  # the UI thread's connection
        self.worker_stores = WorkerStores(self.db_path)  # the worker threads' (tui.db.worker_store)
        self._data_version = 0

    def on_mount(self) -> None:
        try:
            self.store = open_store(self.db_path, create=False)
            self._data_version = self.store.data_version()
        except DB_ERRORS as exc:
            self.push_screen(ErrorScreen(str(exc)))
            return
        self.push_screen(SessionsScreen())
        if self.initial_session is not None:
            self.open_session(self.initial_session, self.initial_filter)
        self.set_interval(POLL_SECONDS, self.check_for_changes)

    def on_unmount(self) -> None:
        if self.store is not None:
            self.store.close()
        self.worker_stores.close()

    def open_session(self, session_id: int, filter_text: str | None = None) -> SessionScreen:
        screen = SessionScreen(session_id)
        self.push_screen(screen)
        if filter_text:
            screen.call_after_refresh(screen.set_filter_text, filter_text)
        return screen

    def check_for_changes(self) -> None:
        """Live updates: `PRAGMA data_version` moves when a tap (another connection) commits."""
        if self.store is None:
            return
        try:
            version = self.store.data_version()
        except Exception:
            return
        if version != self._data_version:
            self._data_version = version
            self.screen.post_message(DatabaseChanged())

    # -- help and the command palette ---------------------------------------------------------

    def help_sections(self) -> list[tuple[str, list[BindingType]]]:
        filter_keys: list[BindingType] = [
            Binding("enter", "", "apply the filter"),
            Binding("escape", "", "back to the event list"),
        ]
        sections = [
            ("Everywhere", list(self.BINDINGS)),
            ("Sessions", [*SessionsScreen.BINDINGS, *SessionsTable.BINDINGS]),
            ("Session", list(SessionScreen.BINDINGS)),
            ("Event list", list(EventList.BINDINGS)),
            ("Filter bar", filter_keys),
            ("Turns", [*TurnsScreen.BINDINGS, *TABLE_BINDINGS]),
            ("Diff", [*DiffScreen.BINDINGS, *DiffList.BINDINGS]),
            ("Replay", list(ReplayScreen.BINDINGS)),
        ]
        # "? Help" is listed once, under Everywhere (each screen repeats it for its footer).
        return [
            (title, [b for b in keys if b is not HELP_BINDING or title == "Everywhere"]) for title, keys in sections
        ]

    def action_help(self) -> None:
        if not isinstance(self.screen, HelpScreen):
            current = getattr(
                self.screen, "HELP_SECTION", "Sessions" if isinstance(self.screen, SessionsScreen) else None
            )
            self.push_screen(HelpScreen(self.help_sections(), [("Filter language", filter_language())], current))

    def get_system_commands(self, screen: Screen) -> Iterable[SystemCommand]:
        # Textual's "Keys" panel would be a second help next to ours.
        yield from (command for command in super().get_system_commands(screen) if command.title != "Keys")
        yield SystemCommand("app: Help", "Every key binding, this screen's first", self.action_help)
        namespace = getattr(screen, "NAMESPACE", None)
        if namespace is None:
            return
        for binding in screen.BINDINGS:
            if not isinstance(binding, Binding) or not binding.description or binding is HELP_BINDING:
                continue
            title = binding.description + ("…" if binding.action in _ASKS else "")
            yield SystemCommand(
                f"{namespace}: {title}",
                f"key {binding.key.split(',')[0]}",
                partial(screen.run_action, binding.action),
            )


def filter_language() -> str:
    """The filter language's summary, as the filter module's docstring gives it."""
    from inspector.store import filter as filter_module

    doc = (filter_module.__doc__ or "").split("\n\n")
    return "\n".join(line.rstrip() for line in doc[1].splitlines()) if len(doc) > 1 else ""


# Actions that open a dialog: their palette entries end with an ellipsis.
_ASKS = {"export", "save_frame", "label", "delete", "diff_with"}


def make_app(db_path: str | Path, session_id: int | None = None, filter_text: str | None = None) -> InspectorApp:
    """The app the CLI runs (`inspector tui`) and the snapshot tests render."""
    return InspectorApp(db_path, session_id, filter_text)
