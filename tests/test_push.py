"""`inspector push`: finished sessions from a local SQLite file to a central store (a real
PostgreSQL server, or another SQLite file), idempotent by uid, one transaction per session."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import pytest
from click.testing import CliRunner
from conftest import FIXTURES

from inspector.cli import main
from inspector.protocol import Direction
from inspector.store import FrameIn, SessionStatus, open_store

AUDIO = "QUJD" * 300  # base64 audio: stored apart, must come back byte for byte


def push(*args: object) -> tuple[int, str, str]:
    result = CliRunner().invoke(main, ["push", *[str(a) for a in args]])
    return result.exit_code, result.stdout, result.stderr


def local_db(path: Path) -> dict[str, int]:
    """A local file with an imported fixture, a closed session with every field set, a replay of
    it, an old one, and one still being recorded."""
    assert (
        CliRunner().invoke(main, ["import", str(FIXTURES / "tool_call_round.jsonl"), "--db", str(path)]).exit_code == 0
    )
    now = time.time()
    with open_store(path) as store:
        full = store.import_session(
            [
                FrameIn(Direction.CLIENT, 5, '{"type":"session.update"}'),
                FrameIn(Direction.SERVER, 9_000, f'{{"type":"response.output_audio.delta","delta":"{AUDIO}"}}'),
                FrameIn(Direction.SERVER, 12_000, '{"type":"error","error":{"message":"x"}}'),
                FrameIn(Direction.CLIENT, 15_000, b"\x00\xffbinary"),
            ],
            source="tap",
            host="laptop-7",
            status=SessionStatus.INTERRUPTED,
            started_at=now - 60,
            ended_at=now - 50,
            target_url="wss://api.example/v1/realtime?model=m",
            path="/v1/realtime",
            query="model=m",
            model="m",
            client_addr="127.0.0.1:5000",
            user_agent="agent/1",
            subprotocol="realtime",
            offered_subprotocols=["realtime"],
            request_headers=[["Host", "api.example"]],
            close_code=1011,
            close_reason="gone",
            close_side="server",
            error="upstream went away",
            label="keep me",
            unrecorded_frames=3,
        )
        replay = store.import_session(
            [FrameIn(Direction.CLIENT, 0, '{"type":"a"}')], source="replay", replay_of=full, started_at=now - 40
        )
        old = store.import_session([FrameIn(Direction.CLIENT, 0, '{"type":"a"}')], started_at=now - 3 * 86400)
        open_ = store.create_session(source="tap", started_at=now - 30)
        store.append_events(open_, [FrameIn(Direction.CLIENT, 0, '{"type":"a"}')])
    return {"full": full, "replay": replay, "old": old, "open": open_}


@pytest.mark.parametrize("target_kind", ["postgres", "sqlite"])
def test_push_ships_finished_sessions_whole_and_pushing_twice_duplicates_nothing(target_kind, tmp_path, request):
    target = request.getfixturevalue("pg_url") if target_kind == "postgres" else str(tmp_path / "central.db")
    local = tmp_path / "local.db"
    ids = local_db(local)
    code, out, err = push("--to", target, "--db", local)
    assert code == 0, err
    assert out.strip() == "pushed 4 sessions (56 events), skipped 0 already there, failed 0, 1 still open, not pushed"
    with open_store(local, create=False) as here, open_store(target, create=False) as there:
        mine = {s.uid: s for s in here.sessions()}
        theirs = {s.uid: s for s in there.sessions()}
        assert set(theirs) == set(mine) - {here.session(ids["open"]).uid}
        for uid, copy in theirs.items():
            original = mine[uid]
            if original.replay_of is not None:  # a local number: the target's own copy's instead
                assert copy.replay_of == theirs[here.session(original.replay_of).uid].id
            differs = {k for k, v in original.to_dict().items() if copy.to_dict()[k] != v}
            assert differs <= {"id", "replay_of"}, differs
            frames = [(e.direction, e.t_ns, e.opcode, e.frame) for e in here.events(original.id, with_frames=True)]
            assert [(e.direction, e.t_ns, e.opcode, e.frame) for e in there.events(copy.id, with_frames=True)] == frames
    code, out, _ = push("--to", target, "--db", local)
    assert (code, out.split(", ")[:3]) == (0, ["pushed 0 sessions (0 events)", "skipped 4 already there", "failed 0"])
    with open_store(target, create=False) as there:
        assert len(there.sessions()) == 4


def test_since_pushes_only_recent_sessions_and_delete_after_removes_only_confirmed_ones(pg_url, tmp_path):
    local = tmp_path / "local.db"
    ids = local_db(local)
    code, out, _ = push("--to", pg_url, "--db", local, "--since", "2h", "--delete-after")
    assert code == 0 and out.startswith("pushed 3 sessions") and out.rstrip().endswith("deleted 3 local"), out
    with open_store(local, create=False) as here:
        assert sorted(s.id for s in here.sessions()) == sorted([ids["old"], ids["open"]])
    code, out, _ = push("--to", pg_url, "--db", local, "--since", "4d")
    assert code == 0 and out.startswith("pushed 1 session ("), out
    with open_store(pg_url, create=False) as there:
        assert len(there.sessions()) == 4


def test_a_session_already_on_the_target_is_deleted_only_when_it_is_whole_there(pg_url, tmp_path):
    local = tmp_path / "local.db"
    with open_store(local) as here:
        sid = here.import_session([FrameIn(Direction.CLIENT, 0, '{"type":"a"}')] * 3)
        uid = here.session(sid).uid
    with open_store(pg_url) as there:  # the same uid with fewer events: not a copy to trust
        there.import_session([FrameIn(Direction.CLIENT, 0, '{"type":"a"}')], uid=uid)
    code, out, _ = push("--to", pg_url, "--db", local, "--delete-after")
    assert code == 0 and "skipped 1" in out and "deleted" not in out
    with open_store(local, create=False) as here:
        assert here.session(sid).uid == uid


def test_push_errors_are_one_line(pg_url, tmp_path):
    local = tmp_path / "local.db"
    local_db(local)
    code, _, err = push("--to", "postgresql://nobody@127.0.0.1:1/none", "--db", local)
    assert code == 1 and err.startswith("error: cannot connect to postgresql://nobody@127.0.0.1:1/none")
    assert len(err.strip().splitlines()) == 1
    code, _, err = push("--to", pg_url, "--db", tmp_path / "missing.db")
    assert code == 1 and err.startswith("error: no database at") and len(err.strip().splitlines()) == 1
    code, _, err = push("--to", local, "--db", local)
    assert code == 1 and "same database" in err
    code, _, err = push("--to", pg_url, "--db", local, "--since", "yesterday")
    assert code == 2 and "'yesterday' is not a duration" in err
    script = "import sys; sys.modules['psycopg'] = None\nfrom inspector.cli import main\nmain()"
    out = subprocess.run(
        [sys.executable, "-c", script, "push", "--to", pg_url, "--db", str(local)], capture_output=True, text=True
    )
    assert out.returncode == 1
    assert out.stderr.strip() == "error: PostgreSQL needs psycopg: pip install 'realtime-inspector[postgres]'"


def test_progress_goes_to_stderr_and_the_summary_to_stdout(pg_url, tmp_path, monkeypatch):
    import inspector.push

    monkeypatch.setattr(inspector.push, "PROGRESS_EVERY", 0.0)
    local = tmp_path / "local.db"
    local_db(local)
    code, out, err = push("--to", pg_url, "--db", local)
    assert code == 0 and out.count("\n") == 1 and out.startswith("pushed 4 sessions")
    assert err.splitlines()[-1].startswith("push: 4/4 sessions (4 pushed, 0 skipped, 0 failed; 56 events")


def test_a_server_gone_mid_push_fails_a_few_sessions_then_gives_up_and_the_next_push_goes_on(tmp_path):
    import pg_server as pg

    from inspector.push import GIVE_UP_AFTER, push_sessions

    local = tmp_path / "local.db"
    with open_store(local) as here:
        for _ in range(8):
            here.import_session([FrameIn(Direction.CLIENT, 0, '{"type":"a"}')])
    with pg.own_server_for_test() as (url, directory):
        with open_store(local, create=False) as here, open_store(url) as there:

            def stop_after_two(result, total):
                if result.pushed == 2:
                    pg.stop(directory)  # the server goes away for good

            result = push_sessions(here, there, progress=stop_after_two, delete_after=True)
        assert (result.pushed, result.failed, result.not_tried) == (2, GIVE_UP_AFTER, 8 - 2 - GIVE_UP_AFTER)
        assert result.deleted == 2 and all("lost the connection" in e or "cannot connect" in e for e in result.errors)
        assert "gave up after 3 failures in a row, 3 not tried" in result.summary()
    with open_store(local, create=False) as here:
        assert len(here.sessions()) == 6  # nothing lost: the next push sends them
