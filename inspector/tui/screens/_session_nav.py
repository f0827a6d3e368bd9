"""The session screen's jumps: next/previous error and turn, the referenced event, the turns view."""

from __future__ import annotations

from array import array
from bisect import bisect_left, bisect_right
from collections.abc import Callable
from functools import partial
from pathlib import Path

from inspector.store.filter import compile_filter
from inspector.tui.model import references
from inspector.tui.screens._session_base import SessionScreenBase
from inspector.tui.screens.dialogs import PromptScreen
from inspector.turns import BOUNDARY_NEEDS_DATA, BOUNDARY_TYPES, read_turns

__all__ = ["Navigation"]

# The events that decide where turns start (an indexed type filter): next/previous turn build the
# turns over these alone, which gives the same turn starts as building over every event.
_BOUNDARY_FILTER = compile_filter(" OR ".join(f"type:{name}" for name in sorted(BOUNDARY_TYPES)))


class Navigation(SessionScreenBase):
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
            # Streamed, not listed: a million-event session has ~100k boundary events (~40 MB).
            rows = self.store.events_matching(self.session_id, _BOUNDARY_FILTER)
            turns = read_turns(self.store, self.session_id, rows, needs_data=BOUNDARY_NEEDS_DATA)
            cached = array("q", (turn.start_seq for turn in turns))
            self._nav_cache["turns"] = cached
        return cached

    def _jump(self, seqs_of: Callable[[], array], forward: bool, what: str) -> None:
        current = self.event_list.cursor_seq or 0
        try:
            seqs = seqs_of()
        except Exception as exc:
            self.notify(f"cannot search: {exc}", severity="error", markup=False)
            return
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

    def action_turns(self) -> None:
        from inspector.tui.screens.turns import TurnsScreen

        def done(seq: int | None) -> None:
            if seq is not None:
                self.go_to_seq(seq)

        self.app.push_screen(TurnsScreen(self.session_id), done)

    def action_diff_with(self) -> None:
        """Ask for the other side (a session id or a file), then open the diff screen with this
        session as A."""

        def done(answer: str | None) -> None:
            answer = (answer or "").strip()
            if not answer:
                return
            from inspector.tui.screens.diff import DiffScreen

            other: int | Path = int(answer) if answer.isdigit() else Path(answer).expanduser()
            if isinstance(other, Path) and not other.is_file():
                self.notify(
                    f"{other}: no such file (give a session id or a recording file)", severity="error", markup=False
                )
                return
            self.app.push_screen(DiffScreen(self.session_id, other))

        self.app.push_screen(
            PromptScreen(f"Diff session {self.session_id} with (a session id, or a JSON Lines / HAR file):"), done
        )

    def action_replay(self) -> None:
        """The replay screen for this session: target, pacing and waiting, then the diff."""
        from inspector.tui.screens.replay import ReplayScreen

        self.app.push_screen(ReplayScreen(self.session_id))
