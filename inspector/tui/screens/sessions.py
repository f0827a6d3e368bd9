"""The home screen: every recorded session, newest first, kept up to date while a tap records.
Sorting and searching happen in the store (`Store.session_ids`): the screen holds the ordered
ids, the table reads the sessions on screen."""

from __future__ import annotations

from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.notifications import SeverityLevel
from textual.screen import Screen
from textual.widgets import Footer, Input, Static

from inspector.display import plural
from inspector.store import SESSION_SORTS, SessionStatus, Store, show_db
from inspector.tui.db import DB_ERRORS, worker_store
from inspector.tui.screens.dialogs import ConfirmScreen, PromptScreen
from inspector.tui.widgets._keys import HELP_BINDING
from inspector.tui.widgets.sessions_table import SessionsTable

__all__ = ["SessionsScreen"]

_STILL_RECORDING = "session {} is still being recorded; stop the tap first"


def _read(store: Store, sort: str, search: str) -> tuple[list[int], int]:
    """The ids the table shows, and how many sessions the database holds."""
    ids = store.session_ids(sort=sort, search=search)
    return ids, store.session_count() if search else len(ids)


class SessionsScreen(Screen[None]):
    NAMESPACE = "sessions"
    BINDINGS = [
        HELP_BINDING,
        Binding("enter", "open", "Open", show=True),
        Binding("slash", "search", "Filter"),
        Binding("s", "sort", "Sort"),
        Binding("m", "mark", "Mark for diff"),
        Binding("D", "diff", "Diff marked"),
        Binding("l", "label", "Label"),
        Binding("d,delete", "delete", "Delete"),
        Binding("escape", "clear_search", "Clear filter", show=False),
        Binding("ctrl+r", "reload", "Reload", show=False),
    ]

    DEFAULT_CSS = """
    SessionsScreen > #sessions-title { height: 1; padding: 0 1; background: $primary-background; }
    SessionsScreen > #sessions-search { display: none; height: 3; }
    SessionsScreen.-searching > #sessions-search { display: block; }
    SessionsScreen > #sessions-empty { padding: 1 2; color: $text-muted; display: none; }
    SessionsScreen.-empty > #sessions-empty { display: block; }
    """

    def __init__(self) -> None:
        super().__init__()
        self.sort = "started"
        self.search = ""
        self.marked: list[int] = []
        self.total = 0  # sessions in the database (the table shows those the search matches)
        self._hosts_of = -1  # the total when the table's host column was last decided

    def compose(self) -> ComposeResult:
        yield Static("", id="sessions-title")
        yield Input(placeholder="filter sessions: model, source, status, label, id, host:NAME…", id="sessions-search")
        yield SessionsTable(id="sessions-table")
        yield Static("No sessions yet. Record one with `inspector tap`.", id="sessions-empty")
        yield Footer()

    @property
    def table(self) -> SessionsTable:
        return self.query_one(SessionsTable)

    def on_mount(self) -> None:
        self.table.focus()

    def on_screen_resume(self) -> None:  # also when first shown: the one read before the first paint
        self.reload()

    def on_database_changed(self) -> None:  # posted by the app when another connection commits
        self.reload()

    def reload(self) -> None:
        self.refresh_table()

    def refresh_table(self) -> None:
        store = self.app.store  # type: ignore[attr-defined]
        try:
            ids, total = _read(store, self.sort, self.search)
            if total != self._hosts_of:  # a scan of every session: only when sessions came or went
                self.table.hosts, self._hosts_of = len(store.session_hosts()) > 1, total
        except DB_ERRORS as exc:
            self.notify(f"cannot read sessions: {exc}", severity="error", markup=False)
            return
        self._show(ids, total)

    @work(thread=True, exclusive=True, group="sessions-search")
    def search_sessions(self, sort: str, search: str) -> None:
        """A search typed into the filter box, read off the UI thread: at 100k sessions (or a
        PostgreSQL round trip away) each keystroke's query must not freeze typing. A newer
        keystroke replaces this worker; an answer for an older search is dropped."""
        try:
            ids, total = _read(worker_store(self.app), sort, search)
        except DB_ERRORS as exc:
            self._notify_from_thread(f"cannot read sessions: {exc}", severity="error")
            return
        self.app.call_from_thread(self._searched, sort, search, ids, total)

    def _searched(self, sort: str, search: str, ids: list[int], total: int) -> None:
        if (sort, search) == (self.sort, self.search):
            self._show(ids, total)

    def _show(self, ids: list[int], total: int) -> None:
        self.total = total
        store = self.app.store  # type: ignore[attr-defined]
        self.table.show(ids, set(self.marked), store.sessions_at)
        self.set_class(not self.total, "-empty")
        db = self.app.db_path  # type: ignore[attr-defined]
        parts = [f"{len(ids)} of {plural(self.total, 'session')}" if self.search else plural(self.total, "session")]
        parts.append(f"sorted by {self.sort}")
        if self.search:
            parts.append(f"filter “{self.search}”")
        if self.marked:
            parts.append("marked " + " & ".join(map(str, self.marked)))
        # Text, not markup: a path (or a search) may hold brackets.
        self.query_one("#sessions-title", Static).update(
            Text.assemble((show_db(db), "bold"), " · " + " · ".join(parts))
        )

    # -- actions -----------------------------------------------------------------------------

    def on_sessions_table_opened(self, event: SessionsTable.Opened) -> None:
        event.stop()
        self.action_open()

    def on_sessions_table_sort_picked(self, event: SessionsTable.SortPicked) -> None:
        event.stop()
        self.sort = event.sort
        self.refresh_table()

    def action_open(self) -> None:
        session_id = self.table.selected_id
        if session_id is not None:
            self.app.open_session(session_id)  # type: ignore[attr-defined]

    def action_search(self) -> None:
        self.add_class("-searching")
        self.query_one("#sessions-search", Input).focus()

    def on_input_changed(self, event: Input.Changed) -> None:
        self.search = event.value.strip()
        self.search_sessions(self.sort, self.search)

    def on_input_submitted(self, event: Input.Submitted) -> None:
        self.table.focus()

    def action_clear_search(self) -> None:
        search = self.query_one("#sessions-search", Input)
        if search.has_focus or self.search:
            search.value = ""
            self.search = ""
            self.remove_class("-searching")
            self.table.focus()
            self.refresh_table()

    def action_sort(self) -> None:
        self.sort = SESSION_SORTS[(SESSION_SORTS.index(self.sort) + 1) % len(SESSION_SORTS)]
        self.refresh_table()
        self.notify(f"sorted by {self.sort}", timeout=2)

    def action_mark(self) -> None:
        session_id = self.table.selected_id
        if session_id is None:
            return
        if session_id in self.marked:
            self.marked.remove(session_id)
        else:
            self.marked.append(session_id)
            self.marked = self.marked[-2:]
        self.refresh_table()
        if len(self.marked) == 2:
            a, b = self.marked
            self.notify(f"sessions {a} and {b} marked: D compares them")

    def action_diff(self) -> None:
        """The diff screen on the two marked sessions (the first marked is A)."""
        if len(self.marked) != 2:
            self.notify("mark two sessions with m first (the first marked is A)", severity="warning")
            return
        from inspector.tui.screens.diff import DiffScreen

        a, b = self.marked
        self.app.push_screen(DiffScreen(a, b))

    def action_label(self) -> None:
        session_id = self.table.selected_id
        if session_id is None:
            return
        info = self.table.selected
        current = (info.label if info else None) or ""

        def done(label: str | None) -> None:
            if label is not None:
                self.write_label(session_id, label.strip() or None)

        self.app.push_screen(PromptScreen(f"Label for session {session_id} (empty clears it):", current), done)

    # Writes run in a worker thread with its own connection: a tap holding the write lock would
    # otherwise freeze the UI for the whole busy timeout (10 s).

    @work(thread=True, group="write")
    def write_label(self, session_id: int, label: str | None) -> None:
        try:
            worker_store(self.app).set_label(session_id, label)
        except DB_ERRORS as exc:
            self._notify_from_thread(f"cannot label session {session_id}: {exc}", severity="error")
            return
        self.app.call_from_thread(self.reload)

    def action_delete(self) -> None:
        session_id = self.table.selected_id
        if session_id is None:
            return
        info = self.table.selected
        if info is not None and info.status == SessionStatus.OPEN:
            self.notify(_STILL_RECORDING.format(session_id), severity="warning")
            return
        events = info.events if info else 0

        def done(yes: bool | None) -> None:
            if yes:
                self.delete_session(session_id)

        self.app.push_screen(
            ConfirmScreen(f"Delete session {session_id} and its {events} events? This cannot be undone.", "Delete"),
            done,
        )

    @work(thread=True, group="write")
    def delete_session(self, session_id: int) -> None:
        try:
            store = worker_store(self.app)
            # Asked again: the list may be older than a tap that started meanwhile, and the
            # recorder must never lose the session it writes into.
            if store.session(session_id).status == SessionStatus.OPEN:
                self._notify_from_thread(_STILL_RECORDING.format(session_id), severity="warning")
                return
            store.delete_session(session_id)
        except DB_ERRORS as exc:
            self._notify_from_thread(f"cannot delete session {session_id}: {exc}", severity="error")
            return
        self.app.call_from_thread(self._deleted, session_id)

    def _deleted(self, session_id: int) -> None:
        if session_id in self.marked:
            self.marked.remove(session_id)
        self.notify(f"deleted session {session_id}")
        self.reload()

    def _notify_from_thread(self, message: str, severity: SeverityLevel) -> None:
        # markup=False: the message quotes database errors and paths
        self.app.call_from_thread(self.notify, message, severity=severity, markup=False)

    def action_reload(self) -> None:
        self.reload()
