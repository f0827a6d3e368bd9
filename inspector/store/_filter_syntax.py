"""The filter language's syntax: tokens, the tree and the parser (terms are `filter.py`'s).

Pure code: no I/O.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

__all__ = ["And", "Cond", "FilterError", "Node", "Not", "Or", "Parser", "Token"]


class FilterError(ValueError):
    """A filter that cannot be understood; `position` is where the bad token starts."""

    def __init__(self, message: str, position: int) -> None:
        super().__init__(f"{message} (at column {position + 1})")
        self.message = message
        self.position = position

    def caret(self, text: str) -> str:
        """The filter with a `^` under the bad token, for a one-line terminal error."""
        return f"{text}\n{' ' * self.position}^"


# --- tokens ---------------------------------------------------------------------------------

_LPAREN, _RPAREN, _OR, _AND, _NOT, _TERM = "(", ")", "OR", "AND", "-", "term"


@dataclass(frozen=True, slots=True)
class Token:
    kind: str
    pos: int
    text: str = ""  # the term's text, quotes removed
    quoted: bool = False  # the whole term was one quoted phrase
    raw: str = ""  # the term as typed


def _read_term(text: str, i: int) -> tuple[str, bool, int]:
    """A term runs to whitespace or a parenthesis; double quotes inside keep spaces and
    parentheses (backslash escapes a quote). Returns (value, fully_quoted, end)."""
    out: list[str] = []
    start = i
    quoted_parts = 0
    while i < len(text) and not text[i].isspace() and text[i] not in "()":
        if text[i] == '"':
            quote_at = i
            i += 1
            while i < len(text) and text[i] != '"':
                if text[i] == "\\" and i + 1 < len(text):
                    i += 1
                out.append(text[i])
                i += 1
            if i >= len(text):
                raise FilterError("unterminated quote", quote_at)
            i += 1
            quoted_parts += 1
        else:
            out.append(text[i])
            i += 1
    fully_quoted = quoted_parts == 1 and text[start] == '"' and text[i - 1] == '"'
    return "".join(out), fully_quoted, i


def _tokenize(text: str) -> list[Token]:
    tokens: list[Token] = []
    i = 0
    while i < len(text):
        ch = text[i]
        if ch.isspace():
            i += 1
        elif ch in "()":
            tokens.append(Token(ch, i))
            i += 1
        elif ch == "-" and i + 1 < len(text) and not text[i + 1].isspace():
            tokens.append(Token(_NOT, i))
            i += 1
        else:
            value, quoted, end = _read_term(text, i)
            if not quoted and value in ("OR", "AND"):
                tokens.append(Token(value, i))
            elif not quoted and value == "-":
                raise FilterError("'-' must be followed by a term", i)
            else:
                tokens.append(Token(_TERM, i, value, quoted, text[i:end]))
            i = end
    return tokens


# --- syntax tree ----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Cond:
    """One condition: a SQL fragment made of constants, with its parameters."""

    sql: str
    params: tuple[Any, ...] = ()
    needs_frames: bool = False


@dataclass(frozen=True, slots=True)
class Not:
    child: Node


@dataclass(frozen=True, slots=True)
class And:
    children: tuple[Node, ...]


@dataclass(frozen=True, slots=True)
class Or:
    children: tuple[Node, ...]


Node = Cond | Not | And | Or


class Parser:
    """expr := and ('OR' and)* ; and := unary ('AND'? unary)* ; unary := '-' unary | atom ;
    atom := '(' expr ')' | term"""

    def __init__(self, text: str, term: Callable[[Token], Node]) -> None:
        self.text = text
        self.term = term
        self.tokens = _tokenize(text)
        self.i = 0

    def peek(self) -> Token | None:
        return self.tokens[self.i] if self.i < len(self.tokens) else None

    def take(self) -> Token:
        tok = self.tokens[self.i]
        self.i += 1
        return tok

    def parse(self) -> Node | None:
        if not self.tokens:
            return None
        node = self.expr()
        tok = self.peek()
        if tok is not None:  # only a stray ')' can stop expr early
            raise FilterError("unbalanced ')'", tok.pos)
        return node

    def expr(self) -> Node:
        parts = [self.conj()]
        while (tok := self.peek()) is not None and tok.kind == _OR:
            self.take()
            parts.append(self.conj())
        return parts[0] if len(parts) == 1 else Or(tuple(parts))

    def conj(self) -> Node:
        parts = [self.unary()]
        while (tok := self.peek()) is not None and tok.kind not in (_OR, _RPAREN):
            if tok.kind == _AND:
                self.take()
            parts.append(self.unary())
        return parts[0] if len(parts) == 1 else And(tuple(parts))

    def unary(self) -> Node:
        tok = self.peek()
        if tok is None:
            raise FilterError("a term is missing at the end", len(self.text))
        if tok.kind == _NOT:
            self.take()
            if self.peek() is None or self.peek().kind in (_OR, _AND, _RPAREN):  # type: ignore[union-attr]
                raise FilterError("'-' must be followed by a term", tok.pos)
            return Not(self.unary())
        return self.atom()

    def atom(self) -> Node:
        tok = self.take()
        if tok.kind == _LPAREN:
            if (nxt := self.peek()) is not None and nxt.kind == _RPAREN:
                raise FilterError("empty parentheses", tok.pos)
            node = self.expr()
            close = self.peek()
            if close is None or close.kind != _RPAREN:
                raise FilterError("'(' is never closed", tok.pos)
            self.take()
            return node
        if tok.kind == _TERM:
            return self.term(tok)
        what = {"OR": "OR", "AND": "AND", ")": "')'"}.get(tok.kind, tok.kind)
        raise FilterError(f"{what} needs a term before it", tok.pos)
