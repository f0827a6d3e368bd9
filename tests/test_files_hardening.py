"""Export and import against hostile files: a database that breaks mid-read, a killed export, a
FIFO given to import. Real files, the real CLI."""

from __future__ import annotations

import base64
import json
import os
import signal
import subprocess
import sys
import threading
from pathlib import Path

import pytest
from click.testing import CliRunner

from inspector.cli import main
from inspector.files import atomic_write, terminate_as_exit
from inspector.protocol import Direction
from inspector.store import FrameIn, Store


@pytest.fixture
def damaged_db(tmp_path: Path) -> Path:
    """A session of 3000 audio appends whose last quarter of pages is overwritten: reading it
    succeeds at first and fails part way."""
    path = tmp_path / "damaged.db"
    audio = base64.b64encode(bytes(range(256)) * 8).decode()
    frames = [
        FrameIn(Direction.CLIENT, i * 1000, json.dumps({"type": "input_audio_buffer.append", "audio": audio}))
        for i in range(3000)
    ]
    with Store(path) as store:
        store.import_session(frames)
    size = path.stat().st_size
    with path.open("r+b") as f:
        f.seek(size * 3 // 4)
        f.write(b"\xff" * 4096 * 20)
    return path


@pytest.mark.parametrize("fmt", ["jsonl", "har", "wav"])
def test_an_export_that_fails_mid_read_leaves_no_file_behind(damaged_db: Path, tmp_path: Path, fmt: str):
    out = tmp_path / "out"
    result = CliRunner().invoke(main, ["export", "1", "--format", fmt, "-o", f"{out}/", "--db", str(damaged_db)])
    assert result.exit_code == 1 and "damaged" in result.output
    assert list(out.iterdir()) == []  # neither a .partial nor a short file that looks whole


def test_sigterm_inside_terminate_as_exit_removes_the_partial_file(tmp_path: Path):
    target = tmp_path / "x.jsonl"
    with pytest.raises(SystemExit) as exc, terminate_as_exit(), atomic_write(target) as stream:
        stream.write(b"half")
        os.kill(os.getpid(), signal.SIGTERM)
        threading.Event().wait(5)  # the handler runs at the next bytecode; never reached
    assert exc.value.code == 128 + signal.SIGTERM
    assert list(tmp_path.iterdir()) == []
    assert signal.getsignal(signal.SIGTERM) is signal.SIG_DFL  # restored


def test_import_refuses_a_fifo_at_once_instead_of_blocking(tmp_path: Path):
    fifo = tmp_path / "pipe.jsonl"
    os.mkfifo(fifo)
    db = tmp_path / "x.db"
    # A subprocess with a timeout: on failure the old behaviour blocks forever in open().
    proc = subprocess.run(
        [sys.executable, "-m", "inspector", "import", str(fifo), "--db", str(db)],
        capture_output=True,
        text=True,
        timeout=20,
    )
    assert proc.returncode == 1 and "not a regular file" in proc.stderr
    assert not db.exists()


@pytest.fixture
def make_read_only():
    """Make a file or directory read-only even for root (who ignores modes): `chattr +i` as
    root, `chmod` otherwise; undone after the test."""
    undo: list[list[str] | Path] = []

    def apply(path: Path) -> None:
        if os.geteuid() == 0:
            if subprocess.run(["chattr", "+i", str(path)], capture_output=True).returncode != 0:
                pytest.skip("running as root where chattr +i is not allowed: nothing is read-only")
            undo.append(["chattr", "-i", str(path)])
        else:
            path.chmod(0o555 if path.is_dir() else 0o444)
            undo.append(path)

    yield apply
    for item in reversed(undo):
        if isinstance(item, Path):
            item.chmod(0o755 if item.is_dir() else 0o644)
        else:
            subprocess.run(item, check=True)


def _tap_refuses(db: Path) -> str:
    """`inspector tap` on `db`: it must exit at once with one error line (it used to listen and
    record nothing); returns that line."""
    proc = subprocess.run(
        [sys.executable, "-m", "inspector", "tap", "--listen", "127.0.0.1:0", "--db", str(db)],
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert "listening" not in proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), proc.stderr
    return lines[0]


def test_the_tap_refuses_to_start_on_a_read_only_database_file(tmp_path: Path, make_read_only):
    db = tmp_path / "ro.db"
    Store(db).close()
    make_read_only(db)
    assert "is read-only" in _tap_refuses(db)


def test_the_tap_refuses_to_start_in_a_read_only_directory(tmp_path: Path, make_read_only):
    directory = tmp_path / "ro"
    directory.mkdir()
    Store(directory / "x.db").close()  # closing removes the -wal and -shm files
    assert sorted(p.name for p in directory.iterdir()) == ["x.db"]
    make_read_only(directory)
    assert "directory" in _tap_refuses(directory / "x.db")


def test_a_reader_still_opens_a_read_only_database(tmp_path: Path, make_read_only):
    db = tmp_path / "ro.db"
    with Store(db) as store:
        store.create_session(source="tap")
    make_read_only(db)
    with Store(db, create=False) as store:  # the TUI, sessions, export: they only read
        assert len(store.sessions()) == 1
