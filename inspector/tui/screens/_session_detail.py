"""The session screen's detail pane: the highlighted event's JSON or raw frame; copy and save it."""

from __future__ import annotations

from pathlib import Path

from textual import work
from textual.worker import get_current_worker

from inspector.display import format_bytes
from inspector.tui.db import worker_store
from inspector.tui.screens._session_base import SessionScreenBase
from inspector.tui.screens.dialogs import PromptScreen
from inspector.tui.widgets.event_detail import detail_renderable

__all__ = ["DetailPane"]


class DetailPane(SessionScreenBase):
    def show_cursor_event(self) -> None:
        """The detail of the event under the list's cursor (a collapsed run's first, said so)."""
        run = self.event_list.cursor_run()
        note = f"the first of {run[2]} deltas, #{run[0]}–#{run[1]} (z shows them all)" if run else ""
        self.load_detail(self.event_list.cursor_seq, self.raw, note)

    @work(thread=True, exclusive=True, group="detail")
    def load_detail(self, seq: int | None, raw: bool, note: str = "") -> None:
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
            self.app.call_from_thread(self.detail.show, ev, renderable, raw, note)

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
        self.show_cursor_event()

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
