"""Parameter validation with the error codes and messages of OpenAI's API.

A spec is a tree of small checkers (`Obj`, `Enum`, `Num`, ...). `check(value, path)` returns the
first problem as a `MockError` or None: the real service reports one error per rejected event,
and the event is then rejected whole.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

__all__ = [
    "AnyValue",
    "Base64",
    "Bool",
    "Enum",
    "ListOf",
    "MockError",
    "Nullable",
    "Num",
    "Obj",
    "Spec",
    "Str",
    "StrMap",
    "Tagged",
    "Union",
    "decode_base64",
    "invalid_type",
    "join_values",
    "missing",
    "unknown",
]


@dataclass(frozen=True, slots=True)
class MockError:
    """One `error` event's payload, less the client's event_id which the session adds."""

    code: str
    message: str
    param: str | None = None
    type: str = "invalid_request_error"


def missing(param: str) -> MockError:
    return MockError("missing_required_parameter", f"Missing required parameter: '{param}'.", param)


def unknown(param: str) -> MockError:
    return MockError("unknown_parameter", f"Unknown parameter: '{param}'.", param)


def join_values(values: Sequence[str]) -> str:
    """'a' / 'a' and 'b' / 'a', 'b', and 'c', as OpenAI's messages list supported values."""
    quoted = [f"'{v}'" for v in values]
    if len(quoted) <= 2:
        return " and ".join(quoted)
    return ", ".join(quoted[:-1]) + ", and " + quoted[-1]


def invalid_value(param: str, value: Any, supported: Sequence[str]) -> MockError:
    return MockError(
        "invalid_value",
        f"Invalid value: '{value}'. Supported values are: {join_values(supported)}.",
        param,
    )


_TYPE_NAMES = {
    bool: "a boolean",
    int: "an integer",
    float: "a decimal",
    str: "a string",
    list: "an array",
    dict: "an object",
    type(None): "null",
}


def invalid_type(param: str, expected: str, value: Any) -> MockError:
    got = _TYPE_NAMES.get(type(value), "an unsupported value")
    return MockError(
        "invalid_type",
        f"Invalid type for '{param}': expected {expected}, but got {got} instead.",
        param,
    )


class Spec:
    @property
    def expected(self) -> str:
        """How an error names the type it wanted ("a string"); a class attribute in most specs."""
        return "a value"

    def check(self, value: Any, path: str) -> MockError | None:  # pragma: no cover - abstract
        raise NotImplementedError


class AnyValue(Spec):
    def check(self, value: Any, path: str) -> MockError | None:
        return None


@dataclass
class Str(Spec):
    """A string; `min_length`/`max_length` bound it with OpenAI's `empty_string` and
    `string_above_max_length` errors."""

    min_length: int = 0
    max_length: int | None = None
    expected = "a string"

    def check(self, value: Any, path: str) -> MockError | None:
        if not isinstance(value, str):
            return invalid_type(path, self.expected, value)
        if len(value) < self.min_length:
            return MockError(
                "empty_string",
                f"Invalid '{path}': empty string. Expected a string with minimum length "
                f"{self.min_length}, but got an empty string instead.",
                path,
            )
        if self.max_length is not None and len(value) > self.max_length:
            return MockError(
                "string_above_max_length",
                f"Invalid '{path}': string too long. Expected a string with maximum length "
                f"{self.max_length}, but got a string with length {len(value)} instead.",
                path,
            )
        return None


@dataclass
class StrMap(Spec):
    """`metadata`: an object of at most `max_keys` string values (OpenAI's limits: 16 keys of
    64 characters, values of 512)."""

    max_keys: int = 16
    expected = "an object"

    def check(self, value: Any, path: str) -> MockError | None:
        if not isinstance(value, dict):
            return invalid_type(path, self.expected, value)
        if len(value) > self.max_keys:
            return MockError(
                "object_above_max_properties",
                f"Invalid '{path}': too many properties. Expected an object with at most "
                f"{self.max_keys} properties, but got an object with {len(value)} properties instead.",
                path,
            )
        for key, entry in value.items():
            if error := Str(max_length=64).check(key, f"{path}.key") or Str(max_length=512).check(
                entry, f"{path}.{key}"
            ):
                return error
        return None


def decode_base64(value: Any) -> bytes | None:
    """The bytes of a base64 string, or None when it is not one. Strict (no stray characters,
    padding required): audio the mock cannot decode must be refused, never crash the session."""
    if not isinstance(value, str):
        return None
    try:
        return base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError):
        return None


class Base64(Spec):
    """Base64-encoded audio bytes, refused as the append event's `audio` is."""

    expected = "a string"

    def check(self, value: Any, path: str) -> MockError | None:
        if not isinstance(value, str):
            return invalid_type(path, self.expected, value)
        if decode_base64(value) is None:
            return MockError("invalid_value", f"Invalid '{path}': expected base64-encoded audio bytes.", path)
        return None


class Bool(Spec):
    expected = "a boolean"

    def check(self, value: Any, path: str) -> MockError | None:
        return None if isinstance(value, bool) else invalid_type(path, self.expected, value)


@dataclass
class Num(Spec):
    """A number within [low, high]; `integer` demands an int. `also` admits extra strings."""

    low: float | None = None
    high: float | None = None
    integer: bool = False
    also: tuple[str, ...] = ()

    @property
    def expected(self) -> str:
        return "an integer" if self.integer else "a decimal"

    def check(self, value: Any, path: str) -> MockError | None:
        if isinstance(value, str) and value in self.also:
            return None
        ok_types = (int,) if self.integer else (int, float)
        if isinstance(value, bool) or not isinstance(value, ok_types):
            return invalid_type(path, self.expected, value)
        kind = "integer" if self.integer else "decimal"
        if self.low is not None and value < self.low:
            return MockError(
                f"{kind}_below_min_value",
                f"Invalid '{path}': {kind} below minimum value. Expected a value >= "
                f"{_num(self.low)}, but got {value} instead.",
                path,
            )
        if self.high is not None and value > self.high:
            return MockError(
                f"{kind}_above_max_value",
                f"Invalid '{path}': {kind} above maximum value. Expected a value <= "
                f"{_num(self.high)}, but got {value} instead.",
                path,
            )
        return None


def _num(x: float) -> str:
    return str(int(x)) if float(x).is_integer() else str(x)


class Enum(Spec):
    def __init__(self, *values: str) -> None:
        self.values = values

    expected = "a string"

    def check(self, value: Any, path: str) -> MockError | None:
        if not isinstance(value, str):
            return invalid_type(path, self.expected, value)
        return None if value in self.values else invalid_value(path, value, self.values)


@dataclass
class Nullable(Spec):
    inner: Spec

    @property
    def expected(self) -> str:
        return self.inner.expected

    def check(self, value: Any, path: str) -> MockError | None:
        return None if value is None else self.inner.check(value, path)


@dataclass
class ListOf(Spec):
    item: Spec
    max_length: int | None = None
    non_empty: bool = False
    expected = "an array"

    def check(self, value: Any, path: str) -> MockError | None:
        if not isinstance(value, list):
            return invalid_type(path, self.expected, value)
        if self.non_empty and not value:
            # OpenAI's wording for a required-non-empty array (e.g. chat `messages: []`).
            return MockError(
                "empty_array",
                f"Invalid '{path}': empty array. Expected an array with minimum length 1, but "
                "got an empty array instead.",
                path,
            )
        if self.max_length is not None and len(value) > self.max_length:
            return MockError(
                "array_above_max_length",
                f"Invalid '{path}': array too long. Expected an array with maximum length "
                f"{self.max_length}, but got an array with length {len(value)} instead.",
                path,
            )
        for i, entry in enumerate(value):
            if error := self.item.check(entry, f"{path}[{i}]"):
                return error
        return None


class Obj(Spec):
    """An object with known fields; unknown fields are rejected with their dotted path."""

    expected = "an object"

    def __init__(
        self,
        fields: Mapping[str, Spec],
        required: Sequence[str] = (),
        extra: Callable[[dict[str, Any], str], MockError | None] | None = None,
    ) -> None:
        self.fields = dict(fields)
        self.required = tuple(required)
        self.extra = extra

    def check(self, value: Any, path: str) -> MockError | None:
        if not isinstance(value, dict):
            return invalid_type(path, self.expected, value)
        for key in value:
            if key not in self.fields:
                return unknown(f"{path}.{key}")
        for key in self.required:
            if key not in value:
                return missing(f"{path}.{key}")
        for key, entry in value.items():
            if error := self.fields[key].check(entry, f"{path}.{key}"):
                return error
        return self.extra(value, path) if self.extra else None


class Tagged(Spec):
    """An object whose `type` picks its shape (turn detection, audio format, tools)."""

    expected = "an object"

    def __init__(self, variants: Mapping[str, Obj], default: str | None = None) -> None:
        self.variants = dict(variants)
        self.default = default

    def check(self, value: Any, path: str) -> MockError | None:
        if not isinstance(value, dict):
            return invalid_type(path, self.expected, value)
        kind = value.get("type", self.default)
        if kind is None:
            return missing(f"{path}.type")
        if kind not in self.variants:
            return invalid_value(f"{path}.type", kind, list(self.variants))
        return self.variants[kind].check(value, path)


class Union(Spec):
    """The first alternative that accepts the value wins. Otherwise the error of an alternative
    of the value's own type (a bad voice name is an invalid value, not an invalid type)."""

    def __init__(self, *alternatives: Spec) -> None:
        self.alternatives = alternatives

    def check(self, value: Any, path: str) -> MockError | None:
        errors = []
        for alternative in self.alternatives:
            error = alternative.check(value, path)
            if error is None:
                return None
            errors.append(error)
        return next((e for e in errors if e.code != "invalid_type"), errors[0])
