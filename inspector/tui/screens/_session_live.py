"""The session screen's live tail: new events of a session still recorded, follow mode."""

from __future__ import annotations

from textual import work
from textual.widgets import Static
from textual.worker import get_current_worker

from inspector.store.filter import CompiledFilter
from inspector.tui.db import DB_ERRORS, worker_store
from inspector.tui.screens._session_base import SessionScreenBase

__all__ = ["LiveTail"]


class LiveTail(SessionScreenBase):
    def on_database_changed(self) -> None:
        try:
            self.info = self.store.session(self.session_id)
            total = self.store.last_seq(self.session_id)
        except Exception:
            return
        el = self.event_list
        if total <= el.total and total <= self._checked_seq:
            self.update_title()
            return
        if self.filter.empty:
            added = el.append(total)
            self._checked_seq = total
            self._rows_added(added)
        else:
            self.filter_new_events(self.filter, self._checked_seq, total)
        self._nav_cache.clear()
        self.update_title()

    def _rows_added(self, added: int) -> None:
        if added <= 0:
            self.update_filter_status()
            return
        if self.follow:
            self.event_list.move_cursor(self.event_list.row_count - 1)
        else:
            self.new_rows += added
            self.query_one("#new-badge", Static).update(f"+{self.new_rows} new · End/F follows")
            self.add_class("-new")
        self.update_filter_status()

    @work(thread=True, exclusive=True, group="tail")
    def filter_new_events(self, compiled: CompiledFilter, after: int, total: int) -> None:
        try:
            seqs = worker_store(self.app).seqs_matching(self.session_id, compiled.and_after(after))
        except DB_ERRORS as exc:  # a worker's exception would end the app with a traceback
            self._notify_from_thread(f"cannot read new events: {exc}", severity="error")
            return
        if not get_current_worker().is_cancelled:
            self.app.call_from_thread(self._apply_new_matches, compiled, seqs, total)

    def _apply_new_matches(self, compiled: CompiledFilter, seqs: list[int], total: int) -> None:
        if compiled is not self.filter:
            return
        self._checked_seq = total
        self._rows_added(self.event_list.append(total, seqs))

    def action_follow(self) -> None:
        """The last event; and, on a session still recorded, the events that come after it."""
        self.follow = self.live
        self.new_rows = 0
        self.remove_class("-new")
        self.event_list.focus()
        self.event_list.move_cursor(self.event_list.row_count - 1)
        self.update_title()

    def _stop_following_if_away(self) -> None:
        el = self.event_list
        at_end = el.cursor >= el.row_count - 1
        if at_end:
            if self.new_rows:
                self.new_rows = 0
                self.remove_class("-new")
        elif self.follow:
            self.follow = False
            self.update_title()
