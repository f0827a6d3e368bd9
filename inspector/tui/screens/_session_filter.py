"""The session screen's filter: the filter bar's text run in a worker, cancellable."""

from __future__ import annotations

import time
from array import array

from textual import work
from textual.worker import get_current_worker

from inspector.store import open_store
from inspector.store.filter import CompiledFilter
from inspector.tui.db import DB_ERRORS
from inspector.tui.screens._session_base import SessionScreenBase
from inspector.tui.widgets.event_list import EventList
from inspector.tui.widgets.filter_bar import FilterBar

__all__ = ["Filtering"]


class Filtering(SessionScreenBase):
    def action_focus_filter(self) -> None:
        self.filter_bar.input.focus()

    def action_back(self) -> None:
        """Step back one thing at a time, as on the sessions screen: the filter bar or the
        detail pane to the list, a running filter cancelled, an applied filter cleared, and
        only then the screen left."""
        if self.filter_bar.input.has_focus or self.focused is self.detail:
            self.event_list.focus()
        elif self._filter_store is not None:
            self._cancel_filter()
            self.update_filter_status("filter cancelled")
        elif not self.filter.empty or self.filter_bar.value.strip():
            self.filter_bar.apply("")
            self.notify("filter cleared: esc again goes back to the sessions", timeout=3)
        else:
            self.app.pop_screen()

    def on_filter_bar_filter_changed(self, message: FilterBar.FilterChanged) -> None:
        self.apply_filter(message.compiled)
        self.event_list.focus()

    def set_filter_text(self, text: str) -> None:
        """Type and apply a filter (used by the CLI's initial filter and by tests)."""
        self.filter_bar.apply(text)

    def apply_filter(self, compiled: CompiledFilter) -> None:
        self._cancel_filter()
        self.filter = compiled
        self.filter_bar.mark_applied(compiled.text)
        keep = self.event_list.cursor_seq
        if compiled.empty:
            self.event_list.set_filter(None, keep)
            self._checked_seq = self.event_list.total
            self.update_filter_status()
            return
        self.update_filter_status("filtering… (esc cancels)")
        self.run_filter(compiled, keep)

    def _cancel_filter(self) -> None:
        store, self._filter_store = self._filter_store, None
        if store is not None:
            try:
                store.interrupt()
            except Exception:
                pass
        self.workers.cancel_group(self, "filter")

    @work(thread=True, exclusive=True, group="filter")
    def run_filter(self, compiled: CompiledFilter, keep: int | None) -> None:
        worker = get_current_worker()
        started = time.perf_counter()
        # Its own connection, not the thread's shared one (tui.db.WorkerStores): a newer filter
        # interrupts this query, and an interrupt must never land on another worker's query.
        try:  # a worker's exception would end the app with a traceback
            store = open_store(self.app.db_path, create=False)  # type: ignore[attr-defined]
        except DB_ERRORS as exc:
            if not worker.is_cancelled:
                self.app.call_from_thread(self._filter_failed, compiled, str(exc))
            return
        self._filter_store = store
        try:
            total = store.last_seq(self.session_id)
            seqs = array(
                "q",
                store.seqs_matching(self.session_id, compiled),
            )
        except Exception as exc:
            if not worker.is_cancelled:
                self.app.call_from_thread(self._filter_failed, compiled, str(exc))
            return
        finally:
            if self._filter_store is store:
                self._filter_store = None
            store.close()
        elapsed = time.perf_counter() - started
        if not worker.is_cancelled:
            self.app.call_from_thread(self._filter_done, compiled, seqs, total, keep, elapsed)

    def _torn_down(self) -> bool:
        """A worker's answer can arrive while the app closes the screen: the widgets it would
        update (the list, the filter bar's status line) are gone, or going, one by one."""
        return not (self.query(EventList) and self.query("#filter-status"))

    def _filter_done(self, compiled: CompiledFilter, seqs: array, total: int, keep: int | None, elapsed: float) -> None:
        if compiled is not self.filter or self._torn_down():
            return
        el = self.event_list
        el.total = max(el.total, total)
        self._checked_seq = total
        el.set_filter(seqs, keep, compiled.text)
        # Only a slow filter is worth a timing (and instant ones keep snapshots deterministic).
        self.update_filter_status(f"{elapsed * 1000:.0f} ms" if elapsed >= 0.1 else "")

    def _filter_failed(self, compiled: CompiledFilter, error: str) -> None:
        if compiled is self.filter and not self._torn_down():
            self.update_filter_status(f"filter failed: {error}")
            self.notify(f"filter failed: {error}", severity="error", markup=False)
