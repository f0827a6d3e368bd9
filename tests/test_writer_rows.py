"""The writer's short path for audio frames makes exactly the rows the general one makes."""

from __future__ import annotations

import base64

from hypothesis import given, settings
from hypothesis import strategies as st

from inspector.protocol import Direction
from inspector.store._codec import _audio_rows, event_rows, frame_rows, join_frame
from inspector.store.values import FrameIn

AUDIO = base64.b64encode(bytes(range(256)) * 4).decode()  # 1,368 characters, canonical


def _fill(template: str, *values: str) -> str:
    for value in values:
        template = template.replace("@", value, 1)
    return template


TRICKY = [
    _fill('{"type":"input_audio_buffer.append","audio":"@"}', AUDIO),
    _fill('{"type":"input_audio_buffer.append","event_id":"évt_1","audio":"@"}', AUDIO),  # non-ASCII before
    _fill('{"type":"response.output_audio.delta","response_id":"r","item_id":"i","delta":"@","x":"ü"}', AUDIO),
    _fill('{"type":"response.audio.delta","delta":"@"}', AUDIO),
    _fill('{"type":"input_audio_buffer.append", "audio": "@"}', AUDIO),  # spaced: the general way
    _fill('{"type":"input_audio_buffer.append","audio":"@"}', AUDIO.replace("/", "\\/")),  # escaped slashes
    _fill('{"type":"input_audio_buffer.append","audio":"@","audio":"@"}', AUDIO, AUDIO[:-4]),  # twice
    _fill('{"type":"input_audio_buffer.append","audio" : "@","audio":"@"}', AUDIO[4:], AUDIO),
    _fill('{"type":"input_audio_buffer.append","x":{"audio":"@"}}', AUDIO),  # nested, not the field
    _fill('{"type":"input_audio_buffer.append","x":{"audio":"@"},"audio":"@"}', AUDIO, AUDIO),
    _fill('{"type":"input_audio_buffer.append","event_id":"@","audio":"@"}', AUDIO, AUDIO),  # value twice
    _fill('{"type":"input_audio_buffer.append","audio":"@","event_id":"sk-abcdefghij012345678"}', AUDIO),  # a key
    _fill('{"type":"input_audio_buffer.append","audio":"@","e":"sk\\u002dabcdefghij0123456"}', AUDIO),  # escaped
    _fill('{"type":"input_audio_buffer.append","audio":"@"}', AUDIO[:-2] + "B="),  # not canonical
    _fill('{"type":"input_audio_buffer.append","audio":"@"}', AUDIO[:-1]),  # bad padding
    '{"type":"input_audio_buffer.append","audio":"QUJD"}',  # short
    _fill('{"type":"conversation.item.create","audio":"@"}', AUDIO),  # not an audio event
    _fill('{"type":"response.output_audio.delta","audio":"@"}', AUDIO),  # not its audio field
    _fill('{"type":"input_audio_buffer.append","audio":"@"', AUDIO),  # not JSON
    _fill('["input_audio_buffer.append",{"audio":"@"}]', AUDIO),  # not an object
    '{"type":"error","error":{"message":"bad"}}',
]


def _check(text: str, is_server: int = 0) -> None:
    direction = Direction.SERVER if is_server else Direction.CLIENT
    general = event_rows(7, 3, FrameIn(direction, 123, text))
    short = frame_rows(7, 3, is_server, 123, text)
    assert short == general
    body = short[1]
    assert join_frame(body.body, body.audio, body.audio_at) == text or "sk-" in text or "sk\\u002d" in text


def test_tricky_frames_give_the_same_rows_both_ways():
    # The first four take the short path (else this test would compare the general way to itself).
    assert all(_audio_rows(7, 3, Direction.CLIENT, 123, text) for text in TRICKY[:4])
    for text in TRICKY:
        _check(text)
        _check(text, is_server=1)
    raw = bytes(range(256))
    assert frame_rows(1, 1, 1, 5, raw) == event_rows(1, 1, FrameIn(Direction.SERVER, 5, raw))


_pieces = st.sampled_from(
    ['"type":"input_audio_buffer.append"', '"type":"response.output_audio.delta"', f'"audio":"{AUDIO}"',
     f'"delta":"{AUDIO}"', '"event_id":"e1"', '"x":{"audio":"QUJDRA=="}', '"k":"sk-abcdefghij012345678"',
     '"t":"ünï"', f'"a":"{AUDIO[:40]}"', '"response":{"id":"r1","status":"failed"}', '"audio":""']
)  # fmt: skip


@settings(max_examples=300, deadline=None)
@given(st.lists(_pieces, max_size=6))
def test_generated_frames_give_the_same_rows_both_ways(pieces):
    _check("{" + ",".join(pieces) + "}")
