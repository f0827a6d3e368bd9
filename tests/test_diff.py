"""The pure diff: normalisation, alignment, field differences, and the properties of the whole
(diff(A, A) is empty; diff(A, B) mirrors diff(B, A)), without a database."""

from __future__ import annotations

import base64
from typing import Any

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from inspector.diff import MISSING, DiffOptions, Mode, RowKind
from inspector.diff.align import align_events, align_turns
from inspector.diff.compare import KeyTable, SideScan, compare
from inspector.diff.fields import field_diffs
from inspector.diff.normalise import Normaliser, PathError, compile_paths
from inspector.protocol import Direction, Opcode
from inspector.store import Event


def norm(data: dict[str, Any], mode: Mode = Mode.CONTENT, **options: Any) -> Any:
    return Normaliser(DiffOptions(mode=mode, **options)).event(data.get("type"), data, None)


def test_generated_ids_become_placeholders_numbered_per_kind_in_order_of_first_appearance():
    n = Normaliser(DiffOptions())
    first = n.event(
        "x", {"type": "x", "item_id": "item_AAAAAAAAAAAAAAAAAAAAA", "response_id": "resp_BBBBBBBBBBBBBBBBBBBBB"}, None
    )
    second = n.event(
        "x", {"type": "x", "item_id": "item_CCCCCCCCCCCCCCCCCCCCC", "previous": "item_AAAAAAAAAAAAAAAAAAAAA"}, None
    )
    assert first == {"type": "x", "item_id": "<item 1>", "response_id": "<resp 1>"}
    assert second == {"type": "x", "item_id": "<item 2>", "previous": "<item 1>"}


def test_ids_inside_error_messages_are_replaced_too():
    message = "Tool call ID 'call_abcdefghijklmnop' not found in conversation."
    assert norm({"type": "error", "error": {"message": message}})["error"]["message"] == (
        "Tool call ID '<call 1>' not found in conversation."
    )


def test_exact_mode_keeps_ids_and_event_ids_literal():
    data = {"type": "x", "event_id": "event_AAAAAAAAAAAAAAAAAAAAA", "item_id": "item_AAAAAAAAAAAAAAAAAAAAA"}
    assert norm(data, Mode.EXACT) == data
    assert norm(data) == {"type": "x", "item_id": "<item 1>"}


def test_audio_is_compared_by_its_decoded_length():
    audio = base64.b64encode(bytes(960)).decode()
    assert norm({"type": "input_audio_buffer.append", "audio": audio}) == {
        "type": "input_audio_buffer.append",
        "audio": "<audio 960 B>",
    }


def test_default_ignores_drop_volatile_values_and_keep_brings_one_back():
    data = {
        "type": "response.done",
        "obfuscation": "xyz",
        "response": {"status": "completed", "usage": {"total_tokens": 12}},
    }
    assert norm(data) == {"type": "response.done", "response": {"status": "completed"}}
    kept = norm(data, keep=("$.response.usage",))
    assert kept["response"]["usage"] == {"total_tokens": 12}
    assert "status" not in norm(data, ignore=("$.response.status",))["response"]


def test_ignore_paths_take_wildcards_and_indexes():
    data = {"type": "x", "rate_limits": [{"name": "tokens", "remaining": 5}, {"name": "requests", "remaining": 1}]}
    assert norm(data)["rate_limits"] == [{"name": "tokens"}, {"name": "requests"}]
    assert norm(data, ignore=("$.rate_limits[1]",))["rate_limits"] == [{"name": "tokens"}]


@pytest.mark.parametrize("bad", ["response.usage", "$.a[", "$", "$.a..b"])
def test_a_bad_ignore_path_is_refused_with_its_text(bad: str):
    with pytest.raises(PathError, match="bad path"):
        compile_paths([bad])


def test_structure_mode_reduces_text_to_presence_and_keeps_tool_arguments():
    done = {"type": "response.output_text.done", "text": "Hello", "item_id": "item_AAAAAAAAAAAAAAAAAAAAA"}
    assert norm(done, Mode.STRUCTURE) == norm({**done, "text": "Bonjour"}, Mode.STRUCTURE)
    call = {"type": "response.function_call_arguments.done", "name": "get_weather", "arguments": '{"city":"Paris"}'}
    assert norm(call, Mode.STRUCTURE) != norm({**call, "arguments": '{"city":"Rome"}'}, Mode.STRUCTURE)


def test_preview_names_compare_as_their_ga_names_except_in_exact_mode():
    assert norm({"type": "response.audio.delta"})["type"] == "response.output_audio.delta"
    assert norm({"type": "response.audio.delta"}, Mode.EXACT)["type"] == "response.audio.delta"


def test_field_diffs_name_the_paths_and_both_values():
    a = {"type": "x", "item": {"content": [{"text": "a"}], "status": "completed"}}
    b = {"type": "x", "item": {"content": [{"text": "b"}, {"text": "c"}]}, "extra": 1}
    diffs = [(d.path, d.a, d.b) for d in field_diffs(a, b)]
    assert diffs == [
        ("$.item.content[0].text", "a", "b"),
        ("$.item.content[1]", MISSING, {"text": "c"}),
        ("$.item.status", "completed", MISSING),
        ("$.extra", MISSING, 1),
    ]
    assert field_diffs(a, a) == []
    assert [d.path for d in field_diffs({"n": 1}, {"n": True})] == ["$.n"]  # 1 == True in Python


def test_align_events_pairs_a_removed_event_as_a_gap_and_a_changed_type_as_a_pair():
    assert align_events([2, 4, 6, 8], [2, 6, 8]) == [(0, 0), (1, None), (2, 1), (3, 2)]
    assert align_events([2, 4, 6], [2, 10, 6]) == [(0, 0), (1, 1), (2, 2)]  # same direction: changed
    assert align_events([2, 4, 6], [2, 11, 6]) == [(0, 0), (1, None), (None, 1), (2, 2)]  # not


def test_align_turns_keeps_later_turns_paired_when_one_is_removed():
    a = [("setup", ""), ("user_text", "hi"), ("user_text", "weather?"), ("user_text", "bye")]
    assert align_turns(a, [a[0], a[1], a[3]]) == [(0, 0), (1, 1), (2, None), (3, 2)]


def test_a_turn_too_large_to_search_is_paired_in_order(monkeypatch):
    monkeypatch.setattr("inspector.diff.align.MAX_SEARCH", 4)
    assert align_events([2, 4, 6, 8], [2, 6, 6, 8, 8]) == [(0, 0), (1, None), (None, 1), (2, 2), (None, 3), (3, 4)]


# -- the whole, over generated sessions ---------------------------------------------------------

_EVENTS = [
    (
        Direction.CLIENT,
        {
            "type": "conversation.item.create",
            "item": {"type": "message", "role": "user", "content": [{"type": "input_text", "text": "hi"}]},
        },
    ),
    (Direction.CLIENT, {"type": "response.create"}),
    (Direction.SERVER, {"type": "response.created", "response": {"id": "resp_AAAAAAAAAAAAAAAAAAAAA"}}),
    (
        Direction.SERVER,
        {"type": "response.output_text.delta", "delta": "a", "response_id": "resp_AAAAAAAAAAAAAAAAAAAAA"},
    ),
    (
        Direction.SERVER,
        {"type": "response.output_text.delta", "delta": "b", "response_id": "resp_AAAAAAAAAAAAAAAAAAAAA"},
    ),
    (
        Direction.SERVER,
        {"type": "response.done", "response": {"id": "resp_AAAAAAAAAAAAAAAAAAAAA", "status": "completed"}},
    ),
    (Direction.SERVER, {"type": "rate_limits.updated"}),
    (Direction.SERVER, {"type": "error", "error": {"code": "invalid_value"}}),
]

sessions = st.lists(st.integers(0, len(_EVENTS) - 1), max_size=40)


def scan(indexes: list[int], keys: KeyTable, options: DiffOptions) -> SideScan:
    events = []
    for seq, index in enumerate(indexes, 1):
        direction, data = _EVENTS[index]
        frame = orjson.dumps(data).decode()
        events.append(Event(1, seq, direction, seq * 1_000_000, Opcode.TEXT, len(frame), data["type"], frame=frame))
    side = SideScan(options, keys)
    side.feed(events)
    return side


def counts(a: list[int], b: list[int], mode: Mode = Mode.CONTENT) -> list[int]:
    keys, options = KeyTable(), DiffOptions(mode=mode)
    alignment = compare(scan(a, keys, options), scan(b, keys, options))
    tally = [0, 0, 0, 0]
    for kind in alignment.rows.kinds:
        tally[kind] += 1
    return tally


@settings(max_examples=150, deadline=None)
@given(sessions, st.sampled_from(list(Mode)))
def test_a_session_diffed_with_itself_has_no_differences(a: list[int], mode: Mode):
    _equal, changed, only_a, only_b = counts(a, a, mode)
    assert (changed, only_a, only_b) == (0, 0, 0)


@settings(max_examples=300, deadline=None)
@given(sessions, sessions)
def test_diff_of_b_and_a_mirrors_diff_of_a_and_b(a: list[int], b: list[int]):
    equal, changed, only_a, only_b = counts(a, b)
    assert counts(b, a) == [equal, changed, only_b, only_a]
    assert equal + changed + only_a == len(a) and equal + changed + only_b == len(b)


def test_rows_record_seqs_with_zero_for_a_gap():
    keys, options = KeyTable(), DiffOptions()
    rows = compare(scan([0, 1, 2, 5], keys, options), scan([0, 1, 2, 6, 5], keys, options)).rows
    assert [(RowKind(k), a, b) for k, a, b in zip(rows.kinds, rows.a_seqs, rows.b_seqs)] == [
        (RowKind.EQUAL, 1, 1),
        (RowKind.EQUAL, 2, 2),
        (RowKind.EQUAL, 3, 3),
        (RowKind.ONLY_B, 0, 4),
        (RowKind.EQUAL, 4, 5),
    ]


def test_a_client_event_that_moved_among_the_servers_events_still_pairs_up():
    # The client's tool output sent before vs after the call's item closed: the same streams.
    client_output, server_done, server_item_done = 2, 5, 7  # even: client, odd: server
    a = [server_done, client_output, server_item_done]
    b = [server_done, server_item_done, client_output]
    pairs = align_events(a, b)
    assert sorted(pairs, key=lambda p: p[0]) == [(0, 0), (1, 2), (2, 1)]
    assert [p for p in pairs if None in p] == []
    assert align_events(b, a) == [(j, i) for i, j in pairs]  # mirrored


@settings(max_examples=150, deadline=None)
@given(sessions, st.lists(st.booleans(), min_size=40, max_size=40))
def test_turns_with_the_same_keys_get_the_rows_of_the_event_alignment(a: list[int], swaps: list[bool]):
    """`compare` pairs a turn whose keys match event for event by whole arrays: the same rows as
    one `align_events` pair at a time. B is A with some text deltas swapped for the other text:
    the same keys, other digests."""
    from unittest import mock

    import inspector.diff.compare as compare_module

    swapped = {3: 4, 4: 3}
    b = [swapped.get(index, index) if swap else index for index, swap in zip(a, swaps)]

    def one_at_a_time(rows, side_a, side_b, i, j, n, turn):
        for k in range(n):
            compare_module._append_row(rows, side_a, side_b, i + k, j + k, turn)

    keys, options = KeyTable(), DiffOptions()
    fast = compare(scan(a, keys, options), scan(b, keys, options)).rows
    with mock.patch.object(compare_module, "_append_pairs", one_at_a_time):
        keys = KeyTable()
        slow = compare(scan(a, keys, options), scan(b, keys, options)).rows
    assert (fast.kinds, fast.a_seqs, fast.b_seqs, fast.key_ids, fast.turns) == (
        slow.kinds,
        slow.a_seqs,
        slow.b_seqs,
        slow.key_ids,
        slow.turns,
    )
    assert fast.kinds.count(RowKind.CHANGED) == sum(x != y for x, y in zip(a, b))
