"""The pytest plugin, as a user's test suite meets it: each test writes a test module into a
`pytester` directory and runs pytest on it. Everything talks to 127.0.0.1 only."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
from conftest import mock_in_a_thread

from inspector.pytest_plugin.harness import Cassette, RealtimeServer

pytest_plugins = ["pytester"]

# What the tests inside pytester import: a small sync client (raw websockets) for one text turn.
CLIENT = '''
import json
from websockets.sync.client import connect

def user_text(text):
    return {"type": "conversation.item.create",
            "item": {"type": "message", "role": "user", "content": [{"type": "input_text", "text": text}]}}

def talk(url, text, *, respond=True, headers=None):
    """Send one user message (and response.create); return the server events received."""
    events = []
    with connect(url, additional_headers=headers or {}) as ws:
        events.append(json.loads(ws.recv(timeout=5)))
        ws.send(json.dumps(user_text(text)))
        if not respond:
            return events
        ws.send(json.dumps({"type": "response.create"}))
        while events[-1]["type"] != "response.done":
            events.append(json.loads(ws.recv(timeout=5)))
    return events

def answer(events):
    """What the assistant said: its text, or its audio's transcript."""
    done = ("response.output_text.done", "response.output_audio_transcript.done")
    return [e.get("text") or e.get("transcript") for e in events if e["type"] in done]
'''

PLANTED_KEY = "sk-proj-PLANTEDpl0123"


@pytest.fixture(scope="module")
def greeting_cassette(tmp_path_factory) -> bytes:
    """A cassette of one text turn ("Hello" → the scripted answer), recorded by the plugin's own
    harness through its tap from a mock standing in for the API."""
    import json

    from websockets.sync.client import connect

    path = tmp_path_factory.mktemp("cassette") / "greeting.jsonl"
    with mock_in_a_thread(seed=1, script=None) as upstream:
        server = RealtimeServer(
            tmp_path_factory.mktemp("db") / "s.db", mode="record", cassette=Cassette(path, upstream=upstream)
        ).start()
        try:
            with connect(server.url()) as ws:
                ws.recv(timeout=5)
                item = {"type": "message", "role": "user", "content": [{"type": "input_text", "text": "Hello"}]}
                ws.send(json.dumps({"type": "conversation.item.create", "item": item}))
                ws.send(json.dumps({"type": "response.create"}))
                while json.loads(ws.recv(timeout=5))["type"] != "response.done":
                    pass
            server.write_cassette()
        finally:
            server.stop()
    return path.read_bytes()


def quiet(pytester: pytest.Pytester) -> None:
    # Textual's snapshot plugin keeps its report directory in an environment variable that a
    # nested run replaces and deletes: keep it (and the cache) out of the inner runs.
    pytester.makeini(
        "[pytest]\naddopts = -p no:textual-snapshot -p no:cacheprovider\nasyncio_default_fixture_loop_scope = function\n"
    )


@pytest.fixture
def project(pytester: pytest.Pytester, greeting_cassette: bytes) -> pytest.Pytester:
    """A user's project: the client helper and cassettes/greeting.jsonl."""
    quiet(pytester)
    pytester.makepyfile(realtime_client=CLIENT)
    pytester.syspathinsert()
    (pytester.path / "cassettes").mkdir()
    (pytester.path / "cassettes" / "greeting.jsonl").write_bytes(greeting_cassette)
    return pytester


REPLAY_TEST = """
import pytest
from realtime_client import answer, talk

@pytest.mark.realtime_cassette("cassettes/greeting.jsonl")
def test_greeting(realtime_server):
    events = talk(realtime_server.url(), {text!r})
    assert answer(events) == ["This is a mock response from the offline Realtime server."]
    assert realtime_server.types("client") == ["conversation.item.create", "response.create"]
"""


def test_a_cassette_replays_and_the_test_passes(project):
    project.makepyfile(REPLAY_TEST.format(text="Hello"))
    result = project.runpytest_inprocess()
    result.assert_outcomes(passed=1)


def test_a_client_that_sends_different_text_fails_naming_the_field_and_both_events(project):
    project.makepyfile(REPLAY_TEST.format(text="Goodbye"))
    result = project.runpytest_inprocess()
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(
        [
            '*realtime cassette cassettes/greeting.jsonl (match="content"): client event 1 differs from the cassette*',
            '*expected: {"type": "conversation.item.create"*"Hello"*',
            '*actual:   {"type": "conversation.item.create"*"Goodbye"*',
            "*$.item.content[[]0].text: 'Hello' → 'Goodbye'",  # [[] is a literal [ in fnmatch
            "*--realtime-record-mode=all*",
        ]
    )


def test_match_types_lets_different_text_through(project):
    project.makepyfile(REPLAY_TEST.format(text="Goodbye").replace('.jsonl")', '.jsonl", match="types")'))
    project.runpytest_inprocess().assert_outcomes(passed=1)


def test_a_client_that_stops_early_fails_on_the_unconsumed_events(project):
    project.makepyfile(
        """
        import pytest
        from realtime_client import talk

        @pytest.mark.realtime_cassette("cassettes/greeting.jsonl")
        def test_greeting(realtime_server):
            talk(realtime_server.url(), "Hello", respond=False)

        @pytest.mark.realtime_cassette("cassettes/greeting.jsonl", match="off")
        def test_unchecked(realtime_server):
            talk(realtime_server.url(), "Hello", respond=False)
        """
    )
    result = project.runpytest_inprocess()
    result.assert_outcomes(failed=1, passed=1)
    result.stdout.fnmatch_lines(
        [
            "*client sent 1 of the cassette's 2 client events; the next one was",
            '*expected: {"type": "response.create"}*',
        ]
    )


def test_a_missing_cassette_in_none_mode_errors_with_how_to_record_it(project):
    project.makepyfile(
        """
        import pytest

        @pytest.mark.realtime_cassette
        def test_new(realtime_server):
            pass
        """
    )
    result = project.runpytest_inprocess()
    result.assert_outcomes(errors=1)
    result.stdout.fnmatch_lines(
        [
            "*no cassette at cassettes/test_a_missing_cassette_in_none_mode_errors_with_how_to_record_it/test_new.jsonl:"
            " record it once with `pytest --realtime-record-mode=once test_a_missing*.py::test_new`*"
        ]
    )


SDK_TEST = """
import pytest
from openai import AsyncOpenAI

@pytest.mark.asyncio
@pytest.mark.realtime_cassette("cassettes/sdk.jsonl")
async def test_agent_answers(realtime_server):
    client = AsyncOpenAI(api_key="{key}", websocket_base_url=realtime_server.base_url)
    async with client.realtime.connect(model="gpt-realtime") as conn:
        await conn.session.update(session={{"type": "realtime", "output_modalities": ["text"]}})
        await conn.conversation.item.create(
            item={{"type": "message", "role": "user", "content": [{{"type": "input_text", "text": "Hi"}}]}}
        )
        await conn.response.create()
        async for event in conn:
            if event.type == "response.output_text.done":
                text = event.text
            if event.type == "response.done":
                break
    assert text == "This is a mock response from the offline Realtime server."
    assert realtime_server.types("client") == ["session.update", "conversation.item.create", "response.create"]
    assert realtime_server.session().model == "gpt-realtime"
"""


def test_once_records_through_the_tap_and_the_cassette_then_replays_without_the_upstream(project):
    project.makepyfile(SDK_TEST.format(key=PLANTED_KEY))
    cassette = project.path / "cassettes" / "sdk.jsonl"
    with mock_in_a_thread(seed=3) as upstream:
        recorded = project.runpytest_inprocess("--realtime-record-mode=once", f"--realtime-upstream={upstream}")
    recorded.assert_outcomes(passed=1)
    assert cassette.exists()
    text = cassette.read_text()
    assert '"format":"realtime-inspector/1"' in text.splitlines()[0]
    assert PLANTED_KEY not in text and "PLANTED" not in text
    written = cassette.stat().st_mtime_ns
    # The upstream is gone: the default mode (none) replays the cassette and touches nothing else.
    project.runpytest_inprocess().assert_outcomes(passed=1)
    # `once` leaves an existing cassette alone.
    project.runpytest_inprocess("--realtime-record-mode=once").assert_outcomes(passed=1)
    assert cassette.stat().st_mtime_ns == written


def test_all_rerecords_and_a_planted_key_never_reaches_the_cassette(project):
    project.makepyfile(
        f"""
        import pytest
        from realtime_client import talk

        @pytest.mark.realtime_cassette("cassettes/greeting.jsonl")
        def test_greeting(realtime_server):
            talk(realtime_server.url(), "Hello again",
                 headers={{"Authorization": "Bearer {PLANTED_KEY}", "api-key": "azurePLANTEDkey0123456789"}})
        """
    )
    cassette = project.path / "cassettes" / "greeting.jsonl"
    before = cassette.read_text()
    with mock_in_a_thread(seed=4) as upstream:
        result = project.runpytest_inprocess("--realtime-record-mode=all", f"--realtime-upstream={upstream}")
    result.assert_outcomes(passed=1)
    after = cassette.read_text()
    assert after != before and "Hello again" in after
    assert "PLANTED" not in after
    assert "[REDACTED]" in after


def test_a_failing_test_does_not_write_its_cassette(project):
    project.makepyfile(
        """
        import pytest
        from realtime_client import talk

        @pytest.mark.realtime_cassette("cassettes/new.jsonl")
        def test_new(realtime_server):
            talk(realtime_server.url(), "Hello")
            assert False, "the agent got it wrong"
        """
    )
    with mock_in_a_thread() as upstream:
        result = project.runpytest_inprocess("--realtime-record-mode=once", f"--realtime-upstream={upstream}")
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(["*cassette not written: the test failed*"])
    assert not (project.path / "cassettes" / "new.jsonl").exists()


def test_without_a_marker_the_scripted_mock_answers_seeded_per_test(project):
    project.makepyfile(
        """
        import pytest
        from realtime_client import answer, talk

        def test_default(realtime_server, request):
            events = talk(realtime_server.url(), "Hello")
            assert answer(events) == ["This is a mock response from the offline Realtime server."]
            assert realtime_server.session().source == "tap"
            assert [e.type for e in realtime_server.events("server")][:1] == ["session.created"]
            print("ids:", events[0]["session"]["id"], events[-1]["response"]["id"])

        @pytest.mark.realtime_mock(script="say Bonjour")
        def test_scripted(realtime_server):
            assert answer(talk(realtime_server.url(), "Hello")) == ["Bonjour"]
        """
    )
    first = project.runpytest_inprocess("-s")
    first.assert_outcomes(passed=2)
    second = project.runpytest_inprocess("-s")
    ids = [line for line in first.outlines if line.startswith("ids:") or "ids:" in line]
    assert ids and ids == [line for line in second.outlines if "ids:" in line]


def test_two_test_runs_at_once_get_their_own_ports_and_databases(project):
    """Two pytest processes (as pytest-xdist workers are), each test holding its connection open
    until the other has connected too: each sees only its own session."""
    (project.path / "cassettes").rename(project.path / "unused")  # only test_parallel.py is collected
    for path in project.path.glob("test_*.py"):
        path.unlink()
    project.makepyfile(
        test_parallel="""
        import json, os, time
        from pathlib import Path
        from websockets.sync.client import connect
        from realtime_client import user_text

        def test_one(realtime_server):
            me = os.environ["WHO"]
            rendezvous = Path(os.environ["RENDEZVOUS"])
            with connect(realtime_server.url()) as ws:
                ws.recv(timeout=5)
                ws.send(json.dumps(user_text(me)))
                (rendezvous / me).write_text(str(realtime_server.port))
                deadline = time.monotonic() + 20
                while len(list(rendezvous.iterdir())) < 2 and time.monotonic() < deadline:
                    time.sleep(0.01)
                assert len(list(rendezvous.iterdir())) == 2
            sent = [e.frame for e in realtime_server.events("client")]
            assert len(sent) == 1 and me in sent[0]
            assert len(realtime_server.sessions()) == 1
        """
    )
    rendezvous = project.path / "rendezvous"
    rendezvous.mkdir()
    runs = {
        who: subprocess.Popen(
            [sys.executable, "-m", "pytest", f"--basetemp={project.path / who}", "-q"],
            cwd=project.path,
            env={**os.environ, "WHO": who, "RENDEZVOUS": str(rendezvous)},
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        for who in ("alpha", "beta")
    }
    for who, run in runs.items():
        output, _ = run.communicate(timeout=90)
        assert run.returncode == 0, f"{who}:\n{output}"
        assert "1 passed" in output
    ports = {(rendezvous / who).read_text() for who in ("alpha", "beta")}
    assert len(ports) == 2


def test_realtime_db_records_every_tests_session_into_one_postgresql_database(project, pg_url):
    from inspector.store import open_store

    project.makepyfile(
        """
        from realtime_client import answer, talk

        def test_one(realtime_server):
            talk(realtime_server.url(model="model-one"), "Hello")
            assert realtime_server.session().model == "model-one"

        def test_two(realtime_server):
            talk(realtime_server.url(model="model-two"), "Hi")
            assert realtime_server.types("client") == ["conversation.item.create", "response.create"]
            assert realtime_server.session().model == "model-two"
        """
    )
    project.runpytest_inprocess("--realtime-db", pg_url).assert_outcomes(passed=2)
    with open_store(pg_url, create=False) as store:
        sessions = store.sessions()
        assert sorted((s.model, s.client_events) for s in sessions) == [("model-one", 2), ("model-two", 2)]
        assert all(s.server_events > 2 and s.status == "closed" for s in sessions)
    result = project.runpytest_inprocess("--realtime-db", "postgresql://nobody:pw@127.0.0.1:1/none")
    result.assert_outcomes(errors=2)
    result.stdout.fnmatch_lines(["*realtime_server: cannot connect to postgresql://nobody@127.0.0.1:1/none: *"])
    assert ":pw@" not in result.stdout.str()


def test_the_plugin_stays_out_of_tests_that_do_not_use_it(pytester):
    quiet(pytester)
    pytester.makepyfile("def test_plain():\n    assert True\n")
    began = time.perf_counter()
    result = pytester.runpytest_inprocess("--realtime-record-mode=all")
    result.assert_outcomes(passed=1)
    assert time.perf_counter() - began < 5
    assert not list(Path(pytester.path).rglob("*.db"))


# -- the pure parts: a cassette session and the event matcher, without sockets -----------------


def test_a_cassette_session_numbers_server_ids_alike_on_both_sides_and_reports_each_divergence():
    import json

    from inspector.mock.cassette import CassetteSession
    from inspector.mock.playback import Recorded

    call = (
        '{"type": "response.function_call_arguments.done", "call_id": "call_AAAAAAAAAAAAAAAA", "event_id": "event_1"}'
    )

    def output(call_id: str, text: str) -> str:
        item = {"type": "function_call_output", "call_id": call_id, "output": text}
        return json.dumps({"type": "conversation.item.create", "item": item, "event_id": "mine_1"})

    recording = [
        Recorded("server", 0.0, call),
        Recorded("client", 0.1, output("call_AAAAAAAAAAAAAAAA", "sunny")),
        Recorded("client", 0.2, '{"type": "response.create"}'),
    ]
    session = CassetteSession(recording)
    session.connect(0.0)
    assert session.pop_due(0.0) == [call]
    # The client echoes the call id it got, with an event id of its own: no divergence.
    session.receive(output("call_AAAAAAAAAAAAAAAA", "sunny"), 1.0)
    assert session.divergences == [] and session.unconsumed == 1
    session.receive('{"type": "response.cancel"}', 2.0)
    session.receive('{"type": "response.create"}', 3.0)
    first, extra = session.divergences
    assert first.index == 2 and [(f.path, f.a, f.b) for f in first.fields] == [
        ("$.type", "response.create", "response.cancel")
    ]
    assert extra.expected is None and "one more than the cassette holds" in extra.describe()
    assert session.unconsumed == 0


def test_the_matcher_in_types_mode_compares_ga_names_only():
    from inspector.diff.event_match import EventMatcher

    matcher = EventMatcher("types")
    assert (
        matcher.compare('{"type": "response.text.delta", "delta": "a"}', '{"type": "response.output_text.delta"}') == []
    )
    (diff,) = matcher.compare('{"type": "response.create"}', "not json")
    assert (diff.path, diff.a, diff.b) == ("$.type", "response.create", None)
