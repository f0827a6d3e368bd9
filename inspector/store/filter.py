"""The filter language: one line of text → a `CompiledFilter` for `Store.seqs_matching`.

    type:response.*          glob on the event type, any case -type:*.delta  negation (any term)
    dir:client  dir:server   direction                       item:ID response:ID call:ID event:ID
    is:error                 errors, failed responses, problem frames (also is:problem, is:binary)
    size>10kb  size<=512     frame size (b, kb, mb; 1 kb = 1024 B)
    t>2.5s  t<1m  t>=300ms   time since the session started (s when no unit)
    seq>100                  the event's position in the session
    $.response.status=cancelled   a JSON path compared with = != (numbers, true, false, null
                             or text; quote text with spaces: $.item.name="a b") or with
                             < > <= >= (numbers only)
    hello "two words"        case-insensitive text search in the frame, audio excluded
    a OR b, (a OR b) c       OR, parentheses; terms next to each other are ANDed (AND optional)

`compile_filter(text)` returns a `CompiledFilter` or raises `FilterError` (with the 0-based
position of the offending token), and never anything else. User text only ever reaches SQLite
as a bound parameter: the SQL string is assembled from constant fragments. Globs (type:, ids)
mean what `fnmatch` means (`[!x]` negates), translated to SQLite's GLOB in one place; a type
pattern is matched in lower case, as Realtime event types are written. `filter_term(key, value)`
writes one term, quoted, for commands whose options are sugar for the language
(`inspector events --type --dir`).

Pure code: no I/O.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from inspector.store._filter_syntax import And, Cond, FilterError, Node, Not, Parser, Token

__all__ = [
    "CompiledFilter",
    "FilterError",
    "compile_filter",
    "filter_term",
    "filter_value",
    "parse_filter",
]


# --- terms ----------------------------------------------------------------------------------

_COMPARE = re.compile(r"^(size|t|seq)(>=|<=|!=|>|<|=)(.*)$", re.S)
_JSON_PATH = re.compile(r"^\$((?:\.[A-Za-z_][A-Za-z0-9_]*|\[[0-9]{1,6}\])*)(>=|<=|!=|>|<|=)(.*)$", re.S)
_NUMBER = re.compile(r"^-?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)$")
_INT_LIMIT = 2**62  # larger numbers are compared as floats (SQLite integers are 64-bit)
_SIZE_UNITS = {"": 1, "b": 1, "kb": 1024, "k": 1024, "mb": 1024**2, "m": 1024**2, "gb": 1024**3}
_TIME_UNITS = {"": 1e9, "s": 1e9, "ms": 1e6, "us": 1e3, "m": 60e9, "min": 60e9, "h": 3600e9}
_ID_COLUMNS = {
    "item": "e.item_id",
    "response": "e.response_id",
    "call": "e.call_id",
    "event": "e.event_id",
}
_IS = {
    "error": Cond("e.is_error"),  # written exactly as the partial index's WHERE, so it is used
    "problem": Cond("e.problem IS NOT NULL"),
    "binary": Cond("e.opcode = 2"),
    "client": Cond("e.dir = 0"),
    "server": Cond("e.dir = 1"),
}
_DIRS = {"client": Cond("e.dir = 0"), "server": Cond("e.dir = 1")}
_GLOB_CHARS = set("*?[")
KEYS = ("type", "dir", "is", *_ID_COLUMNS)
# Where a condition reads an event's seq: the store substitutes its own expression, so that how
# events are keyed stays the store's business (see `CompiledFilter.sql`).
SEQ = "{seq}"
_ORDERING = (">", "<", ">=", "<=")
_OPERATOR_CHARS = "=<>!"
_ASCII_LOWER = str.maketrans("ABCDEFGHIJKLMNOPQRSTUVWXYZ", "abcdefghijklmnopqrstuvwxyz")


def _sqlite_glob(pattern: str) -> str:
    """An fnmatch-style glob as SQLite's GLOB reads it: `[!x]` is SQLite's `[^x]`."""
    return pattern.replace("[!", "[^")


def _type_term(value: str) -> Cond:
    """Types match case-insensitively by folding the pattern (ASCII, as SQLite's lower() does):
    every Realtime event type is lower case, and the stored column stays comparable as it is, so
    an exact type seeks the (type, id) index. Frames without a type (binary, not JSON) have the
    type "" for globs, so `type:*` matches every event."""
    folded = value.translate(_ASCII_LOWER)
    if _GLOB_CHARS & set(value):
        return Cond("coalesce(e.type, '') GLOB ?", (_sqlite_glob(folded),))
    return Cond("e.type = ?", (folded,))


def _term(tok: Token) -> Node:
    text = tok.text
    if tok.quoted:
        return _text_search(text, tok.pos)
    if text.startswith("$"):
        return _json_term(tok)
    if m := _COMPARE.match(text):
        return _comparison(m.group(1), m.group(2), m.group(3), tok.pos)
    key, colon, value = text.partition(":")
    if colon and key.isidentifier():
        return _key_term(key.lower(), value, tok)
    return _text_search(text, tok.pos)


def _key_term(key: str, value: str, tok: Token) -> Node:
    value_pos = tok.pos + len(key) + 1
    if not value:
        raise FilterError(f"'{key}:' needs a value", value_pos)
    if key == "type":
        return _type_term(value)
    if key == "dir":
        cond = _DIRS.get(value.lower())
        if cond is None:
            raise FilterError("dir: is client or server", value_pos)
        return cond
    if key == "is":
        cond = _IS.get(value.lower())
        if cond is None:
            raise FilterError(f"is: is one of {', '.join(_IS)}", value_pos)
        return cond
    if key in _ID_COLUMNS:
        column = _ID_COLUMNS[key]
        if _GLOB_CHARS & set(value):
            return Cond(f"{column} GLOB ?", (_sqlite_glob(value),))
        return Cond(f"{column} = ?", (value,))
    raise FilterError(
        f"unknown field '{key}' (use {', '.join(k + ':' for k in KEYS)}, or quote the text)",
        tok.pos,
    )


def _number(value: str, units: Mapping[str, float], what: str, pos: int) -> float:
    m = re.match(r"^(-?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+))([a-zA-Z]*)$", value)
    if not m or m.group(2).lower() not in units:
        raise FilterError(f"{what} expects a number with a unit ({', '.join(u for u in units if u)})", pos)
    n = float(m.group(1)) * units[m.group(2).lower()]
    return max(-_INT_LIMIT, min(_INT_LIMIT, n))


def _comparison(key: str, op: str, value: str, pos: int) -> Node:
    value_pos = pos + len(key) + len(op)
    if not value:
        raise FilterError(f"'{key}{op}' needs a value", value_pos)
    sql_op = "!=" if op == "!=" else op
    if key == "size":
        n = _number(value, _SIZE_UNITS, "size", value_pos)
        return Cond(f"e.size {sql_op} ?", (int(n),))
    if key == "t":
        n = _number(value, _TIME_UNITS, "t", value_pos)
        return Cond(f"e.t_ns {sql_op} ?", (int(n),))
    if not re.fullmatch(r"[0-9]{1,10}", value):
        raise FilterError("seq expects a whole number", value_pos)
    return Cond(f"{SEQ} {sql_op} ?", (int(value),))


def filter_value(raw: str) -> Any:
    """What a JSON-path comparison compares with: a number, true/false (1/0), null, or text."""
    if _NUMBER.match(raw):
        number = float(raw) if "." in raw else int(raw)
        return number if abs(number) < _INT_LIMIT else float(raw)
    return {"true": 1, "false": 0, "null": None}.get(raw, raw)


def _json_term(tok: Token) -> Node:
    text = tok.text
    m = _JSON_PATH.match(text)
    if not m:
        raise FilterError(
            "a JSON path looks like $.response.status=completed or $.item.content[0].type=text",
            tok.pos,
        )
    path, op, raw = m.group(1), m.group(2), m.group(3)
    if not path:
        raise FilterError("the JSON path needs at least one field after $", tok.pos)
    value_pos = tok.pos + 1 + len(path) + len(op)
    quoted = tok.raw[1 + len(path) + len(op) :].startswith('"')
    if not raw and not quoted:
        raise FilterError(f"'{op}' needs a value", value_pos)
    if not quoted and raw[0] in _OPERATOR_CHARS:
        # `$.a==x` or `$.a=<3`: a second operator is a typo, not text to compare with.
        raise FilterError(f"'{op}{raw[0]}' is not an operator (use = != < > <= >=, or quote the text)", value_pos)
    if op in _ORDERING and (quoted or not _NUMBER.match(raw)):
        raise FilterError(f"'{op}' compares numbers: {raw!r} is not a number", value_pos)
    value = raw if quoted else filter_value(raw)
    # Problem frames (binary, not JSON) are never parsed: CASE guarantees the order.
    extract = "(CASE WHEN e.problem IS NULL THEN json_extract(f.body, ?) END)"
    if value is None:
        sql = f"{extract} IS NULL" if op == "=" else f"{extract} IS NOT NULL"
        if op not in ("=", "!="):
            raise FilterError("null can only be compared with = or !=", value_pos)
        return Cond(sql, ("$" + path,), True)
    return Cond(f"{extract} {op} ?", ("$" + path, value), True)


def _text_search(text: str, pos: int) -> Node:
    if not text:
        raise FilterError("empty search text", pos)
    escaped = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return Cond("f.body LIKE ? ESCAPE '\\'", (f"%{escaped}%",), True)


# --- compiling ------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class CompiledFilter:
    """A filter ready for `Store.seqs_matching`. Callers pass it whole; only the store reads
    its parts: `where` (SQL over `e` events and `f` frames, with `SEQ` where a seq is read),
    `params`, `needs_frames` (whether `f` is joined) and `after_seq` (only later events)."""

    text: str
    where: str = "1"
    params: tuple[Any, ...] = ()
    needs_frames: bool = False
    empty: bool = field(default=True)
    after_seq: int | None = None

    def and_after(self, seq: int) -> CompiledFilter:
        """The same filter restricted to events after `seq` (live tail)."""
        return replace(self, after_seq=seq, empty=False)

    def sql(self, *, seq: str) -> str:
        """`where` with the backend's expression for an event's seq (constant SQL, never user
        text, so the substitution cannot inject anything)."""
        return self.where.replace(SEQ, seq)


def filter_term(key: str, value: str) -> str:
    """One `key:value` term with the value quoted, whatever it holds (spaces, quotes,
    parentheses): how an option such as `--type GLOB` becomes filter text."""
    escaped = value.replace("\\", "\\\\").replace('"', '\\"')
    return f'{key}:"{escaped}"'


def _sql(node: Node) -> tuple[str, list[Any], bool]:
    if isinstance(node, Cond):
        return node.sql, list(node.params), node.needs_frames
    if isinstance(node, Not):
        sql, params, frames = _sql(node.child)
        # NULL-safe: a row whose column is NULL does match a negated condition.
        return f"NOT coalesce(({sql}), 0)", params, frames
    joiner = " AND " if isinstance(node, And) else " OR "
    parts, params, frames = [], [], False
    for child in node.children:
        sql, child_params, child_frames = _sql(child)
        parts.append(f"({sql})")
        params.extend(child_params)
        frames = frames or child_frames
    return joiner.join(parts), params, frames


def parse_filter(text: str) -> Node | None:
    """The syntax tree of a filter, None when it is empty; raises FilterError."""
    if not isinstance(text, str):
        raise FilterError("a filter is text", 0)
    if "\x00" in text:
        raise FilterError("NUL characters are not allowed", text.index("\x00"))
    return Parser(text, _term).parse()


def compile_filter(text: str) -> CompiledFilter:
    """Compile a filter; raises FilterError (never another exception) when it is wrong."""
    try:
        node = parse_filter(text)
    except FilterError:
        raise
    except RecursionError:
        raise FilterError("too deeply nested", 0) from None
    if node is None:
        return CompiledFilter(text)
    try:
        where, params, frames = _sql(node)
    except RecursionError:
        raise FilterError("too deeply nested", 0) from None
    return CompiledFilter(text, where, tuple(params), frames, False)
