"""One session: the virtual event list, the filter bar, the detail pane, follow mode.

The screen is put together from parts, one module each: `_session_live` (live tail and follow),
`_session_detail` (the detail pane, copy and save), `_session_filter` (the filter bar's worker),
`_session_nav` (jumps to errors, turns and referenced events; the turns view) and
`_session_export`; `_session_base` holds the state and helpers they share.
"""

from __future__ import annotations

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.widgets import Footer, Static

from inspector.tui.screens._session_detail import DetailPane
from inspector.tui.screens._session_export import Exporting
from inspector.tui.screens._session_filter import Filtering
from inspector.tui.screens._session_live import LiveTail
from inspector.tui.screens._session_nav import Navigation
from inspector.tui.widgets._keys import HELP_BINDING
from inspector.tui.widgets.event_detail import EventDetail
from inspector.tui.widgets.event_list import EventList
from inspector.tui.widgets.filter_bar import FilterBar

__all__ = ["SessionScreen"]


class SessionScreen(LiveTail, DetailPane, Filtering, Navigation, Exporting):
    NAMESPACE = "session"
    HELP_SECTION = "Session"
    BINDINGS = [
        HELP_BINDING,
        Binding("slash", "focus_filter", "Filter"),
        Binding("escape", "back", "Back"),
        Binding("enter", "toggle_detail", "Detail", show=False),
        Binding("d", "toggle_detail_pane", "Detail pane"),
        Binding("r", "toggle_raw", "Raw frame"),
        Binding("e", "next_error", "Next error"),
        Binding("E", "previous_error", "Prev error", show=False),
        Binding("t", "next_turn", "Next turn", show=False),
        Binding("T", "previous_turn", "Prev turn", show=False),
        Binding("o", "jump_reference", "Referenced event"),
        Binding("v", "turns", "Turns"),
        Binding("f,F", "follow", "Follow"),  # and End, bound in the event list (it has focus)
        Binding("c", "copy_frame", "Copy frame", show=False),
        Binding("s", "save_frame", "Save frame", show=False),
        Binding("x", "export", "Export"),
        Binding("D", "diff_with", "Diff with", show=False),
        Binding("R", "replay", "Replay", show=False),
    ]

    DEFAULT_CSS = """
    SessionScreen > #session-title { height: 1; padding: 0 1; background: $primary-background; }
    SessionScreen #session-body { height: 1fr; }
    SessionScreen #list-pane { width: 1fr; }
    SessionScreen #new-badge {
        dock: bottom; width: auto; height: 1; padding: 0 1; margin: 0 2 0 0;
        background: $warning; color: $text; text-style: bold; display: none;
    }
    SessionScreen.-new > #session-body #new-badge { display: block; }
    SessionScreen.-no-detail #event-detail { display: none; }
    /* Which pane has the keys: its top rule and title light up. */
    SessionScreen #event-list, SessionScreen #event-detail {
        border-top: hkey $border-blurred; border-title-color: $text-muted;
    }
    SessionScreen #event-list:focus, SessionScreen #event-detail:focus {
        border-top: hkey $border; border-title-color: $text; border-title-style: bold;
    }
    """

    def compose(self) -> ComposeResult:
        yield Static("", id="session-title", markup=False)
        yield FilterBar(id="filter-bar")
        with Horizontal(id="session-body"):
            with Vertical(id="list-pane"):
                yield EventList(id="event-list")
                yield Static("", id="new-badge")
            yield EventDetail(id="event-detail")
        yield Footer()

    def on_mount(self) -> None:
        try:
            self.info = self.store.session(self.session_id)
            total = self.store.last_seq(self.session_id)
        except Exception as exc:
            self.notify(f"cannot open session {self.session_id}: {exc}", severity="error", markup=False)
            self.info, total = None, 0
        self._checked_seq = total
        self.event_list.border_title = "Events"
        self.detail.border_title = "Detail"
        self.event_list.set_session(self.store, self.session_id, total)
        self.follow = self.live
        self.event_list.focus()
        if self.follow:
            self.event_list.move_cursor(total - 1)
        else:
            self.event_list.move_cursor(0)
        self.update_title()
        self.update_filter_status()

    def on_screen_resume(self) -> None:
        if self.event_list.store is not None:
            self.on_database_changed()

    def on_unmount(self) -> None:
        self._cancel_filter()

    def on_event_list_event_highlighted(self, message: EventList.EventHighlighted) -> None:
        self._stop_following_if_away()
        self.show_cursor_event()

    def on_event_list_event_selected(self, message: EventList.EventSelected) -> None:
        self.action_toggle_detail()
