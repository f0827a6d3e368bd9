"""`inspector push`: ship finished sessions from a local recordings file to a central database
(a PostgreSQL URL, or any other store), for taps that keep writing locally.

Idempotent by the session's globally unique `uid`: a session the target already holds is
skipped, so pushing twice (or after a push that stopped half way) duplicates nothing. Each
session goes in one transaction on the target, every field of its row kept (uid, host, status,
close, label, counters, `unrecorded_frames`), except `replay_of`: a local session number, which
means nothing on the target. It is pointed at the target's copy of the replayed session when
that one is there (pushed before, or earlier in the same push: sessions go oldest first), else
left empty.

Open sessions (being recorded) are never pushed. `--delete-after` deletes a local session only
once the target holds it (its uid, with the same number of events).
"""

from __future__ import annotations

import re
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import click

from inspector.cli_common import DB, db_option, fail
from inspector.display import plural

if TYPE_CHECKING:
    from inspector.store import SessionInfo, Store

__all__ = ["PushResult", "parse_duration", "push_command", "push_sessions"]

PROGRESS_EVERY = 1.0  # seconds between two progress lines on stderr
# This many sessions failing in a row: the target is gone (each attempt may wait for a connect
# timeout); stop, and let the next push go on from there.
GIVE_UP_AFTER = 3
_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 7 * 86400}
# Recomputed by the target from the frames on import; set back to the source's after it (the
# source counted the wire bytes before redaction, which may differ).
_COUNTERS = ("client_events", "server_events", "error_events", "bytes", "duration_ns")


@dataclass
class PushResult:
    pushed: int = 0
    skipped: int = 0  # already on the target
    failed: int = 0
    still_open: int = 0  # being recorded: not pushed
    not_tried: int = 0  # left when the push gave up
    deleted: int = 0
    events: int = 0  # events pushed
    errors: list[str] = field(default_factory=list)

    def summary(self) -> str:
        parts = [
            f"pushed {plural(self.pushed, 'session')} ({plural(self.events, 'event')})",
            f"skipped {self.skipped} already there",
        ]
        parts.append(f"failed {self.failed}")
        if self.still_open:
            parts.append(f"{self.still_open} still open, not pushed")
        if self.not_tried:
            parts.append(f"gave up after {GIVE_UP_AFTER} failures in a row, {self.not_tried} not tried")
        if self.deleted:
            parts.append(f"deleted {self.deleted} local")
        return ", ".join(parts)


def parse_duration(text: str) -> float:
    """`90s`, `15m`, `2h`, `3d`, `1w` (a number and a unit) in seconds; ValueError otherwise."""
    match = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([smhdw])\s*", text.lower())
    if not match:
        raise ValueError(f"{text!r} is not a duration: a number and a unit, e.g. 90s, 15m, 2h, 3d, 1w")
    return float(match.group(1)) * _UNITS[match.group(2)]


def push_sessions(
    source: Store,
    target: Store,
    *,
    since: float | None = None,
    delete_after: bool = False,
    progress: Callable[[PushResult, int], None] | None = None,
) -> PushResult:
    """Push the finished sessions of `source` started at or after `since` (unix seconds) to
    `target`, oldest first; `progress(result, candidates)` is called after each session."""
    from inspector.store import SessionStatus, StoreError

    result = PushResult()
    candidates = []
    for info in reversed(source.sessions()):  # oldest first: a replay's original goes before it
        if since is not None and info.started_at < since:
            continue
        if info.status == SessionStatus.OPEN:
            result.still_open += 1
        else:
            candidates.append(info)
    in_a_row = 0
    for index, info in enumerate(candidates):
        if in_a_row == GIVE_UP_AFTER:
            result.not_tried = len(candidates) - index
            break
        try:
            if target.session_id_for_uid(info.uid) is not None:
                result.skipped += 1
            else:
                result.events += _push_one(source, target, info)
                result.pushed += 1
            if delete_after and _confirmed(source, target, info):
                source.delete_session(info.id)
                result.deleted += 1
            in_a_row = 0
        except StoreError as exc:
            in_a_row += 1
            result.failed += 1
            result.errors.append(f"session {info.id}: {exc}")
        if progress is not None:
            progress(result, len(candidates))
    return result


def _push_one(source: Store, target: Store, info: SessionInfo) -> int:
    """Copy one session in one transaction on the target; how many events it holds."""
    from inspector.store import FrameIn

    fields = {k: v for k, v in info.to_dict().items() if k not in ("id", "replay_of", *_COUNTERS)}
    fields["replay_of"] = _replay_of(source, target, info.replay_of)
    frames = (
        FrameIn(e.direction, e.t_ns, e.frame, e.opcode)
        for e in source.events(info.id, with_frames=True)
        if e.frame is not None  # always loaded with_frames
    )
    with target.transaction():
        new_id = target.import_session(frames, **fields)
        target.update_session(new_id, **{k: getattr(info, k) for k in _COUNTERS})
    return info.events


def _replay_of(source: Store, target: Store, replay_of: int | None) -> int | None:
    """The target's id of the replayed session, when the target holds it."""
    from inspector.store import SessionNotFound

    if replay_of is None:
        return None
    try:
        return target.session_id_for_uid(source.session(replay_of).uid)
    except SessionNotFound:
        return None


def _confirmed(source: Store, target: Store, info: SessionInfo) -> bool:
    """The target holds this session whole: its uid, with as many events as here."""
    target_id = target.session_id_for_uid(info.uid)
    return target_id is not None and target.count(target_id) == source.count(info.id)


def _progress_printer() -> Callable[[PushResult, int], None]:
    started = last = time.monotonic()

    def show(result: PushResult, total: int) -> None:
        nonlocal last
        now = time.monotonic()
        done = result.pushed + result.skipped + result.failed
        if now - last >= PROGRESS_EVERY or (done == total and now - started >= PROGRESS_EVERY):
            last = now
            rate = result.pushed / max(now - started, 1e-9)
            click.echo(
                f"push: {done}/{total} sessions ({result.pushed} pushed, {result.skipped} skipped, "
                f"{result.failed} failed; {result.events} events, {rate:.0f} sessions/s)",
                err=True,
            )

    return show


@click.command("push")
@click.option(
    "--to",
    "target_db",
    type=DB,
    metavar="URL|FILE",
    required=True,
    help="Where to push: a PostgreSQL URL (postgresql://user@host/dbname), or another recordings file.",
)
@db_option
@click.option("--since", metavar="DURATION", help="Only sessions started within this long ago: 90s, 15m, 2h, 3d, 1w.")
@click.option(
    "--delete-after", is_flag=True, help="Delete each local session once the target holds it (uid and event count)."
)
def push_command(target_db: Path | str, db_path: Path | str, since: str | None, delete_after: bool) -> None:
    """Ship finished sessions from a local recordings file (--db) to a central database (--to),
    one transaction per session, oldest first. Pushing twice duplicates nothing: a session the
    target already holds (by its uid) is skipped. Sessions still being recorded are left for the
    next push. Progress on stderr; a summary line at the end; exit 1 if any session failed."""
    from inspector.store import StoreError, open_store, show_db

    try:
        cutoff = None if since is None else time.time() - parse_duration(since)
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="--since") from None
    if _same_database(db_path, target_db):
        fail(f"--to and --db are the same database ({show_db(db_path)})")
    try:
        source = open_store(db_path, create=False)
    except StoreError as exc:
        fail(str(exc))
    try:
        target = open_store(target_db, create=True)
    except StoreError as exc:
        source.close()
        fail(str(exc))
    with source, target:
        result = push_sessions(source, target, since=cutoff, delete_after=delete_after, progress=_progress_printer())
    for error in result.errors:
        click.echo(f"error: {error}", err=True)
    click.echo(result.summary())
    sys.exit(1 if result.failed else 0)


def _same_database(a: Path | str, b: Path | str) -> bool:
    from inspector.store import is_url

    if is_url(a) or is_url(b):
        return str(a) == str(b)
    return Path(a).resolve() == Path(b).resolve()
