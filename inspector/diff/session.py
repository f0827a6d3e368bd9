"""The thin shell around the pure diff: read two sides through the Store API, once each.

A side is a session of a database or a file; a file is imported into a temporary database first
(`imported_side`), so both kinds are read by the same code.
"""

from __future__ import annotations

import contextlib
import tempfile
from collections.abc import Iterator
from pathlib import Path

from inspector.diff.compare import SideScan, changed_seqs, compare, make_report, normalised_values
from inspector.diff.normalise import DiffOptions
from inspector.diff.report import DiffReport, SideInfo
from inspector.diff.scanning import scan_sides
from inspector.store import Store
from inspector.store.filter import CompiledFilter

__all__ = ["Side", "diff_sides", "imported_side"]


class Side:
    """A session to compare: where it is, and what the user called it."""

    def __init__(self, store: Store, session_id: int, name: str, *, from_file: bool = False) -> None:
        self.store, self.session_id, self.name, self.from_file = store, session_id, name, from_file
        store.session(session_id)  # SessionNotFound now, not halfway through


@contextlib.contextmanager
def imported_side(path: Path) -> Iterator[Side]:
    """A file (JSON Lines, fixture, HAR) as a side: imported into a temporary database that is
    gone afterwards. The first session of a file that holds several is the one compared."""
    from inspector.formats import import_files

    with tempfile.TemporaryDirectory(prefix="inspector-diff-") as tmp, Store(Path(tmp) / "side.db") as store:
        imported = import_files(store, [path])
        if not imported:
            raise ValueError(f"{path}: no session in this file")
        yield Side(store, imported[0].session_id, str(path), from_file=True)


def diff_sides(a: Side, b: Side, options: DiffOptions, compiled: CompiledFilter | None = None) -> DiffReport:
    """Scan both sides (one streaming pass each, in parallel when large: `scanning.py`), align
    them, read back only the changed events."""
    scan_a, scan_b = scan_sides(a, b, options, compiled)
    alignment = compare(scan_a, scan_b)
    seqs_a, seqs_b = changed_seqs(alignment)
    values = (
        normalised_values(scan_a, a.store.events_at(a.session_id, seqs_a, with_frames=True)),
        normalised_values(scan_b, b.store.events_at(b.session_id, seqs_b, with_frames=True)),
    )
    infos = (_info(a, scan_a), _info(b, scan_b))
    return make_report(alignment, scan_a, scan_b, infos, values)


def _info(side: Side, scan: SideScan) -> SideInfo:
    return SideInfo(side.name, side.session_id, side.from_file, scan.events, len(scan.seqs), len(scan.turns))
