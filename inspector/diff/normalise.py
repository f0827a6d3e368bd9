"""Normalisation: one event at a time, what of it two recordings should have in common.

Pure: no I/O. A `Normaliser` is fed the events of ONE session in seq order (it numbers the
generated ids it meets in order of first appearance), and turns each parsed frame into a plain
JSON value that compares equal across recordings of the same conversation.
"""

from __future__ import annotations

import enum
import re
from collections.abc import Iterable
from dataclasses import dataclass
from fnmatch import fnmatchcase
from typing import Any

import orjson

from inspector.protocol import AUDIO_FIELDS, Direction, audio_bytes, ga_type

__all__ = [
    "DEFAULT_IGNORE",
    "STRUCTURE_SKIP_TYPES",
    "DiffOptions",
    "Mode",
    "Normaliser",
    "PathError",
    "alignment_key",
    "compile_paths",
]


class Mode(str, enum.Enum):
    EXACT = "exact"  # ids keep their literal values (event_id included)
    CONTENT = "content"  # every field but ids (as placeholders) and the ignored ones
    STRUCTURE = "structure"  # what stays stable against a live model


# What every comparison leaves out unless told to keep it (`--keep PATH`): per-event noise, and
# values that change on every run without the conversation changing.
DEFAULT_IGNORE: tuple[str, ...] = (
    "$..event_id",  # random per event (kept in exact mode)
    "$..obfuscation",  # random padding on deltas
    "$..expires_at",  # a clock value
    "$.rate_limits[*].limit",  # the account's quota numbers, not the conversation's
    "$.rate_limits[*].remaining",
    "$.rate_limits[*].reset_seconds",
    "$.response.usage",  # token counts wobble between runs of the same conversation
)

# Structure mode compares what a live model keeps stable: how it chunks its output into deltas
# is not, and each `.done` event carries what the deltas added up to.
STRUCTURE_SKIP_TYPES: tuple[str, ...] = ("*.delta",)

# Generated ids: a kind prefix and random characters (protocol §2); `call_` ids are shorter.
_ID = re.compile(r"\b(item|resp|call|sess|conv|event)_[A-Za-z0-9]{8,}\b")
_ID_KINDS = ("item_", "resp_", "call_", "sess_", "conv_", "event_")

# Structure mode: the fields kept as they are, and the free text and audio reduced to presence.
_STRUCTURE_KEEP = frozenset({"type", "status", "name", "arguments", "code", "role", "reason", "output"})
_STRUCTURE_PRESENCE = frozenset({"text", "transcript", "delta", "audio", "instructions"})
PRESENT = "<present>"


class PathError(ValueError):
    """An `--ignore`/`--keep` path this module cannot read."""


_SEGMENT = re.compile(r"\.([A-Za-z_][A-Za-z0-9_]*|\*)|\[(\*|\d+)\]|\[\"([^\"]*)\"\]")
_WILD = "*"
_END = None  # trie marker: the path ends here, drop the value


@dataclass(frozen=True)
class CompiledPaths:
    """Paths to drop: `$..name` anywhere, the others as a trie (keys, indexes as ints, `*`)."""

    anywhere: frozenset[str]
    trie: dict[Any, Any]


def compile_paths(paths: Iterable[str]) -> CompiledPaths:
    """`$.a.b`, `$.a[*].b`, `$.a[0]`, `$.*.b`, `$["odd key"]` and `$..name` (a key at any depth)."""
    anywhere: set[str] = set()
    trie: dict[Any, Any] = {}
    for path in paths:
        text = path.strip()
        if not text.startswith("$"):
            raise PathError(f"bad path {path!r}: a path starts with $ (e.g. $.response.usage)")
        if text.startswith("$..") and _is_name(text[3:]):
            anywhere.add(text[3:])
            continue
        node, at = trie, 1
        while at < len(text):
            match = _SEGMENT.match(text, at)
            if match is None:
                raise PathError(f'bad path {path!r} at column {at + 1}: expected .name, [N], [*] or ["key"]')
            name, index, quoted = match.groups()
            step: Any = quoted if quoted is not None else name if name is not None else index
            if index is not None and index != _WILD:
                step = int(index)
            node = node.setdefault(step, {})
            at = match.end()
        if node is trie:
            raise PathError(f"bad path {path!r}: it names the whole event")
        node[_END] = True
    return CompiledPaths(frozenset(anywhere), trie)


def _is_name(text: str) -> bool:
    return re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", text) is not None


@dataclass(frozen=True)
class DiffOptions:
    """What to compare: the mode, paths added to or taken from the default ignore set, event
    types to skip (globs), and the factor above which a turn is called slower."""

    mode: Mode = Mode.CONTENT
    ignore: tuple[str, ...] = ()
    keep: tuple[str, ...] = ()
    skip_types: tuple[str, ...] = ()
    slower_than: float | None = None
    filter_text: str | None = None  # shown in reports; the filter itself is applied by the store

    @property
    def ignored_paths(self) -> tuple[str, ...]:
        # Exact mode compares ids literally, event ids included.
        dropped = {*self.keep, "$..event_id"} if self.mode == Mode.EXACT else set(self.keep)
        defaults = [p for p in DEFAULT_IGNORE if p not in dropped]
        return (*defaults, *(p for p in self.ignore if p not in defaults))

    @property
    def skipped_types(self) -> tuple[str, ...]:
        extra = STRUCTURE_SKIP_TYPES if self.mode == Mode.STRUCTURE else ()
        return (*extra, *(g for g in self.skip_types if g not in extra))

    def skips(self, event_type: str) -> bool:
        return any(fnmatchcase(event_type, glob) for glob in self.skipped_types)


def alignment_key(direction: Direction, event_type: str | None, mode: Mode) -> str:
    """What events align on: direction and type (GA names, but in exact mode)."""
    name = event_type or "(untyped)"
    return f"{direction.value} {name if mode == Mode.EXACT else ga_type(name)}"


# Texts whose normalised form is remembered (see `Normaliser._text`): short ones only, and the
# memory is dropped when full, so that it stays a few MB on any session.
_MEMO_TEXT_CHARS = 200
_MEMO_TEXTS = 10_000
_MEMO_KEYS = 1000
_UNSEEN: Any = object()


class Normaliser:
    """Normalises one session's events, in seq order (ids are numbered as they first appear).

    Called once per event of both sessions (2,000,000 times for a 1M-event diff), so the walk is
    written for speed: strings are handled inline, the trie is consulted only where a path
    can still match, and each text's normalised form is remembered."""

    def __init__(self, options: DiffOptions) -> None:
        self.mode = options.mode
        self.paths = compile_paths(options.ignored_paths)
        self.ids: dict[str, str] = {}
        self._counts = dict.fromkeys(_ID_KINDS, 0)
        self._exact = self.mode == Mode.EXACT
        self._root = (self.paths.trie,)
        self._top: dict[str, Any] = {}  # top-level key -> its trie nodes (`_top_step`)
        # A text's normal form never changes once its ids are numbered, so it can be remembered.
        self._texts: dict[str, str] = {}
        self._types: dict[str, str] = {}  # an event's type -> its normal form

    def event(
        self, event_type: str | None, data: Any, frame: str | bytes | None, *, audio_size: int | None = None
    ) -> Any:
        """The normalised value of one event; `data` is the parsed frame, None when the frame
        is not JSON (then the frame itself is compared: its size when binary). `audio_size` is
        the length of audio the store cut out of the frame (`Store.events(audio="length")`):
        the audio field then reads "" in `data` and compares as that many bytes."""
        if data is None:
            if isinstance(frame, bytes):
                return {"(binary)": len(frame)}
            return {"(not json)": "" if frame is None else self._text(frame)}
        if isinstance(data, dict):
            value: Any = self._walk_event(data, AUDIO_FIELDS.get(event_type or ""), audio_size)
        else:
            value = self._walk(data, self._root)
        return _structure(value) if self.mode == Mode.STRUCTURE else value

    def forget_texts(self) -> None:
        """Drop the remembered texts (a cache) before the normaliser is sent to another process."""
        self._texts = {}

    def _walk_event(self, data: dict[str, Any], audio_field: str | None, audio_size: int | None) -> dict[str, Any]:
        """The top level of an event: its audio field and type first replaced (audio by its
        length, a preview type by its GA name), then walked like any object."""
        out: dict[str, Any] = {}
        top, texts = self._top, self._texts
        for key, item in data.items():
            inner = top.get(key, _UNSEEN)
            if inner is _UNSEEN:
                inner = self._top_step(key)
            if inner is None:
                continue
            if not isinstance(item, str):
                out[key] = self._walk_item(key, item, inner)
            elif key == audio_field:
                size = audio_size if audio_size is not None and item == "" else audio_bytes(item)
                out[key] = PRESENT if self.mode == Mode.STRUCTURE else f"<audio {size} B>"
            elif key == "type":
                out[key] = self._type(item)
            elif key == "audio" and len(item) > 64:
                out[key] = self._audio(item)  # as `_walk_item` would
            elif key == "arguments" and not self._exact:
                out[key] = self._text(json_text(item))  # as `_walk_item` would
            elif "_" not in item:
                out[key] = item  # most values: nothing to replace, and no call to find it out
            else:  # an id, most often, already met: its placeholder is remembered
                found = texts.get(item)
                out[key] = found if found is not None else self._text(item)
        return out

    def _type(self, event_type: str) -> str:
        found = self._types.get(event_type)
        if found is None:
            found = self._text(event_type if self._exact else ga_type(event_type))
            if len(self._types) < _MEMO_KEYS:
                self._types[event_type] = found
        return found

    def _top_step(self, key: str) -> tuple[dict[Any, Any], ...] | None:
        """The trie nodes under a top-level key, None when it is dropped; remembered per key."""
        inner = None if key in self.paths.anywhere else _children(self._root, key)
        if len(self._top) < _MEMO_KEYS:  # a flood of odd keys is not remembered
            self._top[key] = inner
        return inner

    def _walk_item(self, key: Any, item: Any, inner: tuple[dict[Any, Any], ...]) -> Any:
        if type(item) is str:
            if key == "audio" and len(item) > 64:
                return self._audio(item)  # audio inside an item (input_audio content)
            if key == "arguments" and not self._exact:
                item = json_text(item)
            return item if "_" not in item else self._text(item)
        if isinstance(item, dict | list):
            return self._walk(item, inner)
        return self._text(item) if isinstance(item, str) else item

    def _audio(self, b64: str) -> str:
        return PRESENT if self.mode == Mode.STRUCTURE else f"<audio {audio_bytes(b64)} B>"

    def _walk(self, value: Any, nodes: tuple[dict[Any, Any], ...]) -> Any:
        if isinstance(value, str):
            return self._text(value)
        if isinstance(value, dict):
            out = {}
            anywhere = self.paths.anywhere
            for key, item in value.items():
                if key in anywhere:
                    continue
                inner = _children(nodes, key) if nodes else nodes
                if inner is not None:
                    out[key] = self._walk_item(key, item, inner)
            return out
        if isinstance(value, list):
            walked = []
            for index, item in enumerate(value):
                inner = _children(nodes, index) if nodes else nodes
                if inner is not None:
                    walked.append(self._walk_item(index, item, inner))
            return walked
        return value

    def _text(self, text: str) -> str:
        if self._exact or "_" not in text:
            return text
        found = self._texts.get(text)
        if found is not None:
            return found
        if len(text) < 40 and text.startswith(_ID_KINDS) and _ID.fullmatch(text):
            found = self._placeholder(text)
        else:
            found = _ID.sub(lambda m: self._placeholder(m.group(0)), text) if _ID.search(text) else text
        if len(text) <= _MEMO_TEXT_CHARS:
            if len(self._texts) >= _MEMO_TEXTS:
                self._texts.clear()
            self._texts[text] = found
        return found

    def _placeholder(self, generated: str) -> str:
        found = self.ids.get(generated)
        if found is None:
            kind = generated[: generated.index("_") + 1]
            self._counts[kind] += 1
            found = self.ids[generated] = f"<{kind[:-1]} {self._counts[kind]}>"
        return found


def json_text(text: str) -> str:
    """A tool call's arguments as canonical JSON (sorted keys, no spaces) when they parse as an
    object or array: `{ "city": "Paris" }` and `{"city":"Paris"}` are the same call, however a
    model (or the mock) spaces it; anything else unchanged."""
    if not text or text[0] not in "{[ \n\t":
        return text
    try:
        value = orjson.loads(text)
    except orjson.JSONDecodeError:
        return text
    return orjson.dumps(value, option=orjson.OPT_SORT_KEYS).decode() if isinstance(value, dict | list) else text


def _children(nodes: tuple[dict[Any, Any], ...], step: Any) -> tuple[dict[Any, Any], ...] | None:
    """The trie nodes under `step`, or None when a path ends there (the value is dropped)."""
    if not nodes:
        return nodes
    found = []
    for node in nodes:
        for child in (node.get(step), node.get(_WILD)):
            if child is not None:
                if _END in child:
                    return None
                found.append(child)
    return tuple(found)


def _structure(value: Any) -> Any:
    """Types, statuses, names, tool arguments and outputs, error codes; text and audio only as
    present (absent when empty); every other scalar dropped."""
    if isinstance(value, list):
        return [_structure(item) for item in value]
    if not isinstance(value, dict):
        return value
    out = {}
    for key, item in value.items():
        if isinstance(item, dict | list):
            inner = _structure(item)
            if inner or key in _STRUCTURE_KEEP:
                out[key] = inner
        elif key in _STRUCTURE_PRESENCE:
            if item:
                out[key] = PRESENT
        elif key in _STRUCTURE_KEEP:
            out[key] = item
    return out
