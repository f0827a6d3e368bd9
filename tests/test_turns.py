"""The turn model (inspector.turns): event sequences in, turns out. One test per rule, written
from the protocol, and the five real sessions of tests/fixtures."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import orjson
import pytest

from inspector.protocol import Direction, describe_frame
from inspector.turns import BOUNDARY_NEEDS_DATA, BOUNDARY_TYPES, Trigger, TurnRow, build_turns, slow_threshold

FIXTURES = Path(__file__).parent / "fixtures" / "openai-realtime"
C, S = Direction.CLIENT, Direction.SERVER


def session(
    *events: tuple[Direction, dict[str, Any]] | tuple[Direction, dict[str, Any], float],
) -> list[tuple[TurnRow, Any]]:
    """(direction, event[, ms]) triples → (row, data) pairs; without times, 10 ms apart."""
    out = []
    for seq, spec in enumerate(events, start=1):
        direction, data = spec[0], spec[1]
        ms = spec[2] if len(spec) > 2 else seq * 10.0  # type: ignore[misc]
        info = describe_frame(orjson.dumps(data).decode())
        row = TurnRow.of(seq, direction, round(ms * 1e6), info)
        out.append((row, data))
    return out


def fixture(name: str) -> list[tuple[TurnRow, Any]]:
    records = [orjson.loads(line) for line in (FIXTURES / name).read_text().splitlines() if line.strip()]
    return session(*((Direction(r["direction"]), r["data"], r.get("at", 0) * 1000) for r in records))


def user_text(text: str, item_id: str | None = None) -> dict[str, Any]:
    item: dict[str, Any] = {"type": "message", "role": "user", "content": [{"type": "input_text", "text": text}]}
    if item_id:
        item["id"] = item_id
    return {"type": "conversation.item.create", "item": item}


def seeded(role: str, text: str) -> dict[str, Any]:
    kind = "output_text" if role == "assistant" else "input_text"
    return {
        "type": "conversation.item.create",
        "item": {"type": "message", "role": role, "content": [{"type": kind, "text": text}]},
    }


def created(rid: str) -> dict[str, Any]:
    return {"type": "response.created", "response": {"id": rid, "status": "in_progress", "output": []}}


def done(rid: str, status: str = "completed", reason: str | None = None) -> dict[str, Any]:
    details = {"type": status, "reason": reason} if reason else None
    return {"type": "response.done", "response": {"id": rid, "status": status, "status_details": details, "output": []}}


def text_delta(rid: str, delta: str, kind: str = "response.output_text.delta") -> dict[str, Any]:
    return {"type": kind, "response_id": rid, "item_id": "item_a", "delta": delta}


def text_done(rid: str, text: str, kind: str = "response.output_text.done") -> dict[str, Any]:
    return {"type": kind, "response_id": rid, "item_id": "item_a", "text": text}


def audio_delta(rid: str, kind: str = "response.output_audio.delta") -> dict[str, Any]:
    return {"type": kind, "response_id": rid, "item_id": "item_a", "delta": "AAAA"}


APPEND = {"type": "input_audio_buffer.append", "audio": "AAAAAAAA"}
RESPONSE_CREATE = {"type": "response.create"}


def committed(item_id: str) -> dict[str, Any]:
    return {"type": "input_audio_buffer.committed", "item_id": item_id, "previous_item_id": None}


def call_done(rid: str, call_id: str, name: str = "get_weather", arguments: str = '{"city":"Paris"}') -> dict[str, Any]:
    item = {"id": "item_fc", "type": "function_call", "name": name, "call_id": call_id, "arguments": arguments}
    return {"type": "response.output_item.done", "response_id": rid, "output_index": 0, "item": item}


def call_output(call_id: str, output: str) -> dict[str, Any]:
    return {
        "type": "conversation.item.create",
        "item": {"type": "function_call_output", "call_id": call_id, "output": output},
    }


# -- rule 1: what starts a turn ------------------------------------------------------------------


def test_a_user_message_then_response_create_is_one_user_text_turn_with_latencies():
    turns = build_turns(
        session(
            (C, user_text("Hello?"), 100),
            (C, RESPONSE_CREATE, 110),
            (S, created("resp_1"), 390),
            (S, text_delta("resp_1", "Hi"), 590),
            (S, text_done("resp_1", "Hi there"), 620),
            (S, done("resp_1"), 630),
        )
    )
    assert len(turns) == 1
    turn = turns[0]
    assert (turn.number, turn.trigger, turn.input_text, turn.text, turn.status) == (
        1,
        Trigger.USER_TEXT,
        "Hello?",
        "Hi there",
        "completed",
    )
    assert (turn.to_created_ms, turn.to_first_output_ms, turn.to_done_ms) == pytest.approx((280, 480, 520))
    assert turn.start_seq == 1


def test_server_vad_audio_is_a_user_audio_turn_with_its_appends_and_transcript():
    turns = build_turns(fixture("audio_in_server_vad_turn.jsonl"))
    assert len(turns) == 1
    turn = turns[0]
    assert turn.trigger == Trigger.USER_AUDIO
    assert turn.input_seqs and turn.output_seqs
    assert turn.input_text not in ("", "<audio>")  # the input transcription replaced the placeholder
    assert turn.status == "completed"


def test_three_server_vad_turns_are_three_turns():
    turns = build_turns(fixture("input_audio_retention_segments_three_server_vad_turns.jsonl"))
    assert [t.trigger for t in turns] == [Trigger.USER_AUDIO] * 3
    assert [t.number for t in turns] == [1, 2, 3]
    assert all(len(t.responses) == 1 for t in turns)
    assert not any(t.interrupted for t in turns)  # each speech started after the last response ended


def test_a_manual_commit_opens_the_turn_at_the_clients_commit():
    turns = build_turns(
        session(
            (C, APPEND),
            (C, APPEND),
            (C, {"type": "input_audio_buffer.commit"}),
            (S, committed("item_u")),
            (C, RESPONSE_CREATE),
            (S, created("resp_1")),
            (S, done("resp_1")),
        )
    )
    assert len(turns) == 1
    assert (turns[0].start_seq, turns[0].input_seqs, turns[0].trigger) == (3, [1, 2], Trigger.USER_AUDIO)
    assert turns[0].first_seq == 1


def test_a_refused_commit_starts_no_turn_and_its_error_joins_the_last_turn():
    error = {"type": "error", "error": {"code": "input_audio_buffer_commit_empty", "message": "buffer too small"}}
    turns = build_turns(
        session(
            (C, user_text("Hi")),
            (C, RESPONSE_CREATE),
            (S, created("resp_1")),
            (S, done("resp_1")),
            (C, {"type": "input_audio_buffer.commit"}),
            (S, error),
        )
    )
    assert len(turns) == 1
    assert turns[0].errors and "input_audio_buffer_commit_empty" in turns[0].errors[0]


def test_a_bare_response_create_is_a_client_turn():
    turns = build_turns(session((C, RESPONSE_CREATE), (S, created("resp_1")), (S, done("resp_1"))))
    assert [(t.trigger, t.input_text) for t in turns] == [(Trigger.CLIENT, "")]


def test_a_response_create_refused_while_one_runs_opens_no_turn():
    busy = {"type": "error", "error": {"code": "conversation_already_has_active_response", "message": "busy"}}
    turns = build_turns(
        session(
            (C, user_text("Hi")),
            (C, RESPONSE_CREATE),
            (S, created("resp_1")),
            (C, RESPONSE_CREATE),
            (S, busy),
            (S, done("resp_1")),
        )
    )
    assert len(turns) == 1
    assert "conversation_already_has_active_response" in turns[0].errors[0]


# -- rule 2: idle timeout -----------------------------------------------------------------------


def test_an_idle_timeout_nudge_is_a_server_turn_without_user_speech_or_latency_weight():
    system_item = {
        "type": "message",
        "role": "system",
        "id": "item_sys",
        "content": [{"type": "input_text", "text": "no speech"}],
    }
    events = session(
        (C, user_text("Hi"), 0),
        (C, RESPONSE_CREATE, 10),
        (S, created("resp_1"), 300),
        (S, text_delta("resp_1", "Hello"), 400),
        (S, done("resp_1"), 500),
        (C, APPEND, 600),
        (C, APPEND, 700),
        (
            S,
            {
                "type": "input_audio_buffer.timeout_triggered",
                "audio_start_ms": 0,
                "audio_end_ms": 5000,
                "item_id": "item_idle",
            },
            5500,
        ),
        (S, {"type": "conversation.item.added", "item": system_item}, 5501),
        (S, committed("item_idle"), 5502),
        (S, created("resp_2"), 5800),
        (S, text_delta("resp_2", "Are you there?"), 9000),
        (S, done("resp_2"), 9100),
    )
    turns = build_turns(events)
    assert [t.trigger for t in turns] == [Trigger.USER_TEXT, Trigger.IDLE_TIMEOUT]
    idle = turns[1]
    assert idle.input_seqs == []  # the silent buffer is never exported as user speech
    assert idle.input_text == ""
    assert idle.to_first_output_ms == pytest.approx(3500)
    # Only the user's turn counts towards "slow": 2 × 390 ms is under the 1 s floor.
    assert slow_threshold(turns) == 1000.0


# -- rule 3: tool rounds ------------------------------------------------------------------------


def test_a_tool_round_stays_in_the_turn_that_asked_for_it():
    turns = build_turns(fixture("tool_call_round.jsonl"))
    assert len(turns) == 1
    turn = turns[0]
    assert turn.trigger == Trigger.USER_TEXT
    assert len(turn.responses) == 2
    assert [c.name for c in turn.tool_calls] and turn.tool_calls[0].output is not None
    assert turn.tool_calls[0].arguments.startswith("{")
    assert turn.text  # the answer after the tool round


def test_a_tool_call_records_how_long_the_client_took_and_the_wav_holds_question_and_answer():
    turns = build_turns(
        session(
            (C, APPEND, 0),
            (S, committed("item_u"), 100),
            (S, created("resp_1"), 400),
            (S, call_done("resp_1", "call_1"), 600),
            (S, done("resp_1"), 610),
            (C, call_output("call_1", '{"temp": 21}'), 850),
            (C, RESPONSE_CREATE, 860),
            (S, created("resp_2"), 1100),
            (S, audio_delta("resp_2"), 1300),
            (S, done("resp_2"), 1500),
        )
    )
    assert len(turns) == 1
    turn = turns[0]
    call = turn.tool_calls[0]
    assert (call.name, call.call_id, call.output, call.answer_ms) == (
        "get_weather",
        "call_1",
        '{"temp": 21}',
        pytest.approx(250),
    )
    assert turn.input_seqs == [1] and turn.output_seqs == [9]
    assert turn.statuses == ["completed", "completed"]
    assert (turn.to_first_output_ms, turn.to_done_ms) == pytest.approx((1200, 1400))


def test_a_response_create_after_a_call_without_its_output_is_a_new_turn():
    turns = build_turns(
        session(
            (C, user_text("weather?")),
            (C, RESPONSE_CREATE),
            (S, created("resp_1")),
            (S, call_done("resp_1", "call_1")),
            (S, done("resp_1")),
            (C, RESPONSE_CREATE),
            (S, created("resp_2")),
            (S, done("resp_2")),
        )
    )
    assert [t.trigger for t in turns] == [Trigger.USER_TEXT, Trigger.CLIENT]


# -- rule 4: seeded history ---------------------------------------------------------------------


def test_seeded_assistant_history_is_context_not_user_input():
    turns = build_turns(fixture("message_history_seeding.jsonl"))
    assert len(turns) == 1
    turn = turns[0]
    assert turn.trigger == Trigger.USER_TEXT
    assert len(turn.inputs) == 1  # the question after the seeded reply
    assert [line.split(":")[0] for line in turn.context] == ["user", "assistant"]


def test_a_seeded_system_item_before_any_turn_is_context_of_the_next():
    turns = build_turns(
        session(
            (C, seeded("system", "Be terse.")),
            (C, user_text("Hi")),
            (C, RESPONSE_CREATE),
            (S, created("resp_1")),
            (S, done("resp_1")),
        )
    )
    assert [(t.input_text, t.context) for t in turns] == [("Hi", ["system: Be terse."])]
    assert turns[0].start_seq == 2


# -- rule 5: several output items ---------------------------------------------------------------


def test_a_response_with_a_message_and_a_call_is_one_response():
    turns = build_turns(
        session(
            (C, user_text("weather and hello")),
            (C, RESPONSE_CREATE),
            (S, created("resp_1")),
            (S, text_done("resp_1", "Let me check.")),
            (S, call_done("resp_1", "call_1")),
            (S, done("resp_1")),
        )
    )
    assert len(turns) == 1 and len(turns[0].responses) == 1
    assert turns[0].text == "Let me check."
    assert [c.name for c in turns[0].tool_calls] == ["get_weather"]


# -- rule 6: barge-in ---------------------------------------------------------------------------


def test_speech_over_a_response_interrupts_that_turn_and_opens_the_next():
    turns = build_turns(
        session(
            (C, APPEND),
            (S, committed("item_u1")),
            (S, created("resp_1")),
            (S, audio_delta("resp_1")),
            (C, APPEND),
            (S, {"type": "input_audio_buffer.speech_started", "audio_start_ms": 900, "item_id": "item_u2"}),
            (S, done("resp_1", "cancelled", "turn_detected")),
            (C, {"type": "conversation.item.truncate", "item_id": "item_a", "content_index": 0, "audio_end_ms": 640}),
            (C, APPEND),
            (S, committed("item_u2")),
            (S, created("resp_2")),
            (S, done("resp_2")),
        )
    )
    assert len(turns) == 2
    first, second = turns
    assert first.interrupted and first.truncated_ms == 640
    assert first.status == "cancelled (turn_detected)"
    assert not second.interrupted
    assert second.input_seqs == [5, 9]
    assert second.trigger == Trigger.USER_AUDIO


# -- rule 7: preview names ----------------------------------------------------------------------


def test_preview_protocol_names_mean_their_ga_names():
    turns = build_turns(
        session(
            (C, user_text("Hi")),
            (C, RESPONSE_CREATE),
            (S, created("resp_1"), 300),
            (
                S,
                {"type": "conversation.item.created", "item": {"id": "item_a", "type": "message", "role": "assistant"}},
            ),
            (S, audio_delta("resp_1", "response.audio.delta"), 500),
            (S, text_delta("resp_1", "Hel", "response.audio_transcript.delta")),
            (S, {"type": "response.audio_transcript.done", "response_id": "resp_1", "transcript": "Hello"}),
            (S, done("resp_1")),
        )
    )
    assert turns[0].output_seqs == [5]
    assert turns[0].text == "Hello"
    assert turns[0].to_first_output_ms == pytest.approx(500 - 20)


# -- rule 8: unknown timing ---------------------------------------------------------------------


def test_an_untimed_import_has_unknown_latencies_not_zero():
    turns = build_turns(fixture("text_in_audio_out_turn.jsonl"))  # the fixtures carry no times
    assert len(turns) == 1
    turn = turns[0]
    assert (turn.to_created_ms, turn.to_first_output_ms, turn.to_done_ms, turn.start_ns) == (None, None, None, None)
    assert turn.to_dict()["to_done_ms"] is None


# -- navigation over a subset ------------------------------------------------------------------


@pytest.mark.parametrize("name", sorted(p.name for p in FIXTURES.glob("*.jsonl")))
def test_building_over_boundary_types_only_gives_the_same_turn_starts(name):
    events = fixture(name)
    full = build_turns(events)
    subset = build_turns(
        (row, data if row.type in BOUNDARY_NEEDS_DATA else None) for row, data in events if row.type in BOUNDARY_TYPES
    )
    assert [(t.number, t.start_seq, t.trigger) for t in subset] == [(t.number, t.start_seq, t.trigger) for t in full]
    assert full  # every fixture has a turn


def test_to_dict_has_the_documented_fields():
    turns = build_turns(fixture("tool_call_round.jsonl"))
    record = turns[0].to_dict()
    for key in (
        "turn",
        "trigger",
        "input_text",
        "statuses",
        "tool_calls",
        "to_created_ms",
        "to_first_output_ms",
        "to_done_ms",
    ):
        assert key in record
    assert record["trigger"] == "user_text"
    assert record["tool_calls"][0]["name"]


# -- which audio belongs to which turn ----------------------------------------------------------


def test_committed_audio_joins_its_turn_and_uncommitted_or_cleared_audio_none():
    turns = build_turns(
        session(
            (C, APPEND),
            (C, APPEND),
            (S, {"type": "input_audio_buffer.cleared"}),  # 1, 2 discarded
            (C, APPEND),
            (S, committed("item_1")),
            (C, APPEND),  # still buffered when the response starts
            (S, created("resp_a")),
            (S, audio_delta("resp_a")),
            (C, APPEND),
            (S, audio_delta("resp_a", "response.audio.delta")),  # preview name
            (S, done("resp_a")),
            (S, committed("item_2")),
            (S, created("resp_b")),
            (S, done("resp_b")),
            (C, APPEND),  # never committed
        )
    )
    first, second = turns
    assert (first.number, first.input_seqs, first.output_seqs, first.commit_seqs, first.first_seq) == (
        1,
        [4],
        [8, 10],
        [5],
        4,
    )
    assert (first.responses[0].response_id, first.responses[0].created_seq, first.responses[0].done_seq) == (
        "resp_a",
        7,
        11,
    )
    assert (second.input_seqs, second.output_seqs, second.responses[0].done_seq) == ([6, 9], [], 14)
