"""`inspector import` / `inspector export` through click, on real files: ids printed, formats
detected, and every kind of bad input refused with FILE:LINE and the database left unchanged."""

from __future__ import annotations

import hashlib
import json
import os
import wave
from pathlib import Path

import orjson
import pytest
from click.testing import CliRunner
from test_formats import FIXTURE_FILES, chrome_har, frames_of

from inspector.cli import main
from inspector.store import Store

SAMPLES = Path(__file__).resolve().parents[1] / "recordings" / "samples"


def run(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(main, [str(a) for a in args], catch_exceptions=False)
    return result.exit_code, result.stdout, result.stderr


def snapshot(db: Path) -> tuple[str, list]:
    """The database file's bytes (hashed) and everything in it, to prove nothing changed."""
    digest = hashlib.sha256(db.read_bytes()).hexdigest()
    with Store(db, create=False) as s:
        content = [(info.to_dict(), frames_of(s, info.id)) for info in s.sessions()]
    return digest, content


@pytest.fixture
def db(tmp_path: Path) -> Path:
    """A database that already holds one session."""
    path = tmp_path / "cli.db"
    code, out, _ = run("import", FIXTURE_FILES[3], "--db", path)
    assert code == 0 and out.startswith("session 1:")
    return path


def test_import_prints_new_ids_and_export_round_trips_through_files_and_stdout(db: Path, tmp_path: Path):
    code, out, err = run("import", *FIXTURE_FILES, "--db", db, "--json")
    assert code == 0, err
    records = [json.loads(line) for line in out.splitlines()]
    assert [r["session_id"] for r in records] == [2, 3, 4, 5, 6]
    assert {r["format"] for r in records} == {"fixture"}
    code, stdout_export, _ = run("export", "2", "--db", db)
    assert code == 0 and stdout_export.startswith('{"format":"realtime-inspector/1"')
    code, _, err = run("export", "2", "--format", "har", "-o", tmp_path / "s2.har", "--db", db)
    assert code == 0 and "wrote session 2" in err
    code, _, _ = run("export", "2", "-o", tmp_path / "s2.jsonl", "--db", db)
    assert (tmp_path / "s2.jsonl").read_text() == stdout_export
    code, out, _ = run("import", tmp_path / "s2.jsonl", tmp_path / "s2.har", "--db", db)
    assert code == 0 and out.splitlines()[0].startswith("session 7:") and "(har," in out
    with Store(db) as s:
        assert frames_of(s, 7) == frames_of(s, 8) == frames_of(s, 2)


def test_export_wav_into_a_directory_or_with_a_prefix(db: Path, tmp_path: Path):
    run("import", FIXTURE_FILES[0], "--db", db)  # audio_in_server_vad_turn: session 2
    outdir = tmp_path / "audio"
    outdir.mkdir()
    code, out, err = run("export", "2", "--format", "wav", "-o", outdir, "--db", db)
    assert code == 0, err
    assert sorted(p.name for p in outdir.iterdir()) == ["session-2-input.wav", "session-2-output.wav"]
    assert "session-2-input.wav" in out and " s " in out
    code, out, _ = run("export", "2", "--format", "wav", "--turn", "1", "-o", tmp_path / "t1", "--db", db)
    assert code == 0
    with wave.open(str(tmp_path / "t1-input.wav")) as w:
        assert (w.getframerate(), w.getnchannels(), w.getsampwidth()) == (24000, 1, 2)
    code, _, err = run("export", "2", "--format", "wav", "--db", db)
    assert code == 2 and "needs -o" in err
    code, _, err = run("export", "1", "--format", "wav", "-o", outdir, "--turn", "5", "--db", db)
    assert code == 1 and "no turn 5" in err
    code, _, err = run("export", "99", "--db", db)
    assert code == 1 and err.startswith("error: no session 99")


def test_export_wav_into_a_directory_not_made_yet(db: Path, tmp_path: Path, monkeypatch):
    # `-o exports/` in a fresh directory: the trailing / means a directory, created as needed
    # (pathlib would drop it and write ./exports-input.wav).
    run("import", FIXTURE_FILES[0], "--db", db)  # audio_in_server_vad_turn: session 2
    monkeypatch.chdir(tmp_path)
    code, out, err = run("export", "2", "--format", "wav", "-o", "exports/", "--db", db)
    assert code == 0, err
    assert sorted(p.name for p in (tmp_path / "exports").iterdir()) == ["session-2-input.wav", "session-2-output.wav"]
    assert not list(tmp_path.glob("exports-*.wav"))
    assert "exports/session-2-input.wav" in out
    code, _, err = run("export", "2", "--format", "wav", "--turn", "1", "-o", "deep/er/", "--db", db)
    assert code == 0, err
    assert sorted(p.name for p in (tmp_path / "deep" / "er").iterdir()) == [
        "session-2-turn-1-input.wav",
        "session-2-turn-1-output.wav",
    ]
    (tmp_path / "taken").write_text("a file")
    code, _, err = run("export", "2", "--format", "wav", "-o", "taken/sub/", "--db", db)
    assert code == 1 and err.startswith("error: cannot create directory taken/sub/"), err


def test_sessions_listing_survives_an_impossible_start_time_already_in_a_database(tmp_path: Path):
    # Written by an older version that did not check started_at: listing it must not crash.
    db = tmp_path / "old.db"
    with Store(db) as s:
        s.import_session([], started_at=1e20)
        s.import_session([], started_at=1_700_000_000.0)
    code, out, err = run("sessions", "--db", db)
    assert code == 0, err
    assert "1e+20" in out and "Traceback" not in out


def test_format_started_never_raises():
    from inspector.display import format_started

    assert format_started(0) != "?" and len(format_started(1_700_000_000.5)) == 19
    assert format_started(1e20) == "1e+20"
    assert format_started(-1e20) == "-1e+20"
    assert format_started(float("nan")) == format_started(float("inf")) == "?"
    assert format_started(10**400) == "?"


def _truncated_mid_line(tmp_path: Path, db: Path) -> Path:
    run("export", "1", "-o", tmp_path / "full.jsonl", "--db", db)
    data = (tmp_path / "full.jsonl").read_bytes()
    path = tmp_path / "truncated.jsonl"
    path.write_bytes(data[: len(data) * 2 // 3])
    return path


def _truncated_at_line_end(tmp_path: Path, db: Path) -> Path:
    run("export", "1", "-o", tmp_path / "full.jsonl", "--db", db)
    lines = (tmp_path / "full.jsonl").read_bytes().splitlines(keepends=True)
    path = tmp_path / "short.jsonl"
    path.write_bytes(b"".join(lines[:10]))
    return path


def _har_without_websockets(tmp_path: Path, db: Path) -> Path:
    har = chrome_har()
    har["log"]["entries"] = [e for e in har["log"]["entries"] if e["_resourceType"] != "websocket"]
    path = tmp_path / "page.har"
    path.write_text(json.dumps(har, indent=2))
    return path


def _binary_file(tmp_path: Path, db: Path) -> Path:
    path = tmp_path / "noise.jsonl"
    path.write_bytes(bytes(range(256)) * 16)
    return path


def _a_database(tmp_path: Path, db: Path) -> Path:
    return db  # a user passing the .db file itself


def _bad_binary_base64(tmp_path: Path, db: Path) -> Path:
    path = tmp_path / "b64.jsonl"
    header = {"format": "realtime-inspector/1", "session": {"started_at": 1.0}}
    frame = {"direction": "client", "t_ns": 5, "opcode": "binary", "base64": "!!not base64!!"}
    path.write_bytes(orjson.dumps(header) + b"\n" + orjson.dumps(frame) + b"\n")
    return path


def _impossible_started_at(tmp_path: Path, db: Path) -> Path:
    path = tmp_path / "future.jsonl"
    header = {"format": "realtime-inspector/1", "frames": 1, "session": {"started_at": 1e20}}
    frame = {"direction": "client", "t_ns": 0, "text": "{}"}
    path.write_bytes(orjson.dumps(header) + b"\n" + orjson.dumps(frame) + b"\n")
    return path


def _negative_ended_at(tmp_path: Path, db: Path) -> Path:
    path = tmp_path / "past.jsonl"
    header = {"format": "realtime-inspector/1", "frames": 0, "session": {"started_at": 1.0, "ended_at": -5}}
    path.write_bytes(orjson.dumps(header) + b"\n")
    return path


def _write_lines(path: Path, *lines: bytes) -> Path:
    path.write_bytes(b"\n".join(lines) + b"\n")
    return path


def _fixture_at_beyond_sqlite(tmp_path: Path, db: Path) -> Path:
    # round(9223372036.854775807 * 1e9) == 2**63: one more than SQLite's INTEGER holds
    return _write_lines(
        tmp_path / "late.jsonl",
        b'{"direction":"server","kind":"message","at":0,"data":{"type":"session.created"}}',
        b'{"direction":"client","kind":"message","at":9223372036.854775807,"data":{"type":"x"}}',
    )


def _fixture_at_negative(tmp_path: Path, db: Path) -> Path:
    return _write_lines(
        tmp_path / "early.jsonl",
        b'{"direction":"server","kind":"message","data":{"type":"session.created"}}',
        b'{"direction":"client","kind":"message","at":1.5,"data":{"type":"x"}}',
        b'{"direction":"client","kind":"message","at":-0.001,"data":{"type":"y"}}',
    )


def _har_before_1970(tmp_path: Path, db: Path) -> Path:
    har = chrome_har()
    for message in har["log"]["entries"][1]["_webSocketMessages"]:
        message["time"] -= 1732440001.0  # the first one at -0.2496: 1969
    path = tmp_path / "1969.har"
    path.write_text(json.dumps(har, indent=2))
    return path


@pytest.mark.parametrize(
    ("make", "where", "reason"),
    [
        (_truncated_mid_line, r":\d+: ", "truncated"),
        (_truncated_at_line_end, r":10: ", "the header promises 24 frames but the file holds 9"),
        (_har_without_websockets, ": ", "no WebSocket entries"),
        (_binary_file, ": ", "binary data"),
        (_a_database, ": ", "SQLite database"),
        (_bad_binary_base64, ":2: ", "valid base64"),
        (_impossible_started_at, ":1: ", "session field 'started_at' must be unix seconds"),
        (_negative_ended_at, ":1: ", "session field 'ended_at' must be unix seconds"),
        (_fixture_at_beyond_sqlite, ":2: ", "'at' must be a non-negative number of seconds"),
        (_fixture_at_negative, ":3: ", "'at' must be a non-negative number of seconds"),
        (_har_before_1970, r":log\.entries\[1\]\._webSocketMessages\[0\]\.time: ", "must be unix seconds from 0"),
    ],
    ids=[
        "truncated-jsonl",
        "jsonl-cut-at-a-line",
        "har-without-websockets",
        "binary-file",
        "a-db-file",
        "bad-base64",
        "started-at-1e20",
        "negative-ended-at",
        "fixture-at-2**63-ns",
        "fixture-at-negative",
        "har-before-1970",
    ],
)
def test_bad_input_is_refused_with_file_line_and_reason_and_the_database_is_unchanged(
    make, where, reason, db: Path, tmp_path: Path
):
    import re

    bad = make(tmp_path, db)
    good = FIXTURE_FILES[1]
    before = snapshot(db)
    code, out, err = run("import", good, bad, "--db", db)  # the good file first: it must not stick
    assert code == 1 and out == ""
    assert re.match(rf"error: {re.escape(str(bad))}{where}", err), err
    assert reason in err and "nothing imported" in err and "Traceback" not in err
    assert snapshot(db) == before


def test_a_failed_import_into_a_new_database_leaves_no_file(tmp_path: Path):
    bad = _binary_file(tmp_path, tmp_path)
    db = tmp_path / "new" / "fresh.db"
    code, _, err = run("import", bad, "--db", db)
    assert code == 1 and "binary data" in err
    assert not db.exists() and not list(db.parent.glob("fresh.db*"))


def test_large_imports_report_progress_on_stderr(db: Path, tmp_path: Path, monkeypatch):
    import inspector.formats.cli as formats_cli
    import inspector.formats.detect as detect

    monkeypatch.setattr(formats_cli, "PROGRESS_MIN_BYTES", 1000)
    monkeypatch.setattr(detect, "_PROGRESS_EVERY", 50)
    code, out, err = run("import", FIXTURE_FILES[1], "--db", db)
    assert code == 0
    assert "importing" in err and "100% of" in err and out.startswith("session 2:")


def test_samples_import(tmp_path: Path):
    samples = sorted(SAMPLES.glob("*.jsonl"))
    assert len(samples) >= 6
    assert sum(p.stat().st_size for p in SAMPLES.iterdir()) < 1_000_000
    assert not list(SAMPLES.glob("*.db*"))
    code, out, err = run("import", *samples, "--db", tmp_path / "samples.db")
    assert code == 0, err
    assert len(out.splitlines()) == len(samples)
    with Store(tmp_path / "samples.db") as s:
        assert {info.source for info in s.sessions()} == {"import"}
        assert any(info.label and "demo" in info.label for info in s.sessions())


def test_import_of_a_missing_file_or_a_directory_is_a_one_line_error_before_anything_is_imported(
    db: Path, tmp_path: Path
):
    for bad, reason in ((tmp_path / "nope.jsonl", "no such file"), (tmp_path, "is a directory")):
        code, out, err = run("import", bad, "--db", tmp_path / "x.db")
        assert (code, err) == (1, f"error: {bad}: {reason}\n")
        assert not os.path.exists(tmp_path / "x.db")
        before = snapshot(db)
        code, out, err = run("import", FIXTURE_FILES[1], bad, "--db", db)  # the good file first
        assert (code, out, err) == (1, "", f"error: {bad}: {reason}\n")
        assert snapshot(db) == before


def test_export_into_a_directory_writes_session_n_and_never_over_the_database(db: Path, tmp_path: Path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    code, _, err = run("export", "1", "-o", "newdir/", "--db", db)
    assert code == 0, err
    assert not (tmp_path / "newdir").is_file() and "newdir/session-1.jsonl" in err
    code, _, err = run("export", "1", "--format", "har", "-o", "newdir", "--db", db)  # exists now
    assert code == 0, err
    assert sorted(p.name for p in (tmp_path / "newdir").iterdir()) == ["session-1.har", "session-1.jsonl"]
    code, out, _ = run("import", "newdir/session-1.jsonl", "newdir/session-1.har", "--db", db)
    assert code == 0 and out.count("session ") == 2
    (tmp_path / "taken").write_text("a file")
    code, _, err = run("export", "1", "-o", "taken/", "--db", db)
    assert code == 1 and err.startswith("error: cannot create directory taken/"), err

    # Content, not bytes: the refused exports leave their connection to the checkpoint.
    before = snapshot(db)[1]
    os.symlink(db, tmp_path / "link.db")
    for target in (db, os.path.relpath(db), f"{db}-wal", f"{db}-shm", tmp_path / "link.db"):
        for fmt in ("jsonl", "har"):
            code, _, err = run("export", "1", "--format", fmt, "-o", target, "--db", db)
            assert code == 1 and "it is the database itself" in err and "Traceback" not in err, (target, err)
    assert snapshot(db)[1] == before
    assert not list(tmp_path.glob("*.partial"))


def test_the_build_requirement_can_read_the_spdx_license_string():
    # (Here for want of a packaging test file.) `license = "MIT"`, a PEP 639 SPDX expression, is
    # read by setuptools 77 and later; older ones refuse the table-less form.
    import re
    import tomllib

    pyproject = tomllib.loads((Path(__file__).resolve().parents[1] / "pyproject.toml").read_text())
    assert isinstance(pyproject["project"]["license"], str)
    (setuptools,) = [r for r in pyproject["build-system"]["requires"] if r.startswith("setuptools")]
    minimum = re.fullmatch(r"setuptools>=(\d+)(?:\.\d+)*", setuptools)
    assert minimum and int(minimum[1]) >= 77, setuptools


def test_offsets_stay_within_ten_characters():
    from inspector.display import format_offset

    assert format_offset(1_234_500_000) == "+1234.5ms"
    assert format_offset(99_999_900_000) == "+99999.9ms"
    assert format_offset(1_000_123_000_000) == "+16:40.123"
    assert format_offset(10_000_900_000_000) == "+2:46:40"
    assert format_offset(119_999_600_000) == "+2:00.000"  # rounded before the split, never ":60"
    assert format_offset(3_599_999_800_000) == "+1:00:00"
    for t_ns in (0, 5 * 10**9, 10**11, 59 * 60 * 10**9, 99 * 3600 * 10**9):
        assert len(format_offset(t_ns)) <= 10, t_ns
