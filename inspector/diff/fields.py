"""Field-level differences between two normalised events: the JSON paths and both values.

Pure: no I/O.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

__all__ = ["MISSING", "FieldDiff", "field_diffs", "format_path"]


class _Missing:
    """The value of a field one side does not have."""

    _instance: _Missing | None = None

    def __new__(cls) -> _Missing:
        if cls._instance is None:
            cls._instance = super().__new__(cls)
        return cls._instance

    def __repr__(self) -> str:
        return "MISSING"

    def __bool__(self) -> bool:
        return False


MISSING: Any = _Missing()
_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


@dataclass(frozen=True, slots=True)
class FieldDiff:
    """One differing value: `a` or `b` is `MISSING` when only the other side has the field."""

    path: str
    a: Any
    b: Any

    def to_dict(self) -> dict[str, Any]:
        """`{"path", "a", "b"}`, leaving out the side that does not have the field."""
        out: dict[str, Any] = {"path": self.path}
        if self.a is not MISSING:
            out["a"] = self.a
        if self.b is not MISSING:
            out["b"] = self.b
        return out


def format_path(steps: tuple[str | int, ...]) -> str:
    """`$.response.output[0].name`, with odd keys quoted: `$["a b"]`."""
    parts = ["$"]
    for step in steps:
        if isinstance(step, int):
            parts.append(f"[{step}]")
        elif _NAME.fullmatch(step):
            parts.append(f".{step}")
        else:
            parts.append(f'["{step}"]')
    return "".join(parts)


def field_diffs(a: Any, b: Any) -> list[FieldDiff]:
    """Every leaf (or whole subtree present on one side only) where `a` and `b` differ, in
    document order: A's keys first, then those only B has."""
    out: list[FieldDiff] = []
    _compare(a, b, (), out)
    return out


def _compare(a: Any, b: Any, steps: tuple[str | int, ...], out: list[FieldDiff]) -> None:
    if type(a) is type(b) and not isinstance(a, dict | list) and a == b:
        return  # containers are walked: Python says {"n": 1} == {"n": True}, JSON does not
    if isinstance(a, dict) and isinstance(b, dict):
        for key, value in a.items():
            _compare(value, b.get(key, MISSING), (*steps, key), out)
        for key, value in b.items():
            if key not in a:
                out.append(FieldDiff(format_path((*steps, key)), MISSING, value))
        return
    if isinstance(a, list) and isinstance(b, list):
        for index in range(max(len(a), len(b))):
            left = a[index] if index < len(a) else MISSING
            right = b[index] if index < len(b) else MISSING
            _compare(left, right, (*steps, index), out)
        return
    out.append(FieldDiff(format_path(steps), a, b))
