"""The session screen's export: the session, or the filtered events, as re-importable JSON Lines."""

from __future__ import annotations

from pathlib import Path

from textual import work
from textual.worker import get_current_worker

from inspector.tui.db import worker_store
from inspector.tui.export import ExportCancelled, export_jsonl
from inspector.tui.screens._session_base import SessionScreenBase
from inspector.tui.screens.dialogs import PromptScreen

__all__ = ["Exporting"]


class Exporting(SessionScreenBase):
    def action_export(self) -> None:
        filtered = not self.filter.empty
        default = f"session-{self.session_id}{'-filtered' if filtered else ''}.jsonl"
        what = (
            f"the {self.event_list.event_count} filtered events" if filtered else f"all {self.event_list.total} events"
        )
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
