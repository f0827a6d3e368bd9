"""The session screen's state and the helpers its parts share (see `session.py`)."""

from __future__ import annotations

from array import array
from collections.abc import Callable
from pathlib import Path

from textual.notifications import SeverityLevel
from textual.screen import Screen
from textual.widgets import Static

from inspector.display import SIDEBAND_NOTE, fit_end, format_bytes, format_duration, plural
from inspector.protocol import call_id_of
from inspector.store import Event, SessionInfo, SessionStatus, Store, is_database_file
from inspector.store.filter import CompiledFilter
from inspector.tui.screens.dialogs import ConfirmScreen
from inspector.tui.widgets.event_detail import EventDetail
from inspector.tui.widgets.event_list import EventList
from inspector.tui.widgets.filter_bar import FilterBar

__all__ = ["SessionScreenBase"]


class SessionScreenBase(Screen[None]):
    """State, widgets and helpers every part of the session screen uses."""

    def __init__(self, session_id: int) -> None:
        super().__init__()
        self.session_id = session_id
        self.info: SessionInfo | None = None
        self.filter: CompiledFilter = CompiledFilter("")
        self.follow = False
        self.new_rows = 0
        self.raw = False
        self._checked_seq = 0  # events up to here have been looked at by the filter
        self._nav_cache: dict[str, array] = {}
        self._filter_store: Store | None = None

    @property
    def live(self) -> bool:
        """The session is still being recorded: there is something to follow."""
        return self.info is not None and self.info.status == SessionStatus.OPEN

    @property
    def store(self) -> Store:
        return self.app.store  # type: ignore[attr-defined]

    @property
    def event_list(self) -> EventList:
        return self.query_one(EventList)

    @property
    def detail(self) -> EventDetail:
        return self.query_one(EventDetail)

    @property
    def filter_bar(self) -> FilterBar:
        return self.query_one(FilterBar)

    def update_title(self) -> None:
        info = self.info
        if info is None:
            self.query_one("#session-title", Static).update(f"session {self.session_id} (not found)")
            return
        # What matters most first (the error count within 80 columns), a long label cut short.
        label = f" [{fit_end(info.label, 20)}]" if info.label else ""
        parts = [f"session {info.id}{label}", str(info.status)]
        if self.follow and self.live:
            parts.append("● following")
        parts += [
            plural(info.error_events, "error"),
            f"{plural(info.events, 'event')} ({info.client_events} → / {info.server_events} ←)",
            format_duration(info.duration),
            format_bytes(info.bytes),
            info.model or "-",
            info.source,
        ]
        if info.unrecorded_frames:
            parts.append(f"{info.unrecorded_frames} frames not recorded")
        if call_id := call_id_of(info.query):
            parts.append(f"call {call_id}")
        if info.source == "attach":
            parts.append(SIDEBAND_NOTE.split(":")[0])  # "only what the sideband saw"
        self.query_one("#session-title", Static).update(" · ".join(parts))

    def update_filter_status(self, note: str = "") -> None:
        el = self.event_list
        if self.filter.empty:
            text = plural(el.total, "event")
        else:
            text = f"{el.event_count} of {el.total} events match"
        if note:
            text += f" · {note}"
        self.filter_bar.set_status(text)

    def go_to_seq(self, seq: int) -> None:
        """Move to an event, clearing the filter when it hides that event."""
        el = self.event_list
        if el.seqs is not None and not el.contains(seq):
            self.filter_bar.input.value = ""
            self.filter = CompiledFilter("")
            self.filter_bar.mark_applied("")
            el.set_filter(None, seq)
            self.update_filter_status("filter cleared to show the event")
        el.focus()
        el.go_to_seq(seq)

    def _current_event(self) -> Event | None:
        seq = self.event_list.cursor_seq
        if seq is None:
            return None
        try:
            return self.store.event(self.session_id, seq)
        except Exception as exc:
            self.notify(f"cannot read event {seq}: {exc}", severity="error", markup=False)
            return None

    def _unless_it_exists(self, path: Path, write: Callable[[Path], object]) -> None:
        """Write `path`, asking first when a file is there already (the default names repeat)."""
        if is_database_file(path, self.app.db_path):  # type: ignore[attr-defined]
            self.notify(f"{path} is the recordings database: choose another file", severity="error", markup=False)
        elif path.is_dir():
            self.notify(f"{path} is a directory: give a file name", severity="error", markup=False)
        elif path.exists():

            def answered(yes: bool | None) -> None:
                if yes:
                    write(path)

            self.app.push_screen(ConfirmScreen(f"{path} exists. Overwrite it?", "Overwrite"), answered)
        else:
            write(path)

    def _notify_from_thread(self, message: str, severity: SeverityLevel = "information") -> None:
        # markup=False: messages quote paths and database errors
        self.app.call_from_thread(self.notify, message, severity=severity, markup=False)
