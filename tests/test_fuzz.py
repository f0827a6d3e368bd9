"""Hostile input, generated: the filter parser, every importer and the mock's state machine answer
anything with their own error (FilterError, FormatError, an `error` event), never a traceback.

Bounded examples and no deadline, so that the suite stays fast on a loaded 2-core machine; the
strategies are shaped like the real inputs (filter terms, export lines, client events) so that
the examples reach past the first syntax check.
"""

from __future__ import annotations

import base64
import json
import tempfile
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from inspector.formats import FormatError, detect_format, import_files
from inspector.mock.state import CLIENT_EVENTS, MockSession
from inspector.protocol import Direction
from inspector.store import FrameIn, Store
from inspector.store.filter import FilterError, compile_filter

FAST = settings(max_examples=150, deadline=None, suppress_health_check=list(HealthCheck))

# -- JSON of any shape --------------------------------------------------------------------------

_scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**63), max_value=2**64),
    st.floats(allow_nan=False),
    st.text(max_size=20),
)
_json = st.recursive(
    _scalars,
    lambda inner: st.one_of(st.lists(inner, max_size=4), st.dictionaries(st.text(max_size=10), inner, max_size=4)),
    max_leaves=12,
)


def _object_with(keys: list[str], values: st.SearchStrategy[Any] = _json) -> st.SearchStrategy[dict[str, Any]]:
    """Objects with some of the names the code looks for, and values of any type."""
    return st.dictionaries(st.sampled_from(keys) | st.text(max_size=8), values, max_size=len(keys) + 1)


# -- the filter parser, on filter-shaped text -----------------------------------------------------

_keys = ["type", "-type", "dir", "item", "response", "call", "event", "is", "size", "t", "seq", "$.a.b", "$.response"]
_ops = [":", ">", "<", ">=", "<=", "=", "!=", ""]
_values = st.one_of(
    st.sampled_from(
        ["client", "server", "error", "problem", "binary", "*", "response.*", "10kb", "2.5s", "1m", "null"]
    ),
    st.text(max_size=6),
    st.integers().map(str),
)
_terms = st.one_of(
    st.tuples(st.sampled_from(_keys), st.sampled_from(_ops), _values).map("".join),
    st.text(max_size=8).map(lambda t: json.dumps(t)),
    st.sampled_from(["OR", "(", ")", "-", '"', "AND", "or"]),
)
_filter_texts = st.lists(_terms, max_size=10).map(" ".join)


@FAST
@given(text=_filter_texts)
def test_filter_shaped_text_compiles_or_fails_with_a_filter_error_and_the_sql_always_runs(text):
    try:
        compiled = compile_filter(text)
    except FilterError as exc:
        assert 0 <= exc.position <= len(text) and str(exc)
        return
    assert compiled.where.count("?") == len(compiled.params)
    _FILTER_STORE.seqs_matching(_FILTER_SESSION, compiled)  # StoreError here would fail the test
    list(_FILTER_STORE.events_matching(_FILTER_SESSION, compiled, with_frames=True))


def _filter_store() -> tuple[Store, int]:
    store = Store(Path(tempfile.mkdtemp()) / "filter.db")
    frames = [
        '{"type":"response.done","response":{"status":"cancelled","id":"resp_1"},"event_id":"e1"}',
        '{"type":"error","error":{"code":"x"}}',
        '{"type":"response.output_audio.delta","delta":"QUJD","item_id":"item_1"}',
        "not json",
        '["a list"]',
    ]
    ours = [FrameIn(Direction((i % 2 and "server") or "client"), i * 1_000_000, f) for i, f in enumerate(frames)]
    ours.append(FrameIn(Direction.CLIENT, 9_000_000, b"\x00\x01binary"))
    return store, store.import_session(ours)


_FILTER_STORE, _FILTER_SESSION = _filter_store()

# -- every importer, on generated files ------------------------------------------------------------

_frame_lines = _object_with(["direction", "t_ns", "opcode", "text", "base64", "close"]) | st.fixed_dictionaries(
    {
        "direction": st.sampled_from(["client", "server", "up", 1]),
        "t_ns": st.one_of(st.integers(min_value=-5, max_value=2**70), st.floats(), st.text(max_size=3)),
        "opcode": st.sampled_from(["text", "binary", "ping", 3]),
    },
    optional={"text": st.text(max_size=20), "base64": st.text("ABCD=!", max_size=12)},
)
_headers = st.fixed_dictionaries(
    {"format": st.sampled_from(["realtime-inspector/1", "realtime-inspector/9", 1])},
    optional={"frames": _json | st.integers(), "session": _object_with(["started_at", "model", "status", "label"])},
)
_fixture_lines = _object_with(["direction", "kind", "at", "data"])
_har = st.fixed_dictionaries(
    {
        "log": _object_with(
            ["entries"], st.lists(_object_with(["request", "response", "_webSocketMessages"]), max_size=3)
        )
    }
)
_documents = st.one_of(
    st.tuples(_headers, st.lists(_frame_lines, max_size=6)).map(lambda t: [t[0], *t[1]]),
    st.lists(_fixture_lines, min_size=1, max_size=6),
    _har.map(lambda doc: [doc]),
    st.lists(_json, min_size=1, max_size=4),
)


def _write(lines: list[Any], pretty: bool) -> bytes:
    """The stdlib's JSON: it writes what orjson refuses (integers past 64 bits, Infinity)."""
    if pretty and len(lines) == 1:
        return json.dumps(lines[0], indent=2).encode()
    return "".join(json.dumps(line) + "\n" for line in lines).encode()


def _import_only_fails_with_format_error(data: bytes) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "input.jsonl"
        path.write_bytes(data)
        try:
            detect_format(path)
        except FormatError:
            pass
        with Store(Path(tmp) / "x.db") as store:
            try:
                import_files(store, [path])
            except FormatError as exc:
                assert str(exc).startswith(str(path))
                assert store.sessions() == []  # all or nothing


@FAST
@given(lines=_documents, pretty=st.booleans())
def test_generated_export_fixture_and_har_files_import_or_fail_with_a_format_error(lines, pretty):
    _import_only_fails_with_format_error(_write(lines, pretty))


@FAST
@given(data=st.binary(max_size=200) | st.text(max_size=200).map(str.encode))
def test_arbitrary_bytes_import_or_fail_with_a_format_error(data):
    _import_only_fails_with_format_error(data)


# -- the mock's state machine, on client-event-shaped input ------------------------------------------

_inner = ["type", "role", "content", "text", "audio", "id", "call_id", "output", "name", "arguments"]
_session_keys = ["type", "instructions", "output_modalities", "audio", "tools", "tool_choice", "max_output_tokens"]
_EVENT_FIELDS = ["event_id", "session", "audio", "item", "previous_item_id", "item_id", "content_index"]
_EVENT_FIELDS += ["audio_end_ms", "response", "response_id"]
_client_events = st.one_of(
    st.builds(
        lambda kind, fields: {"type": kind, **fields},
        st.sampled_from([*CLIENT_EVENTS, "response.bogus", ""]),
        _object_with(
            _EVENT_FIELDS,
            st.one_of(
                _json,
                _object_with(_session_keys + _inner),
                st.binary(max_size=64).map(lambda b: base64.b64encode(b).decode()),
            ),
        ),
    ),
    _json,
)


@settings(max_examples=60, deadline=None, suppress_health_check=list(HealthCheck))
@given(events=st.lists(_client_events | st.binary(max_size=8) | st.text(max_size=12), max_size=8))
def test_the_mock_answers_any_client_input_with_events_and_its_own_errors_never_an_exception(events):
    session = MockSession(now_unix=1_700_000_000, seed=1)
    session.connect(0.0)
    now = 0.0
    for event in events:
        now += 0.05
        frame = event if isinstance(event, (str, bytes)) else json.dumps(event)
        for _delay, out in session.feed(frame, now):
            assert isinstance(out, dict) and isinstance(out.get("type"), str)
            if out["type"] == "error":
                assert isinstance(out["error"]["code"], str) and out["error"]["message"]
    # And time passes: what the events started (responses, VAD, timers) plays out without error.
    for out in session.pop_due(now + 3600):
        assert not isinstance(out, dict) or isinstance(out.get("type"), str)
