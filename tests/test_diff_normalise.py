"""The normaliser's fast walk against the plain one it replaced (kept here as the reference),
over generated events: same values, same id numbering, in every mode and with ignore paths."""

from __future__ import annotations

import base64
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from inspector.diff import DiffOptions, Mode
from inspector.diff.normalise import (
    _ID,
    _ID_KINDS,
    PRESENT,
    Normaliser,
    _children,
    _structure,
    compile_paths,
    json_text,
)
from inspector.protocol import AUDIO_FIELDS, audio_bytes, ga_type


class ReferenceNormaliser:
    """The first, plain implementation: copy the event, replace audio and type, walk it all."""

    def __init__(self, options: DiffOptions) -> None:
        self.mode = options.mode
        self.paths = compile_paths(options.ignored_paths)
        self.ids: dict[str, str] = {}
        self.counts = dict.fromkeys(_ID_KINDS, 0)

    def event(self, event_type: str | None, data: Any) -> Any:
        if isinstance(data, dict):
            data = dict(data)
            field = AUDIO_FIELDS.get(event_type or "")
            if field is not None and isinstance(data.get(field), str):
                data[field] = self.audio(data[field])
            if self.mode != Mode.EXACT and isinstance(data.get("type"), str):
                data["type"] = ga_type(data["type"])
        value = self.walk(data, (self.paths.trie,))
        return _structure(value) if self.mode == Mode.STRUCTURE else value

    def audio(self, b64: str) -> str:
        return PRESENT if self.mode == Mode.STRUCTURE else f"<audio {audio_bytes(b64)} B>"

    def walk(self, value: Any, nodes: tuple[dict[Any, Any], ...]) -> Any:
        if isinstance(value, str):
            return self.text(value)
        if isinstance(value, dict):
            out = {}
            for key, item in value.items():
                inner = None if key in self.paths.anywhere else _children(nodes, key)
                if inner is None:
                    continue
                if key == "audio" and isinstance(item, str) and len(item) > 64:
                    out[key] = self.audio(item)
                elif key == "arguments" and isinstance(item, str) and self.mode != Mode.EXACT:
                    out[key] = self.walk(json_text(item), inner)
                else:
                    out[key] = self.walk(item, inner)
            return out
        if isinstance(value, list):
            return [
                self.walk(item, inner) for i, item in enumerate(value) if (inner := _children(nodes, i)) is not None
            ]
        return value

    def text(self, text: str) -> str:
        if self.mode == Mode.EXACT or "_" not in text:
            return text
        return _ID.sub(lambda m: self.placeholder(m.group(0)), text)

    def placeholder(self, generated: str) -> str:
        if generated not in self.ids:
            kind = generated[: generated.index("_") + 1]
            self.counts[kind] += 1
            self.ids[generated] = f"<{kind[:-1]} {self.counts[kind]}>"
        return self.ids[generated]


AUDIO = base64.b64encode(bytes(96)).decode()  # long enough to count as audio inside an item
ids = st.sampled_from(
    ["item_AAAAAAAAAAAA", "item_BBBBBBBBBBBB", "resp_CCCCCCCCCCCC", "call_DDDDDDDD", "event_EEEEEEEE"]
)
texts = st.one_of(
    ids,
    st.just(AUDIO),
    st.sampled_from(["", "hi", "snake_case", "x_y", "QUJD"]),
    st.builds(lambda a, b: f"id {a} and ({b})", ids, ids),
    st.text(alphabet="ab_ ", max_size=6),
)
keys = st.sampled_from(
    ["type", "delta", "audio", "text", "event_id", "obfuscation", "expires_at", "response", "usage", "status", "item",
     "rate_limits", "remaining", "name", "content", "x"]
)  # fmt: skip
scalars = st.one_of(texts, texts, st.integers(-3, 3), st.booleans(), st.none())
values = st.recursive(
    scalars, lambda inner: st.lists(inner, max_size=3) | st.dictionaries(keys, inner, max_size=4), max_leaves=8
)
types = st.sampled_from(
    ["response.audio.delta", "response.output_audio.delta", "input_audio_buffer.append", "x_y", "response.done"]
)
events = st.tuples(types, st.dictionaries(keys, values, max_size=6))
IGNORES = [(), ("$.item.content",), ("$..name", "$.response[*]"), ("$.rate_limits[0]", "$.delta")]


@settings(max_examples=400, deadline=None)
@given(st.lists(events, max_size=6), st.sampled_from(list(Mode)), st.sampled_from(IGNORES), st.booleans())
def test_the_fast_walk_gives_what_the_plain_walk_gave(batch, mode, ignore, keep_usage):
    options = DiffOptions(mode=mode, ignore=ignore, keep=("$.response.usage",) if keep_usage else ())
    fast, plain = Normaliser(options), ReferenceNormaliser(options)
    for event_type, data in batch:
        data = {"type": event_type, **data}
        assert fast.event(event_type, data, None) == plain.event(event_type, data)
    assert fast.ids == plain.ids


@given(st.sampled_from(list(Mode)), st.sampled_from(sorted(AUDIO_FIELDS)))
def test_audio_cut_out_by_the_store_compares_as_the_audio_it_was(mode, event_type):
    field = AUDIO_FIELDS[event_type]
    whole = {"type": event_type, field: AUDIO, "item_id": "item_AAAAAAAAAAAA"}
    cut = {**whole, field: ""}
    options = DiffOptions(mode=mode)
    expected = Normaliser(options).event(event_type, whole, None)
    assert Normaliser(options).event(event_type, cut, None, audio_size=96) == expected
    assert Normaliser(options).event(event_type, cut, None, audio_size=95) != expected or mode == Mode.STRUCTURE


def test_tool_arguments_compare_as_json_but_literally_in_exact_mode():
    spaced = {"type": "response.function_call_arguments.done", "arguments": '{ "city": "Paris",\n "unit": "c" }'}
    tight = {"type": "response.function_call_arguments.done", "arguments": '{"unit":"c","city":"Paris"}'}
    other = {"type": "response.function_call_arguments.done", "arguments": '{"unit":"c","city":"Lyon"}'}
    for mode in (Mode.CONTENT, Mode.STRUCTURE):
        norm = Normaliser(DiffOptions(mode=mode))
        values = [norm.event(e["type"], e, None) for e in (spaced, tight, other)]
        assert values[0] == values[1] != values[2]
    exact = Normaliser(DiffOptions(mode=Mode.EXACT))
    assert exact.event(spaced["type"], spaced, None) != exact.event(tight["type"], tight, None)
    assert json_text("not json {") == "not json {" and json_text('"a string"') == '"a string"'
