"""The filter language on PostgreSQL: a `CompiledFilter` translated to SQL over `e` (events) and
`f` (frames), with the same meaning as on SQLite (`inspector.store.filter`).

The filter's syntax tree is built from a small, fixed set of SQLite condition shapes; each is
rewritten here to PostgreSQL's (globs as anchored regular expressions, `json_extract` as `#>` on
`body::jsonb`, `LIKE` as `ILIKE`), so that the language has one parser and one set of terms.
User text only ever travels as a bound parameter, as on SQLite. One difference: ILIKE folds
case beyond ASCII (SQLite's LIKE folds ASCII letters only).
"""

from __future__ import annotations

import re
from typing import Any

from inspector.store._filter_syntax import And, Cond, Node, Not
from inspector.store.filter import CompiledFilter, parse_filter

__all__ = ["filter_sql", "glob_regex"]

# JSON of a problem-free frame: binary and broken frames are never parsed, as on SQLite, nor a
# body with an escaped NUL (jsonb refuses it; json_extract gives NULL for what it cannot read).
_DOC = "(CASE WHEN e.problem IS NULL AND strpos(f.body, '\\u0000') = 0 THEN f.body::jsonb #> %s::text[] END)"
_FIXED = {
    "e.is_error": "e.is_error <> 0",
    "e.problem IS NOT NULL": "e.problem IS NOT NULL",
    "e.opcode = 2": "e.opcode = 2",
    "e.dir = 0": "e.dir = 0",
    "e.dir = 1": "e.dir = 1",
}
_GLOB = re.compile(r"^(coalesce\(e\.type, ''\)|e\.\w+) GLOB \?$")
_EQUAL = re.compile(r"^(e\.\w+) = \?$")
_COMPARE = re.compile(r"^(e\.size|e\.t_ns|\{seq\}) (>=|<=|!=|>|<|=) \?$")
_JSON = re.compile(
    r"^\(CASE WHEN e\.problem IS NULL THEN json_extract\(f\.body, \?\) END\) (IS NOT NULL|IS NULL|>=|<=|!=|>|<|=)"
)


def glob_regex(pattern: str) -> str:
    """SQLite's GLOB (as `filter` writes it: `*`, `?`, `[...]`, `[^...]`, case-sensitive) as an
    anchored POSIX regular expression."""
    out = ["^"]
    i = 0
    while i < len(pattern):
        c = pattern[i]
        # A class's first character (after a `^`) may be `]` itself, as in fnmatch.
        end = pattern.find("]", i + 2 + (pattern[i + 1 : i + 2] == "^")) if c == "[" else -1
        if c == "*":
            out.append(".*")
        elif c == "?":
            out.append(".")
        elif end > 0:
            body = pattern[i + 1 : end]
            negate = body.startswith("^")
            body = body[1:] if negate else body
            out.append("[" + ("^" if negate else "") + body.replace("\\", "\\\\").replace("[", "\\[") + "]")
            i = end
        else:
            out.append(re.escape(c))
        i += 1
    return "".join(out) + "$"


def _json_path(path: str) -> list[str]:
    """`$.a.b[0]` as the text array `#>` takes: ['a', 'b', '0']."""
    return re.findall(r"[A-Za-z_][A-Za-z0-9_]*|[0-9]+", path[1:])


def _json_cond(op: str, params: tuple[Any, ...]) -> tuple[str, list[Any]]:
    path = _json_path(params[0])
    if op == "IS NULL":  # a missing member and a JSON null alike, as json_extract reads them
        return f"coalesce({_DOC}, 'null'::jsonb) = 'null'::jsonb", [path]
    if op == "IS NOT NULL":
        return f"coalesce({_DOC}, 'null'::jsonb) <> 'null'::jsonb", [path]
    value = params[1]
    if op in ("=", "!="):
        if isinstance(value, int | float):
            same = f"{_DOC} = to_jsonb(%s::numeric)"
            args: list[Any] = [path, value]
            if value in (0, 1):  # json_extract reads true/false as 1/0, as the filter writes them
                same = f"({_DOC} IN (to_jsonb(%s::numeric), %s::jsonb))"
                args.append("true" if value else "false")
            return (same if op == "=" else f"NOT {same}"), args
        return f"{_DOC} {'=' if op == '=' else '<>'} to_jsonb(%s::text)", [path, value]
    # < > <= >= compare numbers (the filter only takes a number there).
    number = f"(CASE WHEN jsonb_typeof({_DOC}) = 'number' THEN ({_DOC})::numeric END)"
    return f"{number} {op} %s::numeric", [path, path, value]


def _cond(cond: Cond, seq: str) -> tuple[str, list[Any]]:
    sql, params = cond.sql, cond.params
    if sql in _FIXED:
        return _FIXED[sql], []
    if m := _GLOB.match(sql):
        return f"{m.group(1)} ~ %s", [glob_regex(params[0])]
    if m := _EQUAL.match(sql):
        return f"{m.group(1)} = %s", [params[0]]
    if m := _COMPARE.match(sql):
        column = seq if m.group(1) == "{seq}" else m.group(1)
        return f"{column} {'<>' if m.group(2) == '!=' else m.group(2)} %s", [params[0]]
    if m := _JSON.match(sql):
        return _json_cond(m.group(1), params)
    if sql.startswith("f.body LIKE ?"):
        # The pattern is already LIKE-escaped with backslashes, PostgreSQL's default escape.
        return "f.body ILIKE %s", [params[0]]
    raise AssertionError(f"a filter condition with no PostgreSQL form: {sql}")


def _node(node: Node, seq: str) -> tuple[str, list[Any]]:
    if isinstance(node, Cond):
        return _cond(node, seq)
    if isinstance(node, Not):
        sql, params = _node(node.child, seq)
        return f"NOT coalesce(({sql}), false)", params  # NULL-safe, as on SQLite
    parts, params = [], []
    for child in node.children:
        sql, child_params = _node(child, seq)
        parts.append(f"({sql})")
        params += child_params
    return (" AND " if isinstance(node, And) else " OR ").join(parts), params


def filter_sql(compiled: CompiledFilter, *, seq: str) -> tuple[str, list[Any]]:
    """The WHERE clause and its parameters for `compiled` (`seq`: the SQL for an event's seq)."""
    node = parse_filter(compiled.text)
    return ("true", []) if node is None else _node(node, seq)
