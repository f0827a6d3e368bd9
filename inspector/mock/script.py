"""What the mock assistant says and when it calls a function: a tiny line-based script.

Format (one rule a line; blank lines and lines starting with `#` are ignored)::

    when /REGEX/FLAGS say TEXT              answer TEXT when the user's last message matches
    when /REGEX/FLAGS call NAME [with] JSON call function NAME with these arguments
    after NAME say TEXT                     answer TEXT once NAME's output is in (NAME may be *)
    say TEXT                                the answer when no rule matches
    hear TEXT                               the transcript of the user's audio turns, in order
                                            (the last `hear` repeats)

Any answer may go on with ` then say TEXT` or ` then call NAME {JSON}`: one response with several
output items, in order (`say Hello then say Bonjour`, `say Let me look then call lookup {}`).

Rules are tried top to bottom; the first that applies wins. FLAGS are `i` (ignore case) and/or
`s` (dot matches newline). In TEXT and JSON, `$1`..`$9` are the regex groups, and in `after`
rules `$output` is the function's output and `$<arg>` each of the call's JSON arguments.
A `call` rule only fires when the session (or the response) declares a function of that name and
`tool_choice` is not "none", as the real model only calls declared tools.

The user's message is the text of its `input_text` parts, or for audio the transcript (the
`hear` lines: the mock does not recognise speech).
"""

from __future__ import annotations

import dataclasses
import json
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

__all__ = ["DEFAULT_SCRIPT", "Answer", "Script", "ScriptError"]

DEFAULT_SCRIPT = r"""
# Built in: a weather tool round trip (as in the tool_call_round recording), else one sentence.
when /\bweather\b.*?\b(?:in|for|at)\s+([A-Za-z][A-Za-z .'-]*?)[\s?.!]*$/i call get_weather with {"city": "$1"}
after get_weather say $output
say This is a mock response from the offline Realtime server.
hear Hello, this is a test.
"""


class ScriptError(ValueError):
    """A script line that cannot be parsed; the message names the line."""


@dataclass(frozen=True, slots=True)
class Answer:
    """What one response contains: a text (spoken or written) or a function call, then the
    output items in `more`, each one of the same (a response may hold several)."""

    text: str | None = None
    call_name: str | None = None
    call_arguments: str | None = None
    more: tuple[Answer, ...] = ()

    @property
    def outputs(self) -> list[Answer]:
        """Each output item's answer, in order."""
        return [Answer(self.text, self.call_name, self.call_arguments), *self.more]


@dataclass(frozen=True, slots=True)
class _Then:
    """An output after the first: `say TEXT` or `call NAME` with JSON arguments (`body`)."""

    action: str
    body: str
    function: str | None = None


@dataclass(frozen=True, slots=True)
class _Rule:
    kind: str  # "when" or "after"
    action: str  # "say" or "call"
    body: str  # TEXT, or the JSON of a call
    pattern: re.Pattern[str] | None = None
    function: str | None = None  # the call's name, or the `after` rule's function
    then: tuple[_Then, ...] = ()


_VAR = re.compile(r"\$(\w+)")
_WHEN = re.compile(r"when\s+/((?:[^/\\]|\\.)*)/([is]*)\s+(say|call)\s+(.*)$", re.DOTALL)
_CALL = re.compile(r"([A-Za-z_][\w.-]*)\s+(?:with\s+)?(\{.*\})\s*$", re.DOTALL)
_THEN = re.compile(r"\s+then\s+(?=(?:say|call)\s)")
_AFTER = re.compile(r"after\s+(\*|[A-Za-z_][\w.-]*)\s+say\s+(.*)$", re.DOTALL)


def _substitute(template: str, values: dict[str, str], *, json_escape: bool = False) -> str:
    def replace(match: re.Match[str]) -> str:
        value = values.get(match.group(1))
        if value is None:
            return match.group(0)
        return json.dumps(value)[1:-1] if json_escape else value

    return _VAR.sub(replace, template)


def _check_call_json(body: str, number: int) -> None:
    try:
        json.loads(_substitute(body, {str(i): "x" for i in range(10)}, json_escape=True))
    except ValueError as exc:
        raise ScriptError(f"line {number}: the arguments are not JSON: {exc}") from None


def _parse_then(parts: list[str], number: int) -> tuple[_Then, ...]:
    """The outputs after the first: each `say TEXT` or `call NAME [with] {JSON}`."""
    out = []
    for part in parts:
        action, _, rest = part.partition(" ")
        if action == "say":
            out.append(_Then("say", rest.strip()))
            continue
        call = _CALL.match(rest.strip())
        if not call:
            raise ScriptError(f"line {number}: expected `then call NAME with {{JSON}}`")
        _check_call_json(call.group(2), number)
        out.append(_Then("call", call.group(2), call.group(1)))
    return tuple(out)


def _parse_line(line: str, number: int) -> tuple[str, Any]:
    first, *rest = _THEN.split(line)
    kind, value = _parse_first(first, number)
    then = _parse_then(rest, number)
    if kind == "hear" and then:
        raise ScriptError(f"line {number}: `hear` takes no `then`")
    if kind == "say":
        return "say", _Rule("default", "say", value, then=then)
    if isinstance(value, _Rule):
        value = dataclasses.replace(value, then=then)
    return kind, value


def _parse_first(line: str, number: int) -> tuple[str, Any]:
    if line.startswith("say "):
        return "say", line[4:].strip()
    if line.startswith("hear "):
        return "hear", line[5:].strip()
    if m := _AFTER.match(line):
        return "rule", _Rule("after", "say", m.group(2).strip(), function=m.group(1))
    if m := _WHEN.match(line):
        source, flags, action, rest = m.groups()
        try:
            pattern = re.compile(source, (re.IGNORECASE if "i" in flags else 0) | (re.DOTALL if "s" in flags else 0))
        except re.error as exc:
            raise ScriptError(f"line {number}: bad regex /{source}/: {exc}") from None
        if action == "say":
            return "rule", _Rule("when", "say", rest.strip(), pattern=pattern)
        call = _CALL.match(rest)
        if not call:
            raise ScriptError(f"line {number}: expected `call NAME with {{JSON}}`")
        _check_call_json(call.group(2), number)
        return "rule", _Rule("when", "call", call.group(2), pattern=pattern, function=call.group(1))
    raise ScriptError(f"line {number}: expected `when`, `after`, `say` or `hear`: {line[:60]!r}")


@dataclass
class Script:
    rules: list[_Rule] = field(default_factory=list)
    default_text: str = "This is a mock response from the offline Realtime server."
    default_then: tuple[_Then, ...] = ()
    transcripts: list[str] = field(default_factory=lambda: ["Hello, this is a test."])

    @classmethod
    def parse(cls, text: str) -> Script:
        script = cls(transcripts=[])
        for number, raw in enumerate(text.splitlines(), 1):
            line = raw.strip()
            if not line or line.startswith("#"):
                continue
            kind, value = _parse_line(line, number)
            if kind == "say":
                script.default_text, script.default_then = value.body, value.then
            elif kind == "hear":
                script.transcripts.append(value)
            else:
                script.rules.append(value)
        script.transcripts = script.transcripts or Script().transcripts
        return script

    @classmethod
    def load(cls, path: str | Path) -> Script:
        return cls.parse(Path(path).read_text(encoding="utf-8"))

    @classmethod
    def default(cls) -> Script:
        return cls.parse(DEFAULT_SCRIPT)

    def heard(self, turn: int) -> str:
        """What the user said in their `turn`-th audio message (0-based)."""
        return self.transcripts[min(turn, len(self.transcripts) - 1)]

    def answer(self, items: Sequence[dict[str, Any]], tools: Sequence[str]) -> Answer:
        """Decide the next response from the conversation so far and the callable tools."""
        last = items[-1] if items else None
        if last and last.get("type") == "function_call_output":
            return self._after_output(items, last, tools)
        text = _last_user_text(items)
        for rule in self.rules:
            if rule.kind != "when" or rule.pattern is None:
                continue
            match = rule.pattern.search(text)
            if not match:
                continue
            groups = {str(i): g or "" for i, g in enumerate(match.groups(), 1)}
            groups["0"] = match.group(0)
            if rule.action == "say":
                return _chained(Answer(text=_substitute(rule.body, groups)), rule.then, groups, tools)
            if rule.function in tools:
                arguments = json.loads(_substitute(rule.body, groups, json_escape=True))
                first = Answer(call_name=rule.function, call_arguments=json.dumps(arguments))
                return _chained(first, rule.then, groups, tools)
        return self._default(tools)

    def _default(self, tools: Sequence[str], values: dict[str, str] | None = None) -> Answer:
        return _chained(Answer(text=self.default_text), self.default_then, values or {}, tools)

    def _after_output(self, items: Sequence[dict[str, Any]], output: dict[str, Any], tools: Sequence[str]) -> Answer:
        call = next(
            (
                i
                for i in reversed(items)
                if i.get("type") == "function_call" and i.get("call_id") == output.get("call_id")
            ),
            None,
        )
        name = call.get("name") if call else None
        values = {"output": str(output.get("output", ""))}
        try:
            arguments = json.loads(call.get("arguments") or "{}") if call else {}
        except ValueError:
            arguments = {}
        if isinstance(arguments, dict):
            values.update({k: v if isinstance(v, str) else json.dumps(v) for k, v in arguments.items()})
        for rule in self.rules:
            if rule.kind == "after" and rule.function in (name, "*"):
                return _chained(Answer(text=_substitute(rule.body, values)), rule.then, values, tools)
        return self._default(tools, values)


def _chained(first: Answer, then: Sequence[_Then], values: dict[str, str], tools: Sequence[str]) -> Answer:
    """`first` with the `then` outputs; a call of an undeclared function is left out, as the
    real model only calls declared tools."""
    more = []
    for out in then:
        if out.action == "say":
            more.append(Answer(text=_substitute(out.body, values)))
        elif out.function in tools:
            arguments = json.loads(_substitute(out.body, values, json_escape=True))
            more.append(Answer(call_name=out.function, call_arguments=json.dumps(arguments)))
    return dataclasses.replace(first, more=tuple(more))


def _last_user_text(items: Sequence[dict[str, Any]]) -> str:
    for item in reversed(items):
        if item.get("type") == "message" and item.get("role") == "user":
            parts = []
            for part in item.get("content") or []:
                text = part.get("text") if part.get("type") == "input_text" else part.get("transcript")
                if isinstance(text, str):
                    parts.append(text)
            return " ".join(parts)
    return ""
