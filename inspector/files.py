"""Writing a file whole or not at all."""

from __future__ import annotations

import os
import signal
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import BinaryIO

__all__ = ["atomic_write", "terminate_as_exit"]


@contextmanager
def atomic_write(path: Path) -> Iterator[BinaryIO]:
    """A binary stream onto `NAME.partial` beside `path`, renamed to `path` when the block ends.

    On any failure (including a cancellation raised from inside the block) the partial file is
    removed and the exception propagates: an import never meets half an export."""
    partial = path.with_name(path.name + ".partial")
    try:
        with open(partial, "wb") as stream:
            yield stream
        os.replace(partial, path)
    except BaseException:
        partial.unlink(missing_ok=True)
        raise


@contextmanager
def terminate_as_exit() -> Iterator[None]:
    """Within the block, SIGTERM (kill, `timeout`, systemd) raises `SystemExit(143)` instead of
    ending the process at once, so that `atomic_write` and other cleanups still run: a killed
    export leaves no `.partial` file. A no-op outside the main thread, where Python cannot
    handle signals."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def exit_now(signum: int, frame: object) -> None:
        sys.exit(128 + signum)

    previous = signal.signal(signal.SIGTERM, exit_now)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)
