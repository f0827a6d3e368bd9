"""The session as a conversation: one row per turn with latencies; enter jumps to the turn's
first event in the event list; w/W write the turn's or the session's audio as WAV files. While
the session is recorded, the turns are read again as events arrive."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from pathlib import Path

from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.screen import Screen
from textual.widgets import DataTable, Footer, Static
from textual.worker import Worker, get_current_worker

from inspector.display import LATENCIES
from inspector.formats.wav import wav_name, wav_paths
from inspector.store import Event
from inspector.tui.db import worker_store
from inspector.tui.messages import DatabaseChanged
from inspector.tui.screens.dialogs import ConfirmScreen, PromptScreen
from inspector.tui.widgets._keys import HELP_BINDING
from inspector.tui.widgets.turns_table import TurnsTable
from inspector.turns import INPUT_AUDIO_TYPES, OUTPUT_AUDIO_TYPES, Turn, is_slow, read_turns, slow_threshold

__all__ = ["TurnsScreen"]

# What the latency columns measure, in their names (`display.LATENCIES`), and the bar.
_LEGEND = (
    "from the input (its commit or response.create) to "
    + ", ".join(f"{name} {what}" for _, name, what in LATENCIES)
    + "; bar: ░ →created ▒ →output █ →done"
)


class TurnsScreen(Screen[int | None]):
    NAMESPACE = "turns"
    HELP_SECTION = "Turns"
    BINDINGS = [
        HELP_BINDING,
        Binding("enter", "open_turn", "Go to turn"),
        Binding("w", "export_audio(True)", "Turn audio as WAV"),
        Binding("W", "export_audio(False)", "Session audio as WAV"),
        Binding("escape,v", "back", "Back"),
    ]
    DEFAULT_CSS = """
    TurnsScreen > #turns-title { height: 1; padding: 0 1; background: $primary-background; }
    TurnsScreen > #turns-legend { height: auto; padding: 0 1; color: $text-muted; }
    """

    def __init__(self, session_id: int) -> None:
        super().__init__()
        self.session_id = session_id
        self._last_seq: int | None = None  # the events the turns were built from

    def compose(self) -> ComposeResult:
        yield Static(f"session {self.session_id} · turns · loading…", id="turns-title", markup=False)
        yield Static(_LEGEND, id="turns-legend", markup=False)
        yield TurnsTable(id="turns-table")
        yield Footer()

    def on_mount(self) -> None:
        self.query_one(TurnsTable).focus()
        self.load_turns()

    def on_database_changed(self, message: DatabaseChanged) -> None:
        """A tap committed: when this session has new events, build its turns again."""
        try:
            last = self.app.store.last_seq(self.session_id)  # type: ignore[attr-defined]
        except Exception:
            return
        if last != self._last_seq:
            self.load_turns()

    @work(thread=True, exclusive=True, group="turns")
    def load_turns(self) -> None:
        worker = get_current_worker()
        try:
            store = worker_store(self.app)
            last = store.last_seq(self.session_id)
            self._last_seq = last
            turns = read_turns(store, self.session_id, _until_cancelled(store.events(self.session_id), worker))
        except Exception as exc:
            self.app.call_from_thread(self.notify, f"cannot build turns: {exc}", severity="error", markup=False)
            return
        if not worker.is_cancelled:
            self.app.call_from_thread(self._show, turns)

    def _show(self, turns: list[Turn]) -> None:
        self.query_one(TurnsTable).show(turns)
        slow = slow_threshold(turns)
        n_slow = sum(1 for t in turns if is_slow(t, slow))
        count = f"{len(turns)} turn{'' if len(turns) == 1 else 's'}"
        self.query_one("#turns-title", Static).update(
            f"session {self.session_id} · {count} · {n_slow} slow (→output > {slow:,.0f} ms) · "
            "latencies in ms from each turn's input"
        )

    def on_data_table_row_selected(self, event: DataTable.RowSelected) -> None:
        event.stop()
        self.action_open_turn()

    def action_open_turn(self) -> None:
        turn = self.query_one(TurnsTable).selected
        if turn is not None:
            self.dismiss(turn.start_seq)

    def action_back(self) -> None:
        self.dismiss(None)

    def action_export_audio(self, one_turn: bool) -> None:
        """Ask for a directory, then write `session-N[-turn-T]-input.wav` and `-output.wav` there,
        as `inspector export N --format wav [--turn T] -o DIR/` does (same turn numbers)."""
        turn = self.query_one(TurnsTable).selected if one_turn else None
        if one_turn and turn is None:
            self.notify("no turn selected", severity="warning")
            return
        what = f"turn {turn.number}'s audio" if turn is not None else "the session's audio"
        number = turn.number if turn is not None else None
        if not self._has_audio(turn):
            self.notify(f"{what}: there is none (no input_audio_buffer.append or output audio deltas)", timeout=4)
            return

        def done(directory: str | None) -> None:
            if directory is None:
                return
            if not directory.strip():
                self.notify("no directory given: nothing written", timeout=3)
                return
            folder = Path(directory).expanduser()
            existing = [p for p in wav_paths(folder / wav_name(self.session_id, number)).values() if p.exists()]
            if not existing:
                self.write_wav(folder, number)
                return

            def answered(yes: bool | None) -> None:
                if yes:
                    self.write_wav(folder, number)

            names = " and ".join(str(p) for p in existing)
            self.app.push_screen(
                ConfirmScreen(f"{names} exist{'s' if len(existing) == 1 else ''}. Overwrite?", "Overwrite"), answered
            )

        self.app.push_screen(PromptScreen(f"Write {what} as WAV files into the directory:", "./"), done)

    def _has_audio(self, turn: Turn | None) -> bool:
        """Asked before the directory: a dialog for nothing would be worse than the warning."""
        if turn is not None:
            return bool(turn.input_seqs or turn.output_seqs)
        try:
            counts = self.app.store.type_counts(self.session_id)  # type: ignore[attr-defined]
        except Exception:
            return True  # the export will say what is wrong
        return any(counts.get(name) for name in (*INPUT_AUDIO_TYPES, *OUTPUT_AUDIO_TYPES))

    @work(thread=True, exclusive=True, group="wav")
    def write_wav(self, directory: Path, turn: int | None) -> None:
        from inspector.formats.wav import NoAudio, export_wav

        name = wav_name(self.session_id, turn)
        try:
            directory.mkdir(parents=True, exist_ok=True)
            files = export_wav(worker_store(self.app), self.session_id, directory / name, turn=turn)
        except (NoAudio, IndexError) as exc:
            self.app.call_from_thread(self.notify, str(exc), severity="warning", markup=False)
            return
        except Exception as exc:
            self.app.call_from_thread(self.notify, f"audio export failed: {exc}", severity="error", markup=False)
            return
        written = ", ".join(f"{f.path} ({f.seconds:.2f} s)" for f in files)
        self.app.call_from_thread(self.notify, f"wrote {written}", markup=False)  # paths: no markup


def _until_cancelled(events: Iterable[Event], worker: Worker[None]) -> Iterator[Event]:
    """The events, until the screen is closed (its worker cancelled)."""
    for ev in events:
        if worker.is_cancelled:
            return
        yield ev
