"""The worker process of `scanning.py`: scan one side, hand the scan back, exit.

stdin: the pickled (database path, session id, `DiffOptions`, wanted seqs or None);
stdout: the pickled (None, `SideScan`), or ((kind, message), None) when it failed.
"""

from __future__ import annotations

import pickle
import sys
from typing import Any

from inspector.diff.compare import KeyTable
from inspector.diff.scanning import scan_side
from inspector.store import StoreError, open_store

__all__ = ["main"]


def main() -> None:
    path, session_id, options, wanted = pickle.load(sys.stdin.buffer)
    answer: tuple[Any, Any]
    try:
        with open_store(path, create=False) as store:
            scan = scan_side(store, session_id, options, KeyTable(), wanted)
        scan.normaliser.forget_texts()  # a cache: not worth sending
        answer = (None, scan)
    except StoreError as exc:
        answer = (("store", str(exc)), None)
    except Exception as exc:  # anything else reaches the caller as an error, not as a hang
        answer = (("other", f"{type(exc).__name__}: {exc}"), None)
    pickle.dump(answer, sys.stdout.buffer, protocol=pickle.HIGHEST_PROTOCOL)
    sys.stdout.buffer.flush()
