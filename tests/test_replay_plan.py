"""The replay planner's rules, without a socket: waits, pacing, remapping, divergences."""

from __future__ import annotations

import json

import pytest

from inspector.protocol import Direction
from inspector.replay.plan import Done, Pace, RecordedEvent, ReplayPlan, Send, Skip, Wait

C, S = Direction.CLIENT, Direction.SERVER


def session(*events: tuple[Direction, dict, float]) -> list[RecordedEvent]:
    """Recorded events from (direction, event, seconds) triples."""
    return [RecordedEvent(i, d, int(t * 1e9), json.dumps(e)) for i, (d, e, t) in enumerate(events, 1)]


def text_turn(text: str) -> dict:
    return {
        "type": "conversation.item.create",
        "item": {"type": "message", "role": "user", "content": [{"type": "input_text", "text": text}]},
    }


def created(resp: str) -> dict:
    return {"type": "response.created", "response": {"id": resp, "status": "in_progress", "output": []}}


def done(resp: str, output: list | None = None) -> dict:
    return {"type": "response.done", "response": {"id": resp, "status": "completed", "output": output or []}}


def call_done(resp: str, item: str, call: str) -> dict:
    return {
        "type": "response.function_call_arguments.done",
        "response_id": resp,
        "item_id": item,
        "call_id": call,
        "name": "get_weather",
        "arguments": "{}",
    }


def output(call: str) -> dict:
    return {
        "type": "conversation.item.create",
        "item": {"type": "function_call_output", "call_id": call, "output": "ok"},
    }


TOOL_SESSION = session(
    (S, {"type": "session.created", "session": {"id": "sess_A"}}, 0.0),
    (C, text_turn("weather?"), 0.1),
    (C, {"type": "response.create"}, 0.1),
    (S, created("resp_A1"), 0.4),
    (S, call_done("resp_A1", "item_A1", "call_A1"), 0.6),
    (S, done("resp_A1", [{"id": "item_A1", "type": "function_call", "call_id": "call_A1"}]), 0.7),
    (C, output("call_A1"), 0.8),
    (C, {"type": "response.create"}, 0.8),
    (S, created("resp_A2"), 1.0),
    (S, done("resp_A2"), 1.2),
)


def frame(event: dict) -> str:
    return json.dumps(event)


def drain(plan: ReplayPlan, now: float) -> list:
    """Every action the plan takes at `now` until it has to wait (or is done)."""
    actions = []
    while True:
        action = plan.next(now)
        actions.append(action)
        if isinstance(action, Wait | Done):
            return actions


def test_the_first_event_waits_for_session_created_and_then_goes_out_unchanged():
    plan = ReplayPlan(TOOL_SESSION, pace=Pace.ASAP)
    first = plan.next(0.0)
    assert isinstance(first, Wait) and [str(n) for n in first.until] == ["session.created #1 of turn 0"]
    plan.receive(frame({"type": "session.created", "session": {"id": "sess_B"}}), 0.01)
    actions = drain(plan, 0.01)
    sent = [a for a in actions if isinstance(a, Send)]
    assert [a.frame for a in sent] == [TOOL_SESSION[1].frame, TOOL_SESSION[2].frame]  # byte for byte
    assert isinstance(actions[-1], Wait)


def test_the_tool_output_waits_for_the_call_and_carries_the_targets_call_id():
    plan = ReplayPlan(TOOL_SESSION, pace=Pace.ASAP)
    plan.receive(frame({"type": "session.created"}), 0.0)
    drain(plan, 0.0)
    plan.receive(frame(created("resp_B1")), 0.1)
    waiting = plan.next(0.1)
    assert isinstance(waiting, Wait)
    assert "response.function_call_arguments.done #1 of turn 1" in [str(n) for n in waiting.until]
    plan.receive(frame(call_done("resp_B1", "item_B1", "call_B1")), 0.2)
    plan.receive(frame(done("resp_B1", [{"id": "item_B1", "type": "function_call", "call_id": "call_B1"}])), 0.2)
    send = plan.next(0.2)
    assert isinstance(send, Send)
    assert json.loads(send.frame)["item"]["call_id"] == "call_B1"
    assert send.remapped == {"call_A1": "call_B1"}
    assert plan.counts.remapped == 1 and plan.counts.waited == 1


def test_a_target_that_makes_no_tool_call_gets_the_output_skipped_after_the_timeout():
    plan = ReplayPlan(TOOL_SESSION, pace=Pace.ASAP, timeout=2.0)
    plan.receive(frame({"type": "session.created"}), 0.0)
    drain(plan, 0.0)
    plan.receive(frame(created("resp_B1")), 0.1)
    plan.receive(frame(done("resp_B1", [{"id": "item_B1", "type": "message"}])), 0.2)
    assert isinstance(plan.next(1.0), Wait)  # still within the timeout
    actions = drain(plan, 2.5)
    skip = next(a for a in actions if isinstance(a, Skip))
    assert "call_A1" in skip.why and "call #1 of turn 1" in skip.why
    assert [d.kind for d in plan.divergences] == ["timeout", "skipped"]
    assert plan.counts.timed_out == 1 and plan.counts.skipped == 1
    # The response.create after it still goes out: only the event that names the call is skipped.
    assert any(isinstance(a, Send) and json.loads(a.frame)["type"] == "response.create" for a in actions)


def test_stop_on_divergence_ends_the_plan_at_the_first_divergence():
    plan = ReplayPlan(TOOL_SESSION, pace=Pace.ASAP, timeout=1.0, stop_on_divergence=True)
    plan.receive(frame({"type": "session.created"}), 0.0)
    drain(plan, 0.0)
    assert isinstance(plan.next(5.0), Done)
    assert [d.kind for d in plan.divergences] == ["timeout"] and plan.counts.sent == 2


def test_no_wait_sends_without_waiting_but_still_skips_an_unmapped_reference():
    plan = ReplayPlan(TOOL_SESSION, pace=Pace.ASAP, wait=False)
    actions = drain(plan, 0.0)
    assert [type(a).__name__ for a in actions] == ["Send", "Send", "Skip", "Send", "Wait"]
    assert isinstance(actions[-1], Wait) and actions[-1].until  # the end still waits for the answers


def test_original_pacing_sends_at_the_recorded_offsets():
    recorded = session(
        (C, {"type": "input_audio_buffer.append", "audio": "AAAA"}, 0.5),
        (C, {"type": "input_audio_buffer.append", "audio": "AAAA"}, 0.52),
        (C, {"type": "input_audio_buffer.append", "audio": "AAAA"}, 1.0),
    )
    plan = ReplayPlan(recorded)
    assert plan.next(0.0) == Wait((), 0.5)
    assert isinstance(plan.next(0.5), Send)
    assert plan.next(0.5) == Wait((), pytest.approx(0.52))
    assert isinstance(plan.next(0.52), Send)
    assert plan.next(0.52).deadline == pytest.approx(1.0)


def test_a_pace_factor_scales_the_gaps_and_asap_ignores_them():
    recorded = session(
        (C, {"type": "input_audio_buffer.append", "audio": "AAAA"}, 1.0),
        (C, {"type": "input_audio_buffer.append", "audio": "AAAA"}, 3.0),
    )
    twice = ReplayPlan(recorded, pace=Pace.parse("2"))
    assert twice.next(0.0).deadline == pytest.approx(0.5)
    assert isinstance(twice.next(0.5), Send)
    assert twice.next(0.5).deadline == pytest.approx(1.5)
    asap = ReplayPlan(recorded, pace=Pace.parse("asap"))
    assert [type(a).__name__ for a in drain(asap, 0.0)] == ["Send", "Send", "Done"]


def test_a_wait_that_holds_an_event_moves_the_pacing_anchor_so_later_gaps_are_kept():
    recorded = session(
        (S, {"type": "session.created"}, 0.0),
        (C, {"type": "session.update", "session": {}}, 0.1),
        (S, {"type": "session.updated", "session": {}}, 0.3),
        (C, {"type": "response.create"}, 0.4),
        (C, {"type": "input_audio_buffer.append", "audio": "AAAA"}, 0.6),
    )
    plan = ReplayPlan(recorded)
    plan.receive(frame({"type": "session.created"}), 0.0)
    assert isinstance(plan.next(0.1), Send)
    assert plan.next(0.4).until  # session.updated has not come: held
    plan.receive(frame({"type": "session.updated"}), 2.0)  # a slow target
    assert isinstance(plan.next(2.0), Send)
    assert plan.next(2.0).deadline == pytest.approx(2.2)  # the recorded 200 ms gap, from the late send


def test_audio_appends_never_wait_for_what_server_vad_will_make_of_them():
    recorded = session(
        (C, {"type": "input_audio_buffer.append", "audio": "AAAA"}, 0.0),
        (S, {"type": "input_audio_buffer.speech_started", "item_id": "item_1"}, 0.0),
        (C, {"type": "input_audio_buffer.append", "audio": "AAAA"}, 0.0),
        (S, {"type": "input_audio_buffer.committed", "item_id": "item_1"}, 0.0),
        (C, {"type": "conversation.item.retrieve", "item_id": "item_1"}, 0.0),
    )
    plan = ReplayPlan(recorded, pace=Pace.ASAP)
    actions = drain(plan, 0.0)
    assert [type(a).__name__ for a in actions] == ["Send", "Send", "Wait"]
    assert {str(n) for n in actions[-1].until} == {
        "input_audio_buffer.speech_started #1 of turn 0",
        "input_audio_buffer.committed #1 of turn 1",
    }


def test_item_ids_are_remapped_in_truncate_delete_retrieve_and_previous_item_id_but_client_ids_stay():
    recorded = session(
        (C, {"type": "conversation.item.create", "item": {"id": "mine_1", "type": "message", "role": "user"}}, 0),
        (S, {"type": "conversation.item.added", "item": {"id": "mine_1"}}, 0),
        (C, {"type": "response.create"}, 0),
        (S, created("resp_A"), 0),
        (S, {"type": "response.output_item.added", "response_id": "resp_A", "item": {"id": "item_A"}}, 0),
        (C, {"type": "response.cancel", "response_id": "resp_A"}, 0),
        (C, {"type": "conversation.item.truncate", "item_id": "item_A", "content_index": 0, "audio_end_ms": 5}, 0),
        (C, {"type": "conversation.item.create", "previous_item_id": "item_A", "item": {"id": "mine_1"}}, 0),
        (C, {"type": "response.create", "response": {"input": [{"type": "item_reference", "id": "item_A"}]}}, 0),
        (C, {"type": "conversation.item.delete", "item_id": "mine_1"}, 0),
    )
    plan = ReplayPlan(recorded, pace=Pace.ASAP, wait=False)
    plan.receive(frame({"type": "conversation.item.added", "item": {"id": "mine_1"}}), 0)
    plan.receive(frame(created("resp_B")), 0)
    plan.receive(frame({"type": "response.output_item.added", "response_id": "resp_B", "item": {"id": "item_B"}}), 0)
    sent = [json.loads(a.frame) for a in drain(plan, 0) if isinstance(a, Send)]
    assert sent[2]["response_id"] == "resp_B"
    assert sent[3]["item_id"] == "item_B"
    assert sent[4]["previous_item_id"] == "item_B" and sent[4]["item"]["id"] == "mine_1"
    assert sent[5]["response"]["input"][0]["id"] == "item_B"
    assert sent[6]["item_id"] == "mine_1"  # the client's own id is never remapped
    assert plan.divergences == []


def test_a_target_that_closes_early_is_a_divergence_and_ends_the_plan():
    plan = ReplayPlan(TOOL_SESSION, pace=Pace.ASAP)
    plan.receive(frame({"type": "session.created"}), 0.0)
    drain(plan, 0.0)
    plan.closed("the target closed the connection (1011)")
    assert isinstance(plan.next(0.1), Done)
    assert plan.divergences[0].kind == "closed" and "2 client event(s) not sent" in plan.divergences[0].message


def test_the_end_waits_for_the_originals_last_answer_then_is_done():
    recorded = session((C, {"type": "response.create"}, 0), (S, created("resp_A"), 0), (S, done("resp_A"), 0))
    plan = ReplayPlan(recorded, pace=Pace.ASAP)
    assert isinstance(plan.next(0), Send)
    assert isinstance(plan.next(0), Wait)
    plan.receive(frame(created("resp_B")), 0.1)
    plan.receive(frame(done("resp_B")), 0.2)
    assert isinstance(plan.next(0.2), Done) and plan.divergences == []


@pytest.mark.parametrize("text", ["0", "-1", "nan", "fast"])
def test_a_pace_that_is_not_original_asap_or_a_positive_factor_is_refused(text):
    with pytest.raises(ValueError):
        Pace.parse(text)


# stream_patience: for drivers with no recorded timing (the mock conformance harness), where
# nothing else keeps a stream of appends from overtaking the answer to the event before it.
UPDATE_THEN_AUDIO = session(
    (S, {"type": "session.created"}, 0.0),
    (C, {"type": "session.update", "session": {}}, 0.0),
    (S, {"type": "session.updated", "session": {}}, 0.0),
    (C, {"type": "input_audio_buffer.append", "audio": "AAAA"}, 0.0),
    (C, {"type": "input_audio_buffer.append", "audio": "AAAA"}, 0.0),
    (C, {"type": "response.create"}, 0.0),
)


def test_with_stream_patience_an_append_waits_for_what_preceded_it_then_goes_without_divergence():
    plan = ReplayPlan(UPDATE_THEN_AUDIO, pace=Pace.ASAP, stream_patience=0.5)
    plan.receive(frame({"type": "session.created"}), 0.0)
    assert isinstance(plan.next(0.0), Send)  # the session.update
    held = plan.next(0.0)
    assert held == Wait(held.until, 0.5) and [str(n) for n in held.until] == ["session.updated #1 of turn 0"]
    assert isinstance(plan.next(0.3), Wait)  # still patient
    assert isinstance(plan.next(0.5), Send)  # patience spent: the stream goes on regardless
    assert plan.divergences == [] and plan.counts.timed_out == 0


def test_with_stream_patience_an_append_goes_as_soon_as_the_answer_comes():
    plan = ReplayPlan(UPDATE_THEN_AUDIO, pace=Pace.ASAP, stream_patience=0.5)
    plan.receive(frame({"type": "session.created"}), 0.0)
    plan.next(0.0)
    assert isinstance(plan.next(0.0), Wait)
    plan.receive(frame({"type": "session.updated", "session": {}}), 0.1)
    assert [type(a).__name__ for a in drain(plan, 0.1)] == ["Send", "Send", "Send", "Done"]
    assert plan.counts.waited == 1


def test_an_append_that_ran_out_of_patience_leaves_its_wait_to_the_next_event_that_waits():
    plan = ReplayPlan(UPDATE_THEN_AUDIO, pace=Pace.ASAP, timeout=10.0, stream_patience=0.5)
    plan.receive(frame({"type": "session.created"}), 0.0)
    plan.next(0.0)
    assert isinstance(plan.next(0.0), Wait)
    # The second append does not wait again for what the first gave up on: the stream goes on.
    assert [type(a).__name__ for a in drain(plan, 0.5)] == ["Send", "Send", "Wait"]
    held = plan.next(0.5)
    assert [str(n) for n in held.until] == ["session.updated #1 of turn 0"] and held.deadline == 10.5
    assert isinstance(plan.next(10.5), Send)  # the response.create, after the full timeout
    assert [d.kind for d in plan.divergences] == ["timeout"]


def test_without_stream_patience_the_same_appends_never_wait():
    plan = ReplayPlan(UPDATE_THEN_AUDIO, pace=Pace.ASAP)
    plan.receive(frame({"type": "session.created"}), 0.0)
    assert [type(a).__name__ for a in drain(plan, 0.0)] == ["Send", "Send", "Send", "Wait"]
