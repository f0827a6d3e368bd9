"""One session: the virtual event list, the filter bar, the detail pane, follow mode."""

from __future__ import annotations

import time
from array import array
from collections.abc import Callable
from functools import partial
from pathlib import Path

from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.notifications import SeverityLevel
from textual.screen import Screen
from textual.widgets import Footer, Static
from textual.worker import get_current_worker

from inspector.display import format_bytes, format_duration
from inspector.store import Event, SessionInfo, SessionStatus, Store, is_database_file
from inspector.store.filter import CompiledFilter, compile_filter
from inspector.tui.db import DB_ERRORS, worker_store
from inspector.tui.export import ExportCancelled, export_jsonl
from inspector.tui.model import references
from inspector.tui.screens.dialogs import ConfirmScreen, PromptScreen
from inspector.tui.widgets.event_detail import EventDetail, detail_renderable
from inspector.tui.widgets.event_list import EventList
from inspector.tui.widgets.filter_bar import FilterBar
from inspector.turns import BOUNDARY_TYPES, read_turns

__all__ = ["SessionScreen"]

# The events that decide where turns start (an indexed type filter): next/previous turn build the
# turns over these alone, which gives the same turn starts as building over every event.
_BOUNDARY_FILTER = " OR ".join(f"type:{name}" for name in sorted(BOUNDARY_TYPES))


class SessionScreen(Screen[None]):
    NAMESPACE = "session"
    BINDINGS = [
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
    """

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
        self._last_paint: float | None = None

    @property
    def live(self) -> bool:
        """The session is still being recorded: there is something to follow."""
        return self.info is not None and self.info.status == SessionStatus.OPEN

    @property
    def store(self) -> Store:
        return self.app.store  # type: ignore[attr-defined]

    def compose(self) -> ComposeResult:
        yield Static("", id="session-title", markup=False)
        yield FilterBar(id="filter-bar")
        with Horizontal(id="session-body"):
            with Vertical(id="list-pane"):
                yield EventList(id="event-list")
                yield Static("", id="new-badge")
            yield EventDetail(id="event-detail")
        yield Footer()

    @property
    def event_list(self) -> EventList:
        return self.query_one(EventList)

    @property
    def detail(self) -> EventDetail:
        return self.query_one(EventDetail)

    @property
    def filter_bar(self) -> FilterBar:
        return self.query_one(FilterBar)

    def on_mount(self) -> None:
        try:
            self.info = self.store.session(self.session_id)
            total = self.store.last_seq(self.session_id)
        except Exception as exc:
            self.notify(f"cannot open session {self.session_id}: {exc}", severity="error", markup=False)
            self.info, total = None, 0
        self._checked_seq = total
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

    # -- title and status ----------------------------------------------------------------------

    def update_title(self) -> None:
        info = self.info
        if info is None:
            self.query_one("#session-title", Static).update(f"session {self.session_id} (not found)")
            return
        parts = [
            f"session {info.id}" + (f" [{info.label}]" if info.label else ""),
            info.model or "-",
            info.source,
            info.status,
            f"{info.events} events ({info.client_events} → / {info.server_events} ←)",
            f"{info.error_events} errors",
            format_duration(info.duration),
            format_bytes(info.bytes),
        ]
        if self.follow and self.live:
            parts.append("● following")
        self.query_one("#session-title", Static).update(" · ".join(parts))

    def update_filter_status(self, note: str = "") -> None:
        el = self.event_list
        if self.filter.empty:
            text = f"{el.total} events"
        else:
            text = f"{el.row_count} of {el.total} events match"
        if note:
            text += f" · {note}"
        self.filter_bar.set_status(text)

    # -- live tail -----------------------------------------------------------------------------

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

    # -- the highlighted event ----------------------------------------------------------------

    def on_event_list_event_highlighted(self, message: EventList.EventHighlighted) -> None:
        self._stop_following_if_away()
        self.load_detail(message.seq, self.raw)

    def on_event_list_event_selected(self, message: EventList.EventSelected) -> None:
        self.action_toggle_detail()

    @work(thread=True, exclusive=True, group="detail")
    def load_detail(self, seq: int | None, raw: bool) -> None:
        if seq is None:
            self.app.call_from_thread(
                self.detail.show, None, "no events" if self.event_list.row_count == 0 else "", raw
            )
            return
        try:
            ev = worker_store(self.app).event(self.session_id, seq)
            renderable = detail_renderable(ev, raw)
        except Exception as exc:
            ev, renderable = None, f"cannot read event {seq}: {exc}"
        if not get_current_worker().is_cancelled:
            self.app.call_from_thread(self.detail.show, ev, renderable, raw)

    def action_toggle_detail(self) -> None:
        if self.has_class("-no-detail"):
            self.remove_class("-no-detail")
        elif self.focused is self.detail:
            self.event_list.focus()
        else:
            self.detail.focus()

    def action_toggle_detail_pane(self) -> None:
        """Hide the detail pane so that the list gets the whole width (its ids column shows
        from about 92 columns), or show it again."""
        hide = not self.has_class("-no-detail")
        self.set_class(hide, "-no-detail")
        if hide and self.focused is self.detail:
            self.event_list.focus()

    def action_toggle_raw(self) -> None:
        self.raw = not self.raw
        self.load_detail(self.event_list.cursor_seq, self.raw)

    def _current_event(self) -> Event | None:
        seq = self.event_list.cursor_seq
        if seq is None:
            return None
        try:
            return self.store.event(self.session_id, seq)
        except Exception as exc:
            self.notify(f"cannot read event {seq}: {exc}", severity="error", markup=False)
            return None

    def action_copy_frame(self) -> None:
        ev = self._current_event()
        if ev is None:
            return
        frame = ev.frame
        if isinstance(frame, bytes):
            import base64

            text = base64.b64encode(frame).decode()
            what = "binary frame as base64"
        else:
            text, what = frame or "", "frame"
        self.app.copy_to_clipboard(text)
        self.notify(f"copied {what} #{ev.seq} ({format_bytes(len(text))}) to the clipboard (OSC 52)")

    def action_save_frame(self) -> None:
        ev = self._current_event()
        if ev is None:
            return
        suffix = "bin" if isinstance(ev.frame, bytes) else "json"
        default = f"session-{self.session_id}-event-{ev.seq}.{suffix}"

        def save(target: Path) -> None:
            data = ev.frame if isinstance(ev.frame, bytes) else (ev.frame or "").encode()
            try:
                target.write_bytes(data)
            except OSError as exc:
                self.notify(f"cannot save: {exc}", severity="error", markup=False)
                return
            self.notify(f"saved event #{ev.seq} ({format_bytes(len(data))}) to {target}", markup=False)

        def done(path: str | None) -> None:
            if path:
                self._unless_it_exists(Path(path).expanduser(), save)

        self.app.push_screen(PromptScreen(f"Save the frame of event #{ev.seq} to:", default), done)

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

    # -- filter ----------------------------------------------------------------------------------

    def action_focus_filter(self) -> None:
        self.filter_bar.input.focus()

    def action_back(self) -> None:
        if self.filter_bar.input.has_focus or self.focused is self.detail:
            self.event_list.focus()
        elif self._filter_store is not None:
            self._cancel_filter()
            self.update_filter_status("filter cancelled")
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
            store = Store(self.app.db_path, create=False)  # type: ignore[attr-defined]
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

    def _filter_done(self, compiled: CompiledFilter, seqs: array, total: int, keep: int | None, elapsed: float) -> None:
        if compiled is not self.filter:
            return
        el = self.event_list
        el.total = max(el.total, total)
        self._checked_seq = total
        el.set_filter(seqs, keep)
        # Only a slow filter is worth a timing (and instant ones keep snapshots deterministic).
        self.update_filter_status(f"{elapsed * 1000:.0f} ms" if elapsed >= 0.1 else "")

    def _filter_failed(self, compiled: CompiledFilter, error: str) -> None:
        if compiled is self.filter:
            self.update_filter_status(f"filter failed: {error}")
            self.notify(f"filter failed: {error}", severity="error", markup=False)

    # -- navigation ----------------------------------------------------------------------------

    def _seqs_for(self, text: str) -> array:
        cached = self._nav_cache.get(text)
        if cached is None:
            compiled = compile_filter(text)
            cached = array(
                "q",
                self.store.seqs_matching(self.session_id, compiled),
            )
            self._nav_cache[text] = cached
        return cached

    def _turn_starts(self) -> array:
        """The first event of every turn, as the turns view (and `export --turn`) count them."""
        cached = self._nav_cache.get("turns")
        if cached is None:
            rows = [
                self.store.event(self.session_id, seq, with_frame=False) for seq in self._seqs_for(_BOUNDARY_FILTER)
            ]
            cached = array("q", (turn.start_seq for turn in read_turns(self.store, self.session_id, rows)))
            self._nav_cache["turns"] = cached
        return cached

    def _jump(self, seqs_of: Callable[[], array], forward: bool, what: str) -> None:
        current = self.event_list.cursor_seq or 0
        try:
            seqs = seqs_of()
        except Exception as exc:
            self.notify(f"cannot search: {exc}", severity="error", markup=False)
            return
        from bisect import bisect_left, bisect_right

        if forward:
            i = bisect_right(seqs, current)
            target = seqs[i] if i < len(seqs) else None
        else:
            i = bisect_left(seqs, current) - 1
            target = seqs[i] if i >= 0 else None
        if target is None:
            self.notify(f"no {'next' if forward else 'previous'} {what}", timeout=2)
            return
        self.go_to_seq(target)

    def go_to_seq(self, seq: int) -> None:
        """Move to an event, clearing the filter when it hides that event."""
        el = self.event_list
        if el.seqs is not None and el.seq_at(el.row_of(seq)) != seq:
            self.filter_bar.input.value = ""
            self.filter = CompiledFilter("")
            el.set_filter(None, seq)
            self.update_filter_status("filter cleared to show the event")
        el.focus()
        el.go_to_seq(seq)

    def action_next_error(self) -> None:
        self._jump(partial(self._seqs_for, "is:error"), True, "error")

    def action_previous_error(self) -> None:
        self._jump(partial(self._seqs_for, "is:error"), False, "error")

    def action_next_turn(self) -> None:
        self._jump(self._turn_starts, True, "turn")

    def action_previous_turn(self) -> None:
        self._jump(self._turn_starts, False, "turn")

    def action_jump_reference(self) -> None:
        ev = self._current_event()
        if ev is None:
            return
        for what, text in references(ev, ev.data()):
            try:
                compiled = compile_filter(text)
                seqs = self.store.seqs_matching(self.session_id, compiled)
            except Exception as exc:
                self.notify(f"cannot search: {exc}", severity="error", markup=False)
                return
            target = next((s for s in seqs if s != ev.seq), None)
            if target is not None:
                self.go_to_seq(target)
                self.notify(f"#{ev.seq} → #{target}: {what}", timeout=3, markup=False)  # ids from the wire
                return
        self.notify(f"event #{ev.seq} refers to no other event", timeout=2)

    # -- turns and export ------------------------------------------------------------------------

    def action_turns(self) -> None:
        from inspector.tui.screens.turns import TurnsScreen

        def done(seq: int | None) -> None:
            if seq is not None:
                self.go_to_seq(seq)

        self.app.push_screen(TurnsScreen(self.session_id), done)

    def action_export(self) -> None:
        filtered = not self.filter.empty
        default = f"session-{self.session_id}{'-filtered' if filtered else ''}.jsonl"
        what = f"the {self.event_list.row_count} filtered events" if filtered else f"all {self.event_list.total} events"
        seqs = list(self.event_list.seqs) if self.event_list.seqs is not None else None

        def done(path: str | None) -> None:
            if path:
                self._unless_it_exists(Path(path).expanduser(), lambda target: self.export(target, seqs))

        self.app.push_screen(PromptScreen(f"Export {what} (re-importable JSON Lines) to:", default), done)

    @work(thread=True, exclusive=True, group="export")
    def export(self, path: Path, seqs: list[int] | None) -> None:
        worker = get_current_worker()
        try:
            store = worker_store(self.app)
            count = export_jsonl(store, self.session_id, path, seqs, cancelled=lambda: worker.is_cancelled)
        except ExportCancelled:
            return
        except Exception as exc:
            self._notify_from_thread(f"export failed: {exc}", severity="error")
            return
        self._notify_from_thread(f"exported {count} events to {path}; inspector import reads it back")

    def _notify_from_thread(self, message: str, severity: SeverityLevel = "information") -> None:
        # markup=False: messages quote paths and database errors
        self.app.call_from_thread(self.notify, message, severity=severity, markup=False)
