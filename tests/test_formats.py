"""JSON Lines and HAR import/export on real SQLite files: exact round trips, Chrome's HAR shape,
HAR 1.2 structure, and secrets that never reach the database file."""

from __future__ import annotations

import base64
import copy
import io
import json
from pathlib import Path

import orjson
import pytest
from conftest import FIXTURES

from inspector.formats import FormatError, detect_format, import_files
from inspector.formats.har import export_har
from inspector.formats.jsonl import export_jsonl
from inspector.protocol import Direction, Opcode
from inspector.store import FrameIn, Store

FIXTURE_FILES = sorted(FIXTURES.glob("*.jsonl"))


# -- helpers shared by the format tests (imported by test_formats_cli.py too) -------------------


def frames_of(store: Store, session_id: int) -> list[tuple[Direction, int, Opcode, str | bytes]]:
    return [(e.direction, e.t_ns, e.opcode, e.frame) for e in store.events(session_id, with_frames=True)]


def metadata(store: Store, session_id: int) -> dict:
    """Everything about a session but its ids and where it came from (imported again into the
    same database, a session is a copy with a uid of its own)."""
    info = store.session(session_id).to_dict()
    for name in ("id", "uid", "source"):
        info.pop(name)
    return info


def export_bytes(store: Store, session_id: int, fmt: str = "jsonl") -> bytes:
    out = io.BytesIO()
    if fmt == "har":
        export_har(store, [session_id], out)
    else:
        export_jsonl(store, session_id, out)
    return out.getvalue()


def write(path: Path, data: bytes | str) -> Path:
    path.write_bytes(data.encode() if isinstance(data, str) else data)
    return path


@pytest.fixture
def store(tmp_path: Path):
    with Store(tmp_path / "formats.db") as s:
        yield s


# -- JSON Lines ---------------------------------------------------------------------------------


@pytest.mark.parametrize("fixture", FIXTURE_FILES, ids=lambda p: p.stem)
def test_fixture_imports_exports_and_reimports_with_identical_frames_and_timings(
    fixture: Path, store: Store, tmp_path: Path
):
    assert len(FIXTURE_FILES) == 5
    lines = [orjson.loads(line) for line in fixture.read_bytes().splitlines()]
    assert detect_format(fixture) == "fixture"
    (first,) = import_files(store, [fixture])
    got = frames_of(store, first.session_id)
    # Every message line became one frame, in order, with its direction and exact JSON.
    messages = [line for line in lines if line["kind"] == "message"]
    assert [(d, op, f) for d, _, op, f in got] == [
        (Direction(m["direction"]), Opcode.TEXT, orjson.dumps(m["data"]).decode()) for m in messages
    ]
    assert store.session(first.session_id).model == "gpt-realtime"

    exported = write(tmp_path / "export.jsonl", export_bytes(store, first.session_id))
    assert detect_format(exported) == "jsonl"
    (second,) = import_files(store, [exported])
    assert frames_of(store, second.session_id) == got
    assert metadata(store, second.session_id) == metadata(store, first.session_id)
    # And a second export is the same file, byte for byte, but for the copy's own uid.
    uids = store.session(first.session_id).uid.encode(), store.session(second.session_id).uid.encode()
    assert export_bytes(store, second.session_id) == exported.read_bytes().replace(*uids)


def test_interchange_round_trip_keeps_binary_spacing_unicode_nanoseconds_and_close(store: Store, tmp_path: Path):
    frames = [
        FrameIn(Direction.SERVER, 0, '{"type":"session.created","session":{"id":"sess_1"}}'),
        FrameIn(Direction.CLIENT, 1_234_567, '{ "type" : "response.create" ,"x":[1, 2,3]}'),
        FrameIn(Direction.SERVER, 1_234_568, '{"type":"note","text":"héllo ✓ 日本 \\u00e9 \\n"}'),
        FrameIn(Direction.CLIENT, 2_000_000_001, b"\x00\xff\xfe binary \x80"),
        FrameIn(Direction.CLIENT, 2_000_000_002, "not json at all {"),
        FrameIn(Direction.SERVER, 2_000_000_002, '{"type":"response.output_audio.delta","delta":"AAEC/w=="}'),
    ]
    original = store.import_session(
        frames,
        source="tap",
        started_at=1_732_440_000.123456,
        ended_at=1_732_440_002.5,
        target_url="wss://api.openai.com/v1/realtime?model=gpt-realtime",
        path="/v1/realtime",
        query="model=gpt-realtime",
        model="gpt-realtime",
        client_addr="127.0.0.1:5000",
        user_agent="AsyncOpenAI/Python 3.57",
        offered_subprotocols=["realtime"],
        subprotocol="realtime",
        request_headers=[["Host", "api.openai.com"], ["User-Agent", "AsyncOpenAI/Python 3.57"]],
        close_code=4000,
        close_reason="bye ✓",
        close_side="server",
        label="odd frames",
    )
    exported = write(tmp_path / "odd.jsonl", export_bytes(store, original))
    last = orjson.loads(exported.read_bytes().splitlines()[-1])
    assert last == {"close": {"code": 4000, "reason": "bye ✓", "side": "server"}}
    (copy_,) = import_files(store, [exported])
    assert frames_of(store, copy_.session_id) == frames_of(store, original)
    assert metadata(store, copy_.session_id) == metadata(store, original)
    assert store.session(copy_.session_id).source == "import"
    assert frames_of(store, original)[3][3] == b"\x00\xff\xfe binary \x80"


def test_fixture_lines_without_at_keep_the_previous_time_and_close_lines_set_close_fields(store: Store, tmp_path: Path):
    lines = [
        {"direction": "server", "kind": "message", "data": {"type": "session.created"}},
        {"direction": "client", "kind": "message", "at": 0.5, "data": {"type": "response.create"}},
        {"direction": "server", "kind": "message", "data": {"type": "response.created"}},
        {"direction": "server", "kind": "message", "at": 1.25, "data": {"type": "response.done"}},
        {"direction": "server", "kind": "close", "at": 2.0, "data": {"code": 1001, "reason": "going away"}},
    ]
    path = write(tmp_path / "timed.jsonl", "\n".join(json.dumps(line) for line in lines) + "\n")
    (imp,) = import_files(store, [path])
    assert [t for _, t, _, _ in frames_of(store, imp.session_id)] == [0, 500_000_000, 500_000_000, 1_250_000_000]
    info = store.session(imp.session_id)
    assert (info.close_code, info.close_reason, info.close_side) == (1001, "going away", "server")
    assert info.ended_at == pytest.approx(info.started_at + 2.0)
    assert info.label == "timed"


# -- HAR ----------------------------------------------------------------------------------------

SECRET_SUBPROTOCOL_KEY = "AzureStyleKey0123456789abcdefXYZ"  # not shaped like sk-: only its place says it is secret
SECRET_QUERY_KEY = "QueryKeyabcdef9876543210"
SECRET_SK = "sk-proj-FAKEharFAKE01"
SECRET_COOKIE = "sessionid=CookieValue123456789"


def chrome_har() -> dict:
    """A HAR as Chrome DevTools saves it: a page load, an XHR, and two WebSocket entries."""
    ws_request_headers = [
        {"name": "Host", "value": "api.openai.com"},
        {"name": "Connection", "value": "Upgrade"},
        {"name": "Upgrade", "value": "websocket"},
        {"name": "Origin", "value": "http://localhost:5173"},
        {"name": "Sec-WebSocket-Version", "value": "13"},
        {"name": "User-Agent", "value": "Mozilla/5.0 (X11; Linux x86_64) Chrome/131.0.0.0 Safari/537.36"},
        {"name": "Cookie", "value": SECRET_COOKIE},
        {"name": "Sec-WebSocket-Key", "value": "dGhlIHNhbXBsZSBub25jZQ=="},
        {
            "name": "Sec-WebSocket-Protocol",
            "value": f"realtime, openai-insecure-api-key.{SECRET_SUBPROTOCOL_KEY}, openai-beta.realtime-v1",
        },
        {"name": "Authorization", "value": f"Bearer {SECRET_SK}"},
    ]
    ws_url = f"wss://api.openai.com/v1/realtime?model=gpt-realtime&api-key={SECRET_QUERY_KEY}"

    def entry(url: str, started: str, messages: list | None, resource: str) -> dict:
        e = {
            "_initiator": {"type": "script"},
            "_priority": "High",
            "_resourceType": resource,
            "cache": {},
            "connection": "443",
            "request": {
                "method": "GET",
                "url": url,
                "httpVersion": "HTTP/1.1",
                "headers": ws_request_headers if resource == "websocket" else [],
                "queryString": [],
                "cookies": [],
                "headersSize": -1,
                "bodySize": 0,
            },
            "response": {
                "status": 101 if resource == "websocket" else 200,
                "statusText": "Switching Protocols" if resource == "websocket" else "OK",
                "httpVersion": "HTTP/1.1",
                "headers": [{"name": "sec-websocket-protocol", "value": "realtime"}] if resource == "websocket" else [],
                "cookies": [],
                "content": {"size": 0, "mimeType": "x-unknown"},
                "redirectURL": "",
                "headersSize": -1,
                "bodySize": -1,
                "_transferSize": 0,
            },
            "serverIPAddress": "172.66.0.243",
            "startedDateTime": started,
            "time": 245.3,
            "timings": {"blocked": 1.2, "dns": -1, "ssl": -1, "connect": -1, "send": 0, "wait": 244.1, "receive": 0},
        }
        if messages is not None:
            e["_webSocketMessages"] = messages
        return e

    t0 = 1732440000.5  # 2024-11-24T09:20:00.500Z
    first = [
        {
            "type": "receive",
            "time": t0 + 0.2504,
            "opcode": 1,
            "data": '{"type":"session.created","event_id":"event_1","session":{"model":"gpt-realtime"}}',
        },
        {
            "type": "send",
            "time": t0 + 0.300001,
            "opcode": 1,
            "data": '{"type": "conversation.item.create", "item": {"type": "message", "role": "user", "content": [{"type": "input_text", "text": "hi"}]}}',
        },
        {"type": "send", "time": t0 + 0.31, "opcode": 1, "data": f'{{"type":"session.update","note":"{SECRET_SK}"}}'},
        {"type": "send", "time": t0 + 0.4, "opcode": 2, "data": base64.b64encode(b"\x00\x01\xfe\xff").decode()},
        {"type": "receive", "time": t0 + 1.75, "opcode": 1, "data": '{"type":"response.done","event_id":"event_2"}'},
    ]
    second = [{"type": "receive", "time": t0 + 5.0, "opcode": 1, "data": '{"type":"session.created"}'}]
    return {
        "log": {
            "version": "1.2",
            "creator": {"name": "WebInspector", "version": "537.36"},
            "pages": [
                {
                    "startedDateTime": "2024-11-24T09:19:59.000Z",
                    "id": "page_1",
                    "title": "http://localhost:5173/",
                    "pageTimings": {},
                }
            ],
            "entries": [
                entry("http://localhost:5173/app.js", "2024-11-24T09:19:59.100Z", None, "script"),
                entry(ws_url, "2024-11-24T09:20:00.500Z", first, "websocket"),
                entry("http://localhost:5173/api/token", "2024-11-24T09:20:00.400Z", None, "xhr"),
                entry(ws_url, "2024-11-24T09:20:04.900Z", second, "websocket"),
            ],
        }
    }


def test_chrome_har_imports_one_session_per_websocket_with_directions_times_and_frames(store: Store, tmp_path: Path):
    har = chrome_har()
    path = write(tmp_path / "chrome.har", json.dumps(har, indent=2))  # Chrome pretty-prints
    assert detect_format(path) == "har"
    first, second = import_files(store, [path])
    assert (first.kind, first.frames, second.frames) == ("har", 5, 1)
    messages = har["log"]["entries"][1]["_webSocketMessages"]
    info = store.session(first.session_id)
    assert info.started_at == pytest.approx(1732440000.5)
    assert (info.model, info.path, info.subprotocol) == ("gpt-realtime", "/v1/realtime", "realtime")
    assert info.user_agent.startswith("Mozilla/5.0")
    assert info.offered_subprotocols == ["realtime", "openai-insecure-api-key.[REDACTED]", "openai-beta.realtime-v1"]
    got = frames_of(store, first.session_id)
    assert [d for d, *_ in got] == [
        Direction.SERVER,
        Direction.CLIENT,
        Direction.CLIENT,
        Direction.CLIENT,
        Direction.SERVER,
    ]
    for (_, t_ns, _, _), message in zip(got, messages):
        assert t_ns == pytest.approx((message["time"] - 1732440000.5) * 1e9, abs=1000)  # within 1 µs
    assert got[0][3] == messages[0]["data"]
    assert got[1][3] == messages[1]["data"]  # spacing kept: the frame is the exact text
    assert (got[3][2], got[3][3]) == (Opcode.BINARY, b"\x00\x01\xfe\xff")
    assert store.session(second.session_id).started_at == pytest.approx(1732440004.9)


def test_har_secrets_in_headers_subprotocols_query_and_frames_never_reach_the_database_file(tmp_path: Path):
    db = tmp_path / "secrets.db"
    path = write(tmp_path / "chrome.har", json.dumps(chrome_har()))
    with Store(db) as s:
        (imp, _) = import_files(s, [path])
        info = s.session(imp.session_id)
        headers = dict(info.request_headers)
        assert headers["Authorization"] == "[REDACTED]"
        assert headers["Cookie"] == "[REDACTED]"
        assert "openai-insecure-api-key.[REDACTED]" in headers["Sec-WebSocket-Protocol"]
        assert "api-key=[REDACTED]" in info.target_url and "api-key=[REDACTED]" in info.query
        exported = export_bytes(s, imp.session_id, "har")
    raw = b"".join(p.read_bytes() for p in tmp_path.glob("secrets.db*"))
    assert raw, "the database file exists"
    for secret in (SECRET_SUBPROTOCOL_KEY, SECRET_QUERY_KEY, SECRET_SK, SECRET_COOKIE.split("=")[1]):
        assert secret.encode() not in raw, secret
        assert secret.encode() not in exported, secret


# HAR 1.2 (http://www.softwareishard.com/blog/har-12-spec/): required members and their types.
_HAR_REQUIRED = {
    "log": {"version": str, "creator": dict, "entries": list},
    "creator": {"name": str, "version": str},
    "entry": {
        "startedDateTime": str,
        "time": (int, float),
        "request": dict,
        "response": dict,
        "cache": dict,
        "timings": dict,
    },
    "request": {
        "method": str,
        "url": str,
        "httpVersion": str,
        "cookies": list,
        "headers": list,
        "queryString": list,
        "headersSize": int,
        "bodySize": int,
    },
    "response": {
        "status": int,
        "statusText": str,
        "httpVersion": str,
        "cookies": list,
        "headers": list,
        "content": dict,
        "redirectURL": str,
        "headersSize": int,
        "bodySize": int,
    },
    "content": {"size": int, "mimeType": str},
    "timings": {"send": (int, float), "wait": (int, float), "receive": (int, float)},
}


def check_har_12(doc: dict) -> None:
    def need(obj: dict, kind: str) -> None:
        for key, types in _HAR_REQUIRED[kind].items():
            assert key in obj, f"{kind} lacks {key}"
            assert isinstance(obj[key], types) and not isinstance(obj[key], bool), f"{kind}.{key} has the wrong type"

    need(doc["log"], "log")
    assert doc["log"]["version"] == "1.2"
    need(doc["log"]["creator"], "creator")
    for entry in doc["log"]["entries"]:
        need(entry, "entry")
        assert entry["startedDateTime"].endswith("Z") and "T" in entry["startedDateTime"]
        for part in ("request", "response"):
            need(entry[part], part)
            for pair in entry[part]["headers"] + entry[part]["cookies"] + entry[part].get("queryString", []):
                assert isinstance(pair["name"], str) and isinstance(pair["value"], str)
        need(entry["response"]["content"], "content")
        timings = entry["timings"]
        need(timings, "timings")
        assert all(v >= 0 for k, v in timings.items() if k in ("send", "wait", "receive"))
        assert all(v >= -1 for v in timings.values())
        assert entry["time"] == pytest.approx(sum(v for v in timings.values() if v > 0))
        for message in entry["_webSocketMessages"]:
            assert message["type"] in ("send", "receive") and message["opcode"] in (1, 2)
            assert isinstance(message["time"], float) and isinstance(message["data"], str)


@pytest.mark.parametrize("fixture", FIXTURE_FILES[:2] + FIXTURE_FILES[-1:], ids=lambda p: p.stem)
def test_exported_har_has_the_har_12_structure_and_reimports_identically(fixture: Path, store: Store, tmp_path: Path):
    (imp,) = import_files(store, [fixture])
    store.append_events(imp.session_id, [FrameIn(Direction.CLIENT, 7_000_000_123, b"\x01\x02binary")])
    store.update_session(
        imp.session_id,
        close_code=1000,
        close_reason="done",
        close_side="client",
        target_url="wss://api.openai.com/v1/realtime?model=gpt-realtime",
        query="model=gpt-realtime",
        request_headers=[["Authorization", "Bearer x"], ["User-Agent", "test"]],
    )
    data = export_bytes(store, imp.session_id, "har")
    check_har_12(json.loads(data))  # the stdlib parser reads it too
    path = write(tmp_path / "export.har", data)
    assert detect_format(path) == "har"
    (again,) = import_files(store, [path])
    assert frames_of(store, again.session_id) == frames_of(store, imp.session_id)
    assert metadata(store, again.session_id) == metadata(store, imp.session_id)


def test_exported_har_without_our_private_fields_still_imports_like_a_browser_har(store: Store, tmp_path: Path):
    (imp,) = import_files(store, [FIXTURE_FILES[0]])
    # Fixtures carry no timings: give a copy some (odd nanoseconds) through a JSON Lines edit.
    lines = export_bytes(store, imp.session_id).splitlines()
    timed = [lines[0]] + [
        orjson.dumps({**orjson.loads(line), "t_ns": i * 20_000_123}) for i, line in enumerate(lines[1:])
    ]
    (timed_imp,) = import_files(store, [write(tmp_path / "timed.jsonl", b"\n".join(timed) + b"\n")])
    doc = orjson.loads(export_bytes(store, timed_imp.session_id, "har"))
    stripped = copy.deepcopy(doc)
    for entry in stripped["log"]["entries"]:
        del entry["_inspector"]
        for message in entry["_webSocketMessages"]:
            del message["_t_ns"]
    (plain,) = import_files(store, [write(tmp_path / "plain.har", orjson.dumps(stripped))])
    want, got = frames_of(store, timed_imp.session_id), frames_of(store, plain.session_id)
    assert [(d, op, f) for d, _, op, f in got] == [(d, op, f) for d, _, op, f in want]
    # Without _t_ns the times come from `time` (float unix seconds) and the start from
    # startedDateTime (milliseconds): each event's wall time is right to the microsecond.
    start_want, start_got = (store.session(i.session_id).started_at for i in (timed_imp, plain))
    assert start_got == pytest.approx(start_want, abs=1e-3)
    assert all(abs((start_want + a[1] / 1e9) - (start_got + b[1] / 1e9)) < 2e-6 for a, b in zip(want, got))


# -- refusing bad input (library level; the CLI tests check messages and the database) ----------


def test_format_errors_name_the_file_and_line(store: Store, tmp_path: Path):
    good = export_bytes(store, import_files(store, [FIXTURE_FILES[3]])[0].session_id)
    cut = write(tmp_path / "cut.jsonl", good[: len(good) // 2])
    with pytest.raises(FormatError) as err:
        import_files(store, [cut])
    assert err.value.path == str(cut) and isinstance(err.value.where, int) and err.value.where > 1
    assert "truncated" in err.value.reason
    bad_dir = write(tmp_path / "dir.jsonl", good.replace(b'"direction":"client"', b'"direction":"sideways"', 1))
    with pytest.raises(FormatError, match=r"dir.jsonl:\d+: direction must be"):
        import_files(store, [bad_dir])
    assert len(store.sessions()) == 1


def _one_socket_har(messages: list, **entry: object) -> dict:
    """A minimal Chrome-style HAR holding one WebSocket entry."""
    return {
        "log": {
            "version": "1.2",
            "entries": [
                {
                    "_resourceType": "websocket",
                    "request": {"url": "wss://api.openai.com/v1/realtime"},
                    "_webSocketMessages": messages,
                    **entry,
                },
            ],
        }
    }


def _text(at: float, data: str = '{"type":"x"}') -> dict:
    return {"type": "receive", "time": at, "opcode": 1, "data": data}


@pytest.mark.parametrize(
    ("har", "where"),
    [
        (_one_socket_har([_text(-1.0), _text(0.5)]), r"log\.entries\[0\]\._webSocketMessages\[0\]\.time"),
        (_one_socket_har([_text(-9e11)]), r"log\.entries\[0\]\._webSocketMessages\[0\]\.time"),
        (_one_socket_har([_text(1.0), _text(9e11)]), r"log\.entries\[0\]\._webSocketMessages\[1\]\.time"),
        (_one_socket_har([], startedDateTime="1900-01-01T00:00:00Z"), r"log\.entries\[0\]\.startedDateTime"),
    ],
    ids=["1969", "year-minus-26550", "year-30489", "startedDateTime-1900"],
)
def test_har_times_before_1970_or_impossible_are_refused_like_jsonl_headers(
    har: dict, where: str, store: Store, tmp_path: Path
):
    path = write(tmp_path / "old.har", json.dumps(har))
    with pytest.raises(FormatError, match=rf"old\.har:{where}: .*must be unix seconds from 0 to before year 10000"):
        import_files(store, [path])
    assert store.sessions() == []


@pytest.mark.parametrize("kind", [["send"], {"send": 1}, None])
def test_a_har_message_type_that_is_not_a_string_is_a_format_error(kind: object, store: Store, tmp_path: Path):
    path = write(tmp_path / "odd.har", json.dumps(_one_socket_har([{**_text(1.0), "type": kind}])))
    with pytest.raises(FormatError, match=r"odd\.har:log\.entries\[0\]\._webSocketMessages\[0\]\.type: must be"):
        import_files(store, [path])
    assert store.sessions() == []


def test_har_export_of_an_impossible_start_already_in_a_database_does_not_raise(store: Store):
    session_id = store.import_session([FrameIn(Direction.SERVER, 0, "{}")], started_at=-9e11)
    doc = orjson.loads(export_bytes(store, session_id, "har"))
    (entry,) = doc["log"]["entries"]
    assert entry["startedDateTime"] == "1970-01-01T00:00:00.000Z"
    assert entry["_inspector"]["started_at"] == -9e11  # the number itself, as it is


def test_har_times_are_whole_microseconds_and_time_sets_ended_at(store: Store, tmp_path: Path):
    har = _one_socket_har(
        [_text(1732440000.512345), _text(1732440001.0), _text(1732440000.4 + 0.6)],
        startedDateTime="2024-11-24T09:20:00.400Z",
        time=2500.0,  # ms the socket was open
    )
    (imp,) = import_files(store, [write(tmp_path / "t.har", json.dumps(har))])
    assert [t for _, t, _, _ in frames_of(store, imp.session_id)] == [112_345_000, 600_000_000, 600_000_000]
    info = store.session(imp.session_id)
    assert info.started_at == pytest.approx(1732440000.4)
    assert info.ended_at == pytest.approx(1732440002.9)
    # A `time` that ends before the last message is not the socket's lifetime (a tool that times
    # the handshake only): no end is made up from it.
    har["log"]["entries"][0]["time"] = 245.3
    (imp,) = import_files(store, [write(tmp_path / "t2.har", json.dumps(har))])
    assert store.session(imp.session_id).ended_at is None


def test_imports_record_a_final_status(store: Store, tmp_path: Path):
    def header(status: str) -> bytes:
        return (
            orjson.dumps(
                {"format": "realtime-inspector/1", "frames": 0, "session": {"started_at": 1.0, "status": status}}
            )
            + b"\n"
        )

    statuses = ["recording", "open", "closed", "failed", "interrupted"]
    paths = [write(tmp_path / f"{s}.jsonl", header(s)) for s in statuses]
    imported = import_files(store, paths)
    assert [store.session(i.session_id).status for i in imported] == [
        "interrupted",
        "interrupted",
        "closed",
        "failed",
        "interrupted",
    ]
    har = _one_socket_har([_text(1.0)], _inspector={"started_at": 1.0, "status": "open"})
    (imp,) = import_files(store, [write(tmp_path / "open.har", json.dumps(har))])
    assert store.session(imp.session_id).status == "interrupted"


def _big_frames(tmp_path: Path) -> list[tuple[Path, str]]:
    """One file per format, each holding one frame a byte larger than the tap accepts."""
    from inspector.protocol import MAX_FRAME

    big_text = "a" * (MAX_FRAME - len('{"type":"x","pad":""}') + 1)
    frame = '{"type":"x","pad":"' + big_text + '"}'
    header = {"format": "realtime-inspector/1", "frames": 1, "session": {"started_at": 1.0}}
    jsonl = write(
        tmp_path / "big.jsonl",
        orjson.dumps(header) + b"\n" + orjson.dumps({"direction": "client", "t_ns": 0, "text": frame}) + b"\n",
    )
    binary = write(
        tmp_path / "big-binary.jsonl",
        orjson.dumps(header)
        + b"\n"
        + orjson.dumps(
            {
                "direction": "client",
                "t_ns": 0,
                "opcode": "binary",
                "base64": base64.b64encode(b"\0" * (MAX_FRAME + 1)).decode(),
            }
        )
        + b"\n",
    )
    fixture = write(
        tmp_path / "big-fixture.jsonl",
        orjson.dumps({"direction": "client", "kind": "message", "data": {"type": "x", "pad": big_text}}) + b"\n",
    )
    har = _one_socket_har(
        [
            _text(1.0),
            {"type": "send", "time": 2.0, "opcode": 2, "data": base64.b64encode(b"\0" * (MAX_FRAME + 1)).decode()},
        ]
    )
    har_path = write(tmp_path / "big.har", json.dumps(har, indent=1))
    return [
        (jsonl, ":2: "),
        (binary, ":2: "),
        (fixture, ":1: "),
        (har_path, r":log\.entries\[0\]\._webSocketMessages\[1\]\.data: "),
    ]


def test_frames_larger_than_the_tap_accepts_are_refused(store: Store, tmp_path: Path):
    from inspector.protocol import MAX_FRAME

    for path, where in _big_frames(tmp_path):
        pattern = rf"{path.name}{where}frame of {MAX_FRAME + 1} bytes is larger than the 16 MiB the tap accepts$"
        with pytest.raises(FormatError, match=pattern):
            import_files(store, [path])
    assert store.sessions() == []
    # A frame of exactly the limit imports.
    frame = '{"type":"x","pad":"' + "é" * ((MAX_FRAME - 21) // 2) + "a" * ((MAX_FRAME - 21) % 2) + '"}'
    assert len(frame.encode()) == MAX_FRAME
    header = {"format": "realtime-inspector/1", "frames": 1, "session": {"started_at": 1.0}}
    path = write(
        tmp_path / "limit.jsonl",
        orjson.dumps(header) + b"\n" + orjson.dumps({"direction": "server", "t_ns": 0, "text": frame}) + b"\n",
    )
    (imp,) = import_files(store, [path])
    assert imp.frames == 1


def test_a_line_too_long_for_any_frame_is_refused_without_reading_it_whole(store: Store, tmp_path: Path, monkeypatch):
    import inspector.formats.detect as detect

    monkeypatch.setattr(detect, "_MAX_LINE", 1000)
    monkeypatch.setattr(detect, "_CHUNK", 100)
    read_sizes: list[int] = []
    real_readline = io.BufferedReader.readline

    class Spy(io.BufferedReader):
        def readline(self, size=-1):
            line = real_readline(self, size)
            read_sizes.append(len(line))
            return line

    header = {"format": "realtime-inspector/1", "session": {"started_at": 1.0}}
    long_line = orjson.dumps({"direction": "client", "t_ns": 0, "text": "x" * 5000}) + b"\n"
    path = write(tmp_path / "long.jsonl", orjson.dumps(header) + b"\n" + long_line)
    monkeypatch.setattr(detect, "open", lambda p, mode: Spy(io.FileIO(p, mode)), raising=False)
    with pytest.raises(FormatError, match=rf"long\.jsonl:2: line of {len(long_line)} bytes is longer than any frame"):
        import_files(store, [path])
    assert max(read_sizes) <= 1001


@pytest.mark.parametrize("bom", [b"", b"\xef\xbb\xbf"], ids=["plain", "bom"])
def test_har_opening_on_one_line_and_files_with_a_bom_are_recognised(bom: bytes, store: Store, tmp_path: Path):
    har = json.dumps(chrome_har(), indent=2)
    assert har.startswith('{\n  "log": {')
    variants = {
        "pretty.har": har,
        "opening.har": '{ "log": {' + har.split('"log": {', 1)[1],  # first line `{ "log": {`
        "oneline.har": json.dumps(chrome_har()),
    }
    for name, text in variants.items():
        path = write(tmp_path / name, bom + text.encode())
        assert detect_format(path) == "har", name
        assert [i.frames for i in import_files(store, [path])] == [5, 1], name
    (imp,) = import_files(store, [FIXTURE_FILES[3]])
    exported = export_bytes(store, imp.session_id)
    path = write(tmp_path / "bom.jsonl", bom + exported)
    assert detect_format(path) == "jsonl"
    (again,) = import_files(store, [path])
    assert frames_of(store, again.session_id) == frames_of(store, imp.session_id)


def test_a_pretty_printed_har_reports_progress_while_it_is_read(store: Store, tmp_path: Path, monkeypatch):
    import inspector.formats.detect as detect

    monkeypatch.setattr(detect, "_CHUNK", 1000)
    path = write(tmp_path / "pretty.har", json.dumps(chrome_har(), indent=2))
    calls: list[tuple[int, int]] = []
    import_files(store, [path], lambda p, done, total: calls.append((done, total)))
    total = path.stat().st_size
    assert len(calls) > 3 and calls[-1] == (total, total)
    assert [d for d, _ in calls] == sorted(d for d, _ in calls)


def test_a_sessions_unrecorded_frames_travel_with_its_jsonl_export(store: Store, tmp_path: Path):
    # A recording that lost frames (disk full, a dead writer) must not import as a whole one.
    frames = [FrameIn(Direction.CLIENT, 5, '{"type":"a"}')]
    lossy = store.import_session(frames, source="tap", unrecorded_frames=7)
    exported = write(tmp_path / "lossy.jsonl", export_bytes(store, lossy))
    assert orjson.loads(exported.read_bytes().splitlines()[0])["session"]["unrecorded_frames"] == 7
    (copy_,) = import_files(store, [exported])
    assert store.session(copy_.session_id).unrecorded_frames == 7
    assert metadata(store, copy_.session_id) == metadata(store, lossy)
    whole = store.import_session(frames, source="tap")
    header = orjson.loads(export_bytes(store, whole).splitlines()[0])
    assert "unrecorded_frames" not in header["session"]  # exports of whole sessions are unchanged
    for bad in (-1, "7", 1.5):
        header["session"]["unrecorded_frames"] = bad
        path = write(
            tmp_path / "bad.jsonl", orjson.dumps(header) + b"\n" + export_bytes(store, whole).split(b"\n", 1)[1]
        )
        with pytest.raises(FormatError, match="unrecorded_frames"):
            import_files(store, [path])
