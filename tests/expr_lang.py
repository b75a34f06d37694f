"""The subset of expr-lang (https://expr-lang.org) that Kargo's `http` step expressions in
examples/ci/kargo use: literals, member access (`.`, `?.`, `[...]`), `!`, comparisons, `&&`,
`||`, `??` and parentheses. Enough to evaluate those expressions on real `/gate` answers the way
Kargo would; anything else is a SyntaxError, so an example that outgrows it fails its test."""

from __future__ import annotations

import re
from typing import Any

_TOKEN = re.compile(
    r"""\s*(?:
        (?P<number>\d+(?:\.\d+)?)
      | (?P<string>'(?:[^'\\]|\\.)*'|"(?:[^"\\]|\\.)*")
      | (?P<op>\?\?|\?\.|==|!=|>=|<=|&&|\|\||[<>!.()\[\]])
      | (?P<name>[A-Za-z_]\w*)
    )""",
    re.VERBOSE,
)
_COMPARE = {
    "==": lambda a, b: a == b,
    "!=": lambda a, b: a != b,
    ">=": lambda a, b: a >= b,
    "<=": lambda a, b: a <= b,
    ">": lambda a, b: a > b,
    "<": lambda a, b: a < b,
}


def evaluate(expression: str, env: dict[str, Any]) -> Any:
    tokens = _tokens(expression)
    parser = _Parser(tokens, env)
    value = parser.coalesce()
    if parser.peek() is not None:
        raise SyntaxError(f"unexpected {parser.peek()!r} in {expression!r}")
    return value


def _tokens(expression: str) -> list[tuple[str, str]]:
    out, at = [], 0
    while at < len(expression.rstrip()):
        match = _TOKEN.match(expression, at)
        if not match:
            raise SyntaxError(f"cannot read {expression[at:]!r}")
        kind = match.lastgroup
        assert kind is not None
        out.append((kind, match.group(kind)))
        at = match.end()
    return out


class _Parser:
    def __init__(self, tokens: list[tuple[str, str]], env: dict[str, Any]) -> None:
        self.tokens, self.at, self.env = tokens, 0, env
        self.skipping = 0  # inside an operand that short-circuit evaluation never evaluates

    def peek(self) -> str | None:
        return self.tokens[self.at][1] if self.at < len(self.tokens) else None

    def take(self, expected: str | None = None) -> tuple[str, str]:
        if self.at >= len(self.tokens):
            raise SyntaxError("unexpected end of expression")
        token = self.tokens[self.at]
        if expected is not None and token[1] != expected:
            raise SyntaxError(f"expected {expected!r}, found {token[1]!r}")
        self.at += 1
        return token

    def coalesce(self) -> Any:
        value = self.either()
        while self.peek() == "??":
            self.take()
            value = self._maybe(self.either, value is None, value)
        return value

    def either(self) -> Any:
        value = self.both()
        while self.peek() == "||":
            self.take()
            value = bool(self._maybe(self.both, not value, True))
        return value

    def both(self) -> Any:
        value = self.compare()
        while self.peek() == "&&":
            self.take()
            value = bool(self._maybe(self.compare, bool(value), False))
        return value

    def _maybe(self, operand: Any, evaluate: bool, otherwise: Any) -> Any:
        """The operand's value, or (read but not evaluated) `otherwise`: `&&`, `||` and `??`
        evaluate their right side only when the left one does not decide."""
        if evaluate:
            return operand()
        self.skipping += 1
        try:
            operand()
        finally:
            self.skipping -= 1
        return otherwise

    def compare(self) -> Any:
        value = self.unary()
        if self.peek() in _COMPARE:
            operator = self.take()[1]
            other = self.unary()
            value = None if self.skipping else _COMPARE[operator](value, other)
        return value

    def unary(self) -> Any:
        if self.peek() == "!":
            self.take()
            return not self.unary()
        return self.postfix()

    def postfix(self) -> Any:
        value = self.primary()
        while self.peek() in (".", "?.", "["):
            operator = self.take()[1]
            if operator == "[":
                key = self.coalesce()
                self.take("]")
            else:
                kind, key = self.take()
                if kind != "name":
                    raise SyntaxError(f"a member name, not {key!r}")
            if self.skipping:
                continue
            if value is None:
                if operator == "?.":
                    continue
                raise TypeError(f"cannot fetch {key} from nil")
            value = value.get(key) if isinstance(value, dict) else value[key]
        return value

    def primary(self) -> Any:
        kind, text = self.take()
        if kind == "number":
            return float(text) if "." in text else int(text)
        if kind == "string":
            return re.sub(r"\\(.)", r"\1", text[1:-1])
        if text == "(":
            value = self.coalesce()
            self.take(")")
            return value
        if kind == "name":
            literals = {"true": True, "false": False, "nil": None}
            if text in literals:
                return literals[text]
            if text not in self.env:
                raise NameError(f"unknown variable {text}")
            return None if self.skipping else self.env[text]
        raise SyntaxError(f"unexpected {text!r}")
