"""Derived features: `--feature "value = MntWines + MntFruits"`, parsed into a tree and compiled to SQL.

The language is small on purpose: column names (bare, or in double quotes when they hold spaces or
symbols), numbers, + - * / (also × and ÷), parentheses, unary minus, and a few named functions:
days_since(COLUMN[, 'FORMAT']), years_since(COLUMN[, 'FORMAT']), abs(X), log1p(X). Column names are
resolved to the reader's generated column names (c0, c1, ...) and numbers and formats become bound
parameters, so nothing the user typed is pasted into SQL. A division by zero, a date that does not parse
or a missing value gives NULL, which cleaning counts as a missing feature.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date

from segmentation.errors import InputError

FUNCTIONS = {"days_since": (1, 2), "years_since": (1, 2), "abs": (1, 1), "log1p": (1, 1)}
DATE_FUNCTIONS = ("days_since", "years_since")
DEFAULT_DATE_FORMAT = "%Y-%m-%d"
_TOKEN = re.compile(
    r"""\s*(?:
        (?P<number>\d+(?:\.\d*)?(?:[eE][+-]?\d+)?|\.\d+(?:[eE][+-]?\d+)?)
      | (?P<name>[A-Za-z_][A-Za-z0-9_]*)
      | "(?P<quoted>[^"]+)"
      | '(?P<text>[^']*)'
      | (?P<op>[-+*/×÷(),=])
    )""",
    re.VERBOSE,
)


@dataclass(frozen=True)
class Number:
    value: float


@dataclass(frozen=True)
class Column:
    name: str


@dataclass(frozen=True)
class Text:
    value: str


@dataclass(frozen=True)
class Unary:
    operand: Node


@dataclass(frozen=True)
class Binary:
    op: str  # one of + - * /
    left: Node
    right: Node


@dataclass(frozen=True)
class Call:
    function: str
    args: tuple[Node, ...]


Node = Number | Column | Text | Unary | Binary | Call


@dataclass(frozen=True)
class Derived:
    """One --feature: its name, its expression tree and the text the user gave."""

    name: str
    expression: Node
    source: str

    def columns(self) -> tuple[str, ...]:
        """The column names the expression reads, in first-use order."""
        seen: list[str] = []

        def walk(node: Node) -> None:
            if isinstance(node, Column) and node.name not in seen:
                seen.append(node.name)
            elif isinstance(node, Unary):
                walk(node.operand)
            elif isinstance(node, Binary):
                walk(node.left)
                walk(node.right)
            elif isinstance(node, Call):
                for arg in node.args:
                    walk(arg)

        walk(self.expression)
        return tuple(seen)


def parse(text: str) -> Derived:
    """`NAME = EXPRESSION` as a tree; anything else is one sentence naming the text and the problem."""
    tokens = _tokens(text)
    if len(tokens) < 3 or tokens[0][0] not in ("name", "quoted") or tokens[1] != ("op", "="):
        raise _error(text, 'expected NAME = EXPRESSION, e.g. "value = MntWines + MntFruits"')
    parser = _Parser(text, tokens[2:])
    expression = parser.expression()
    if parser.pos < len(parser.tokens):
        raise _error(text, f"unexpected {_show(parser.tokens[parser.pos])} after a complete expression")
    if isinstance(expression, Text):
        raise _error(text, "a text on its own is not a number")
    return Derived(tokens[0][1], expression, text)


def compile_sql(
    derived: Derived,
    number: Callable[[str], str],
    text: Callable[[str], str],
    as_of: date,
) -> tuple[str, list[object]]:
    """SQL for the expression and its bound parameters, in the order their `?` placeholders appear.

    number(name) and text(name) give the SQL of a column as a number or as text (the reader's generated
    names); as_of is the day days_since and years_since count to.
    """
    params: list[object] = []

    def emit(node: Node) -> str:
        if isinstance(node, Number):
            params.append(node.value)
            return "?::DOUBLE"
        if isinstance(node, Column):
            return f"({number(node.name)})"
        if isinstance(node, Text):
            raise _error(derived.source, f"the text '{node.value}' can only be a date format argument")
        if isinstance(node, Unary):
            return f"(-{emit(node.operand)})"
        if isinstance(node, Binary):
            left, right = emit(node.left), emit(node.right)
            if node.op == "/":
                return f"({left} / nullif({right}, 0))"
            return f"({left} {node.op} {right})"
        if node.function in DATE_FUNCTIONS:
            column = node.args[0]
            if not isinstance(column, Column):
                raise _error(derived.source, f"{node.function}() takes a date column first")
            fmt = node.args[1] if len(node.args) > 1 else Text(DEFAULT_DATE_FORMAT)
            if not isinstance(fmt, Text):
                raise _error(
                    derived.source, f"{node.function}()'s second argument is a date format in quotes"
                )
            params.extend([fmt.value, as_of])
            days = f"date_diff('day', try_strptime({text(column.name)}, ?)::DATE, ?::DATE)"
            return f"({days})::DOUBLE" if node.function == "days_since" else f"(({days}) / 365.25)"
        inner = emit(node.args[0])
        if node.function == "abs":
            return f"abs({inner})"
        return f"CASE WHEN {inner} > -1 THEN ln(1 + {inner}) END"  # log1p; NULL outside its domain

    sql = emit(derived.expression)
    if not derived.columns():
        raise _error(derived.source, "the expression reads no column")
    return sql, params


def check_columns(derived: Derived, available: tuple[str, ...]) -> None:
    """Every column the expression reads exists (exact name), else one sentence naming the first missing."""
    for name in derived.columns():
        if name not in available:
            close = [a for a in available if a.lower() == name.lower()]
            hint = f"; did you mean '{close[0]}'?" if close else f"; columns: {', '.join(available)}"
            raise _error(derived.source, f"unknown column '{name}'{hint}")


# ---------------------------------------------------------------------------------------------------


def _tokens(text: str) -> list[tuple[str, str]]:
    out: list[tuple[str, str]] = []
    pos = 0
    while pos < len(text):
        if text[pos:].strip() == "":
            break
        match = _TOKEN.match(text, pos)
        if match is None:
            stray = text[pos:].lstrip()[0]
            raise _error(
                text, f"unexpected character '{stray}' at position {len(text) - len(text[pos:].lstrip()) + 1}"
            )
        kind = match.lastgroup
        assert kind is not None
        value = match.group(kind)
        out.append((kind, {"×": "*", "÷": "/"}.get(value, value)))
        pos = match.end()
    return out


class _Parser:
    """Recursive descent over tokens: expression := term (+|- term)*, term := factor (*|/ factor)*."""

    def __init__(self, source: str, tokens: list[tuple[str, str]]) -> None:
        self.source = source
        self.tokens = tokens
        self.pos = 0

    def peek(self) -> tuple[str, str] | None:
        return self.tokens[self.pos] if self.pos < len(self.tokens) else None

    def take(self) -> tuple[str, str]:
        token = self.peek()
        if token is None:
            raise _error(self.source, "the expression ends too early")
        self.pos += 1
        return token

    def expression(self) -> Node:
        node = self.term()
        while self.peek() in (("op", "+"), ("op", "-")):
            op = self.take()[1]
            node = Binary(op, node, self.term())
        return node

    def term(self) -> Node:
        node = self.factor()
        while self.peek() in (("op", "*"), ("op", "/")):
            op = self.take()[1]
            node = Binary(op, node, self.factor())
        return node

    def factor(self) -> Node:
        kind, value = self.take()
        if (kind, value) == ("op", "-"):
            return Unary(self.factor())
        if (kind, value) == ("op", "("):
            node = self.expression()
            self.expect(")")
            return node
        if kind == "number":
            return Number(float(value))
        if kind == "text":
            return Text(value)
        if kind == "quoted":
            return Column(value)
        if kind == "name":
            if self.peek() == ("op", "("):
                return self.call(value)
            return Column(value)
        raise _error(self.source, f"unexpected {_show((kind, value))}")

    def call(self, function: str) -> Node:
        if function not in FUNCTIONS:
            known = ", ".join(FUNCTIONS)
            raise _error(self.source, f"unknown function '{function}'; known: {known}")
        self.expect("(")
        args = [self.expression()]
        while self.peek() == ("op", ","):
            self.take()
            args.append(self.expression())
        self.expect(")")
        low, high = FUNCTIONS[function]
        if not low <= len(args) <= high:
            want = str(low) if low == high else f"{low} or {high}"
            raise _error(self.source, f"{function}() takes {want} argument(s), got {len(args)}")
        return Call(function, tuple(args))

    def expect(self, op: str) -> None:
        token = self.peek()
        if token != ("op", op):
            found = "the end" if token is None else _show(token)
            raise _error(self.source, f"expected '{op}', found {found}")
        self.pos += 1


def _show(token: tuple[str, str]) -> str:
    kind, value = token
    return {"number": f"number {value}", "text": f"text '{value}'"}.get(kind, f"'{value}'")


def _error(source: str, problem: str) -> InputError:
    return InputError(f'--feature "{source}": {problem}.')
