"""The filter language: every operator against a real store built from the fixtures, errors
with positions, and hypothesis properties (only FilterError, always parameterised SQL)."""

from __future__ import annotations

import re

import pg_server as pg
import pytest
from click.testing import CliRunner
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from inspector.cli import main
from inspector.protocol import Direction
from inspector.store import FrameIn, StoreError, open_store
from inspector.store.filter import CompiledFilter, FilterError, compile_filter, filter_value
from tests.tui_helpers import build_db


@pytest.fixture(scope="module", params=["sqlite", "postgres"])
def fixture_db(request, tmp_path_factory, pg_server):
    """The fixtures' database, once per backend: the language means the same on both."""
    if request.param == "sqlite":
        yield str(tmp_path_factory.mktemp("filter") / "inspector.db")
        return
    with pg.database_for_test(pg_server) as url:
        yield url


@pytest.fixture(scope="module")
def fixture_store(fixture_db):
    path = fixture_db
    ids = build_db(path)
    with open_store(path) as store:
        # A session with odd frames: binary, not JSON, an error, a failed response.
        odd = store.import_session(
            [
                FrameIn(Direction.CLIENT, 0, '{"type":"response.create","event_id":"evt_1"}'),
                FrameIn(Direction.SERVER, 1_000_000, b"\x00\x01binary"),
                FrameIn(Direction.SERVER, 2_000_000, "not json {"),
                FrameIn(
                    Direction.SERVER,
                    3_000_000_000,
                    '{"type":"error","event_id":"event_x","error":{"type":"invalid_request_error",'
                    '"code":"conversation_already_has_active_response","message":"Conversation already '
                    'has an active response","event_id":"evt_1"}}',
                ),
                FrameIn(
                    Direction.SERVER,
                    90_000_000_000,
                    '{"type":"response.done","response":{"id":"resp_F","status":"failed",'
                    '"status_details":{"type":"failed","error":{"code":"server_error"}}}}',
                ),
                FrameIn(Direction.SERVER, 91_000_000_000, '{"type":"x","n":5,"flag":true,"tag":"a_b%c"}'),
            ],
            model="odd",
        )
        ids["odd"] = odd
        yield store, ids


def matching(fixture_store, name: str, text: str) -> list[int]:
    store, ids = fixture_store
    compiled = compile_filter(text)
    return store.seqs_matching(ids[name], compiled)


def types_of(fixture_store, name: str, seqs: list[int]) -> set[str | None]:
    store, ids = fixture_store
    return {store.event(ids[name], s, with_frame=False).type for s in seqs}


def test_type_glob_and_exact(fixture_store):
    seqs = matching(fixture_store, "tool_call_round", "type:response.*")
    assert seqs and all(t.startswith("response.") for t in types_of(fixture_store, "tool_call_round", seqs))
    exact = matching(fixture_store, "tool_call_round", "type:response.done")
    assert types_of(fixture_store, "tool_call_round", exact) == {"response.done"} and len(exact) == 2


def test_exact_type_compiles_to_an_indexable_equality():
    assert compile_filter("type:response.done").where == "e.type = ?"


def test_negation_keeps_events_without_a_type(fixture_store):
    seqs = matching(fixture_store, "odd", "-type:response.*")
    # the binary and not-JSON frames have no type; a negated term must still match them
    assert {2, 3}.issubset(seqs)
    assert 1 not in seqs


def test_dir(fixture_store):
    client = matching(fixture_store, "tool_call_round", "dir:client")
    server = matching(fixture_store, "tool_call_round", "dir:server")
    assert len(client) == 5 and len(client) + len(server) == 50


@pytest.mark.parametrize("key,column", [("item", "item_id"), ("response", "response_id"), ("call", "call_id")])
def test_id_terms(fixture_store, key, column):
    store, ids = fixture_store
    sid = ids["tool_call_round"]
    value = next(getattr(ev, column) for ev in store.events(sid) if getattr(ev, column))
    seqs = matching(fixture_store, "tool_call_round", f"{key}:{value}")
    assert seqs and all(getattr(store.event(sid, s, with_frame=False), column) == value for s in seqs)


def test_event_id_term(fixture_store):
    assert matching(fixture_store, "odd", "event:evt_1") == [1]


def test_is_error_covers_errors_failed_responses_and_problem_frames(fixture_store):
    assert matching(fixture_store, "odd", "is:error") == [2, 3, 4, 5]
    assert matching(fixture_store, "odd", "is:problem") == [2, 3]
    assert matching(fixture_store, "odd", "is:binary") == [2]


def test_size_and_time(fixture_store):
    store, ids = fixture_store
    big = matching(fixture_store, "tool_call_round", "size>1kb")
    assert big and all(store.event(ids["tool_call_round"], s, with_frame=False).size > 1024 for s in big)
    assert matching(fixture_store, "odd", "t>2.5s") == [4, 5, 6]
    assert matching(fixture_store, "odd", "t<1m") == [1, 2, 3, 4]
    assert matching(fixture_store, "odd", "t<=1ms") == [1, 2]
    assert matching(fixture_store, "odd", "seq>=5") == [5, 6]


def test_json_path_comparisons(fixture_store):
    assert matching(fixture_store, "odd", "$.response.status=failed") == [5]
    assert matching(fixture_store, "odd", "$.response.status!=failed") == []
    assert matching(fixture_store, "odd", "$.n>4") == [6]
    assert matching(fixture_store, "odd", "$.n<5") == []
    assert matching(fixture_store, "odd", "$.flag=true") == [6]
    assert matching(fixture_store, "odd", '$.tag="a_b%c"') == [6]
    assert matching(fixture_store, "odd", "$.error.event_id=evt_1") == [4]
    assert 6 not in matching(fixture_store, "odd", "$.n=null")


def test_json_path_on_binary_and_broken_frames_does_not_fail(fixture_store):
    assert matching(fixture_store, "odd", "$.type=x") == [6]


def test_text_search_is_case_insensitive_and_escapes_like_wildcards(fixture_store):
    seqs = matching(fixture_store, "tool_call_round", "LONDON")
    assert seqs
    assert matching(fixture_store, "odd", "a_b%c") == [6]
    assert matching(fixture_store, "odd", "a%c") == []
    assert matching(fixture_store, "odd", '"already has an active"') == [4]


def test_text_search_never_matches_audio(fixture_store):
    store, ids = fixture_store
    sid = ids["audio_in_server_vad_turn"]
    frame = store.frame(sid, 4)  # an input_audio_buffer.append
    b64 = frame.split('"audio":"')[1][:12]
    assert b64 and matching(fixture_store, "audio_in_server_vad_turn", f'"{b64}"') == []


def test_or_parentheses_and_implicit_and(fixture_store):
    both = matching(fixture_store, "tool_call_round", "type:response.done OR type:response.created")
    assert types_of(fixture_store, "tool_call_round", both) == {"response.done", "response.created"}
    grouped = matching(fixture_store, "tool_call_round", "dir:client (type:response.create OR type:session.update)")
    assert types_of(fixture_store, "tool_call_round", grouped) == {"response.create", "session.update"}
    explicit = matching(fixture_store, "tool_call_round", "dir:client AND type:response.create")
    assert explicit == matching(fixture_store, "tool_call_round", "dir:client type:response.create")


def test_empty_filter_matches_everything():
    compiled = compile_filter("   ")
    assert compiled.empty and compiled.where == "1"


@pytest.mark.parametrize(
    "text,position,fragment",
    [
        ("foo:bar", 0, "unknown field"),
        ("type:a (b", 7, "never closed"),
        ("a b)", 3, "unbalanced"),
        ("OR a", 0, "needs a term"),
        ("a OR", 4, "missing"),
        ("- a", 0, "followed by a term"),
        ("size>big", 5, "size expects"),
        ("t>5parsecs", 2, "t expects"),
        ("dir:up", 4, "client or server"),
        ("is:happy", 3, "is: is one of"),
        ('"open', 0, "unterminated"),
        ("$.a..b=1", 0, "JSON path"),
        ("$.a=", 4, "needs a value"),
        ("$.a>null", 4, "null"),
        ("()", 0, "empty parentheses"),
        ("type:", 5, "needs a value"),
        ("seq>x", 4, "whole number"),
        ("$.a==", 4, "not an operator"),
        ("$.a==x", 4, "not an operator"),
        ("$.a=<3", 4, "not an operator"),
        ("$.usage.total_tokens>abc", 21, "compares numbers"),
        ("$.usage.total_tokens>=", 22, "needs a value"),
        ('$.a<"3"', 4, "compares numbers"),
        ("$.a>true", 4, "compares numbers"),
    ],
)
def test_errors_point_at_the_bad_token(text, position, fragment):
    with pytest.raises(FilterError) as info:
        compile_filter(text)
    assert info.value.position == position
    assert fragment in info.value.message
    assert info.value.caret(text).splitlines()[1] == " " * position + "^"


def test_json_path_comparisons_that_used_to_match_nothing_are_errors_now():
    # `$.a==` once compared with the text "=" and `>abc` compared a number with text: both
    # silently matched nothing. Now =/!= take any value and < > <= >= a number.
    assert compile_filter("$.usage.total_tokens>=10").params == ("$.usage.total_tokens", 10)
    assert compile_filter('$.item.name="=x"').params == ("$.item.name", "=x")  # quoted text is text
    assert compile_filter("$.status!=completed").params == ("$.status", "completed")
    for text in ("$.a==", "$.usage.total_tokens>abc"):
        with pytest.raises(FilterError):
            compile_filter(text)


def test_filter_term_quotes_any_value_into_one_term():
    from inspector.store.filter import filter_term

    for value, param in [
        ("response.*", "response.*"),
        ("[!r]*", "[^r]*"),  # SQLite's spelling of fnmatch's negation
        ('a "b" (c) \\ d', 'a "b" (c) \\ d'),
        ("x OR Y", "x or y"),
    ]:
        assert compile_filter(filter_term("type", value)).params == (param,), value
    assert compile_filter(filter_term("dir", "client")).where == "e.dir = 0"


def test_filter_values():
    assert filter_value("12") == 12 and filter_value("1.5") == 1.5
    assert filter_value("true") == 1 and filter_value("null") is None
    assert filter_value("abc") == "abc"
    assert isinstance(filter_value("9" * 30), float)


# --- properties -----------------------------------------------------------------------------

# Everything the compiler may put into SQL: column names, operators, keywords, placeholders.
_SQL_TOKEN = re.compile(
    r"\s+|\(|\)|\?|=|!=|<=|>=|<|>|&|\d+|'\\'|''|\{seq\}|lower|"
    r"e\.(type|dir|is_error|problem|opcode|size|t_ns|id|item_id|response_id|call_id|event_id)|"
    r"f\.body|json_extract|coalesce|NOT|AND|OR|GLOB|LIKE|ESCAPE|IS|NULL|CASE|WHEN|THEN|END|,"
)

_alphabet = st.sampled_from(list("abcty:-\"()$.=<>!*? \\%_0123456789kbmsORAND[]\x00é'`;"))
_words = st.sampled_from(
    [
        "type:",
        "response.*",
        "-",
        "OR",
        "AND",
        "(",
        ")",
        '"',
        "$.response.status",
        "=",
        "size>",
        "10kb",
        "t<",
        "1m",
        "dir:client",
        "is:error",
        "item:",
        "x",
        " ",
        "'; DROP TABLE events; --",
        "\\",
        "$.a[0]",
        "!=",
    ]
)
_filters = st.one_of(st.text(max_size=40), st.text(_alphabet, max_size=40), st.lists(_words, max_size=12).map("".join))


def _sql_is_constant(compiled: CompiledFilter) -> bool:
    pos = 0
    where = compiled.where
    while pos < len(where):
        m = _SQL_TOKEN.match(where, pos)
        if not m or m.end() == pos:
            return False
        pos = m.end()
    return True


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(text=_filters)
def test_random_input_only_ever_raises_filter_error_and_sql_is_parameterised(fixture_store, text):
    try:
        compiled = compile_filter(text)
    except FilterError as exc:
        assert 0 <= exc.position <= len(text)
        return
    assert _sql_is_constant(compiled), compiled.where
    assert compiled.where.count("?") == len(compiled.params)
    store, ids = fixture_store
    try:
        store.seqs_matching(ids["odd"], compiled)
    except StoreError as exc:  # the compiled SQL must always run (the store wraps sqlite3's errors)
        pytest.fail(f"{text!r} → {compiled.where!r}: {exc}")


@settings(max_examples=200, deadline=None)
@given(value=st.text(min_size=1, max_size=30))
def test_user_text_never_appears_in_the_sql(value):
    for text in (f'"{value}"', f"type:{value}", f"$.a={value}"):
        try:
            compiled = compile_filter(text)
        except FilterError:
            continue
        assert _sql_is_constant(compiled)


def test_deep_nesting_is_a_filter_error():
    with pytest.raises(FilterError):
        compile_filter("(" * 5000 + "a" + ")" * 5000)


# --- the CLI ---------------------------------------------------------------------------------


def test_cli_events_filter(fixture_store):
    store, ids = fixture_store
    result = CliRunner().invoke(
        main, ["events", str(ids["tool_call_round"]), "--db", str(store.path), "--filter", "type:response.done"]
    )
    assert result.exit_code == 0, result.output
    header, *lines = result.output.strip().splitlines()
    assert header.split()[0] == "SEQ"
    assert len(lines) == 2 and all("response.done" in line for line in lines)


def cli_rows(store, session_id, *args):
    result = CliRunner().invoke(main, ["events", str(session_id), "--db", str(store.path), *args])
    assert result.exit_code == 0, result.output
    return result.stdout.splitlines()[1:]  # after the header


def test_cli_events_type_option_and_type_term_give_the_same_rows(fixture_store):
    store, ids = fixture_store
    for glob in ("[!r]*", "response.*", "*.delta", "session.created", "Response.Done", "*"):
        by_option = cli_rows(store, ids["tool_call_round"], "--type", glob)
        assert by_option == cli_rows(store, ids["tool_call_round"], "--filter", f"type:{glob}"), glob
    # `[!r]*` means what fnmatch means: every type not starting with r (the two used to differ).
    not_r = cli_rows(store, ids["tool_call_round"], "--type", "[!r]*")
    assert not_r and all(not line.split()[3].startswith("r") for line in not_r)
    both = cli_rows(store, ids["odd"], "--type", "*", "--dir", "server", "--filter", "-is:binary")
    assert both == cli_rows(store, ids["odd"], "--filter", "type:* dir:server -is:binary") and len(both) == 4


def test_cli_events_type_option_is_case_insensitive(fixture_store):
    store, ids = fixture_store
    upper = cli_rows(store, ids["tool_call_round"], "--type", "RESPONSE.*")
    assert upper and upper == cli_rows(store, ids["tool_call_round"], "--type", "response.*")
    assert all(line.split()[3].startswith("response.") for line in upper)


def test_events_and_tui_report_a_bad_filter_the_same_way(fixture_store):
    store, ids = fixture_store
    outputs = [
        CliRunner().invoke(main, [command, str(ids["odd"]), "--db", str(store.path), "--filter", "type:a $.b==1"])
        for command in ("events", "tui")
    ]
    for result in outputs:
        assert result.exit_code == 1
        assert result.stderr.splitlines() == [
            "error: bad filter: '==' is not an operator (use = != < > <= >=, or quote the text) at column 12",
            "  type:a $.b==1",
            "             ^",
        ]


def test_cli_events_bad_filter_prints_a_clean_error(fixture_store):
    store, ids = fixture_store
    result = CliRunner().invoke(
        main, ["events", str(ids["tool_call_round"]), "--db", str(store.path), "--filter", "type:a (b"]
    )
    assert result.exit_code == 1
    assert "error: bad filter: '(' is never closed at column 8" in result.output
    assert "Traceback" not in result.output


@settings(max_examples=500, deadline=None)
@given(pattern=st.text(alphabet="ab.*?[]!", max_size=8), text=st.text(alphabet="ab.[]!", max_size=6))
def test_a_glob_means_on_postgresql_what_fnmatch_means(pattern, text):
    import fnmatch

    from inspector.store.postgres.filter_sql import glob_regex

    # An unclosed `[` is a literal to fnmatch, but neither to SQLite's GLOB nor here: not compared.
    assume(
        all(pattern.find("]", i + 2 + (pattern[i + 1 : i + 2] == "!")) > 0 for i, c in enumerate(pattern) if c == "[")
    )
    regex = glob_regex(pattern.replace("[!", "[^"))  # as the filter hands a glob to the store
    assert bool(re.fullmatch(regex, text, re.S)) == fnmatch.fnmatchcase(text, pattern), regex
