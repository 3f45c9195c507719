"""What ``poll_endpoint`` checks on each response: the response itself and the conditions on it.

A condition is any object with ``holds(response) -> bool`` (:class:`PollCondition`). Three ship here:

- :class:`JsonPathCondition`, written as a string: ``'$.status == "ready"'``. The left side is a JSONPath
  (RFC 9535, evaluated by the python-jsonpath library) on the JSON body; the operator is one of ``==``, ``!=``,
  ``<``, ``<=``, ``>``, ``>=``; the right side is a JSON literal (``"ready"``, ``'ready'``, ``3``, ``true``,
  ``null``). ``==`` holds when any value the path selects equals the literal; ``!=`` when the path selects values
  and none equals it; the ordering operators when any selected value compares so (numbers with numbers, strings
  with strings). A path alone (``'$.ready'``) holds when it selects a value that is not ``null`` or ``false``.
  A body that is not JSON never satisfies a JSONPath condition.
- :class:`BodyContains`: the body's text contains a string.
- :class:`StatusIn`: the status code is one of a set.
"""

from __future__ import annotations

import json
import operator
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol, runtime_checkable

from wfe_core.errors import DefinitionError, MissingExtraError

HTTP_EXTRA = "wfe[http]"
"""The extra that brings poll_endpoint's HTTP client and JSONPath library."""

_OPERATORS: dict[str, Callable[[Any, Any], bool]] = {
    "==": operator.eq,
    "!=": operator.ne,
    "<=": operator.le,
    ">=": operator.ge,
    "<": operator.lt,
    ">": operator.gt,
}
_NO_BODY: Any = object()


@dataclass(frozen=True, slots=True)
class PollResponse:
    """One response of the polled endpoint. ``json`` is the parsed body, None when the body is not JSON."""

    status: int
    text: str
    headers: Mapping[str, str] = field(default_factory=dict)
    json: Any = None
    is_json: bool = False

    @classmethod
    def of(cls, status: int, text: str, headers: Mapping[str, str] | None = None) -> PollResponse:
        try:
            parsed = json.loads(text) if text else _NO_BODY
        except ValueError:
            parsed = _NO_BODY
        is_json = parsed is not _NO_BODY
        return cls(status, text, dict(headers or {}), parsed if is_json else None, is_json)

    def summary(self, limit: int = 200) -> str:
        """``status 503: {"status": "starting"}``, the body cut to ``limit`` characters."""
        body = self.text if len(self.text) <= limit else self.text[:limit] + "..."
        body = body.replace("\x00", "\\0")  # kept in persistence data and errors: some stores refuse NUL
        return f"status {self.status}: {body}" if body else f"status {self.status}"


@runtime_checkable
class PollCondition(Protocol):
    """A condition on a response of the polled endpoint: ``holds`` is called once per poll, must not block and
    must not raise for a response it does not like (return False: the endpoint is polled again)."""

    def holds(self, response: PollResponse) -> bool: ...


@dataclass(frozen=True, slots=True)
class StatusIn:
    """The status code is one of ``codes``."""

    codes: frozenset[int]

    def holds(self, response: PollResponse) -> bool:
        return response.status in self.codes


@dataclass(frozen=True, slots=True)
class BodyContains:
    """The body's text contains ``text``."""

    text: str

    def holds(self, response: PollResponse) -> bool:
        return self.text in response.text


@dataclass(frozen=True, slots=True)
class CallableCondition:
    """``fn(response)`` as a condition (what the builder makes of a plain function)."""

    fn: Callable[[PollResponse], Any]

    def holds(self, response: PollResponse) -> bool:
        return bool(self.fn(response))


class JsonPathCondition:
    """``<JSONPath> [<operator> <JSON literal>]`` on the JSON body (see the module's documentation)."""

    __slots__ = ("_path", "expression", "op", "path", "value")

    def __init__(self, expression: str) -> None:
        self.expression = expression
        path, op, literal = _split(expression)
        self.path = path
        self.op = op
        self.value = _literal(literal, expression) if op is not None else None
        self._path = _compile(path, expression)

    def holds(self, response: PollResponse) -> bool:
        if not response.is_json:
            return False
        try:
            found = self._path.findall(response.json)
        except Exception:  # a path the body does not fit (python-jsonpath raises for some): not yet
            return False
        if self.op is None:
            return any(v is not None and v is not False for v in found)
        if self.op == "!=":
            return bool(found) and all(v != self.value for v in found)
        compare = _OPERATORS[self.op]
        return any(_comparable(v, self.value, self.op) and compare(v, self.value) for v in found)

    def __repr__(self) -> str:
        return f"JsonPathCondition({self.expression!r})"


def _comparable(left: Any, right: Any, op: str) -> bool:
    if op in ("==", "!="):
        return True
    numbers = (int, float)
    if isinstance(left, bool) or isinstance(right, bool):
        return False
    return (isinstance(left, numbers) and isinstance(right, numbers)) or (
        isinstance(left, str) and isinstance(right, str)
    )


def _split(expression: str) -> tuple[str, str | None, str]:
    """The path, the operator and the literal: the first operator outside quotes and brackets splits."""
    quote: str | None = None
    depth = 0
    i = 0
    while i < len(expression):
        ch = expression[i]
        if quote is not None:
            if ch == "\\":
                i += 2
                continue
            if ch == quote:
                quote = None
        elif ch in "\"'":
            quote = ch
        elif ch in "[(":
            depth += 1
        elif ch in "])":
            depth -= 1
        elif depth == 0 and ch in "=!<>":
            op = expression[i : i + 2] if expression[i : i + 2] in _OPERATORS else ch
            if op not in _OPERATORS:
                raise DefinitionError(
                    f"poll condition {expression!r}: '{op}' is not an operator; use one of "
                    f"{', '.join(_OPERATORS)}, e.g. '$.status == \"ready\"'"
                )
            return expression[:i].strip(), op, expression[i + len(op) :].strip()
        i += 1
    return expression.strip(), None, ""


def _literal(text: str, expression: str) -> Any:
    if len(text) >= 2 and text[0] == text[-1] == "'":
        return text[1:-1]
    try:
        return json.loads(text)
    except ValueError:
        raise DefinitionError(
            f"poll condition {expression!r}: the right side {text!r} is not a JSON literal; quote strings "
            "('\"ready\"'), or give a number, true, false or null"
        ) from None


def _compile(path: str, expression: str) -> Any:
    if not path.startswith("$"):
        raise DefinitionError(
            f"poll condition {expression!r}: the left side must be a JSONPath starting with '$', e.g. '$.status'"
        )
    try:
        import jsonpath
    except ImportError as exc:
        raise MissingExtraError(
            "JSONPath conditions of poll_endpoint",
            extra="http",
            package="python-jsonpath",
            requirement=HTTP_EXTRA,
        ) from exc
    try:
        return jsonpath.compile(path)
    except Exception as exc:  # the library's syntax errors
        raise DefinitionError(f"poll condition {expression!r}: not a valid JSONPath: {exc}") from exc


def status_condition(status: int | Iterable[int] | None) -> StatusIn:
    """``StatusIn`` for one code or a set of them; None means any 2xx."""
    if status is None:
        return StatusIn(frozenset(range(200, 300)))
    codes = frozenset([status] if isinstance(status, int) else status)
    if not codes or not all(isinstance(c, int) and 100 <= c <= 599 for c in codes):
        raise DefinitionError(
            f"poll status {status!r}: give HTTP status codes (100-599), e.g. 200 or [200, 204]"
        )
    return StatusIn(codes)


def as_condition(until: str | PollCondition | Callable[[PollResponse], Any] | None) -> PollCondition | None:
    """The condition for what ``poll_endpoint(until=...)`` accepts: a JSONPath expression string, a
    :class:`PollCondition`, or a function of the response."""
    if until is None or isinstance(until, PollCondition):
        return until
    if isinstance(until, str):
        return JsonPathCondition(until)
    if callable(until):
        return CallableCondition(until)
    raise DefinitionError(
        f"poll_endpoint until={until!r}: give a JSONPath expression ('$.status == \"ready\"'), "
        "a PollCondition, or a function of the response"
    )
