"""Reading the two sides: one streaming pass each, the two passes in parallel when both are large.

Scanning a side (read every frame, parse, normalise, digest, build its turns) costs ~8 µs an
event in Python, one core; the two sides are independent, so for a large pair one side is
scanned in a worker process while this one scans the other. The worker hands back its
`SideScan` (arrays, turns, the normaliser's id numbering) and its keys are renumbered onto this
process's `KeyTable`. Below `PARALLEL_FROM` events a side, starting a process (~0.2 s) is not
worth it: small diffs and tests stay in one process.
"""

from __future__ import annotations

import os
import pickle
import subprocess
import sys
from array import array
from pathlib import Path
from typing import TYPE_CHECKING

import inspector
from inspector.diff.compare import KeyTable, SideScan
from inspector.diff.normalise import DiffOptions
from inspector.protocol import Direction
from inspector.store import Store, StoreError

if TYPE_CHECKING:
    from inspector.diff.session import Side
    from inspector.store.filter import CompiledFilter

__all__ = ["PARALLEL_FROM", "scan_side", "scan_sides"]

PARALLEL_FROM = 50_000  # events on the smaller side from which it is scanned in a worker


def scan_side(
    store: Store, session_id: int, options: DiffOptions, keys: KeyTable, wanted: list[int] | None
) -> SideScan:
    """One side, scanned in this process (audio measured, not read back: see the Store contract)."""
    scan = SideScan(options, keys, wanted)
    scan.feed(store.events(session_id, with_frames=True, audio="length"))
    return scan


def scan_sides(a: Side, b: Side, options: DiffOptions, compiled: CompiledFilter | None) -> tuple[SideScan, SideScan]:
    """Both sides scanned, sharing one `KeyTable`: the smaller one in a worker process when both
    have at least `PARALLEL_FROM` events and there is a second core, else one after the other
    here."""
    keys = KeyTable()
    wanted = [_wanted(side, compiled) for side in (a, b)]
    sizes = [side.store.count(side.session_id) for side in (a, b)]
    if min(sizes) < PARALLEL_FROM or _cores() < 2:
        return (
            scan_side(a.store, a.session_id, options, keys, wanted[0]),
            scan_side(b.store, b.session_id, options, keys, wanted[1]),
        )
    far = 0 if sizes[0] <= sizes[1] else 1  # the worker also pays its start: give it less
    sides = (a, b)
    worker = _Worker(sides[far], options, wanted[far])
    try:
        here = scan_side(sides[1 - far].store, sides[1 - far].session_id, options, keys, wanted[1 - far])
        there = worker.result()
    finally:
        worker.stop()
    _rekey(there, keys)
    return (there, here) if far == 0 else (here, there)


def _cores() -> int:
    """The cores this process may run on (a container or `taskset` may allow fewer than exist)."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


def _wanted(side: Side, compiled: CompiledFilter | None) -> list[int] | None:
    if compiled is None or compiled.empty:
        return None
    return side.store.seqs_matching(side.session_id, compiled)


def _rekey(scan: SideScan, keys: KeyTable) -> None:
    """Move a scan made with a table of its own (in the worker) onto `keys`; an id's low bit is
    its direction, the same in both tables."""
    remap = [0] * (2 * len(scan.keys.names))
    for name, old in scan.keys.ids.items():
        remap[old] = keys.id(name, Direction.SERVER if old & 1 else Direction.CLIENT)
    scan.key_ids = array("i", map(remap.__getitem__, scan.key_ids))
    scan.keys = keys


class _Worker:
    """A side scanned in a process of its own: a fresh interpreter (`_worker.py`) that gets its
    arguments pickled on stdin and answers with the pickled scan on stdout. Not multiprocessing:
    a fork of the TUI's threaded process may inherit a held lock, and multiprocessing's spawn
    re-imports the caller's main module, which a script without a `__main__` guard cannot take."""

    def __init__(self, side: Side, options: DiffOptions, wanted: list[int] | None) -> None:
        root = str(Path(inspector.__file__).resolve().parent.parent)  # the same code as this process
        code = f"import sys; sys.path.insert(0, {root!r}); from inspector.diff._worker import main; main()"
        self._process = subprocess.Popen([sys.executable, "-c", code], stdin=subprocess.PIPE, stdout=subprocess.PIPE)
        assert self._process.stdin is not None
        try:
            with self._process.stdin as stdin:
                pickle.dump((str(side.store.path), side.session_id, options, wanted), stdin)
        except BrokenPipeError:
            pass  # it died at its start: `result` says so

    def result(self) -> SideScan:
        assert self._process.stdout is not None
        try:
            error, scan = pickle.load(self._process.stdout)
        except (EOFError, pickle.UnpicklingError):
            code = self._process.wait()
            raise StoreError(f"the process scanning a side stopped (exit code {code})") from None
        if error is not None:
            kind, message = error
            raise StoreError(message) if kind == "store" else RuntimeError(message)
        assert isinstance(scan, SideScan)
        return scan

    def stop(self) -> None:
        """End the worker if it is still scanning (this process failed), and reap it."""
        if self._process.poll() is None:
            self._process.kill()
        if self._process.stdout is not None:
            self._process.stdout.close()
        self._process.wait()
