"""Load-time interpolation of ``((dotted.path))`` and ``${{ dotted.path }}`` from the config map.

It runs on parsed scalar values, never on the raw text: a placeholder inside a comment is ignored, and an
interpolated value can never become YAML structure (it is inserted into a string that is already parsed).
``${VAR}`` (single braces) is left for the shell to expand.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from typing import Any

from wfe_yaml.document import LocatedDict, LocatedList, Mark
from wfe_yaml.errors import YamlInterpolationError

# ``((path))`` is the Rust implementation's syntax (no spaces); ``${{ path }}`` is its README's.
_PLACEHOLDER = re.compile(r"\(\(([A-Za-z0-9_.]+)\)\)|\$\{\{\s*([A-Za-z0-9_.-]+)\s*\}\}")

_MISSING = object()


def resolve_variable(config: Mapping[str, Any], dotted: str) -> Any:
    """The value at ``dotted`` (``a.b.c`` walks nested mappings), or a private sentinel when absent."""
    node: Any = config
    for segment in dotted.split("."):
        if not isinstance(node, Mapping) or segment not in node:
            return _MISSING
        node = node[segment]
    return node


def _as_text(value: Any) -> str:
    if isinstance(value, str):
        return value
    return json.dumps(value, separators=(",", ":"), default=str)


def _position(
    text: str, match: re.Match[str], mark: Mark | None, source_lines: Sequence[str]
) -> tuple[int | None, int | None]:
    """Where a placeholder of a scalar's text sits in the file: exact for one-line and literal block scalars,
    the scalar's start for other multi-line ones."""
    if mark is None:
        return None, None
    offset = match.start()
    before = text[:offset]
    if mark.style in ("|", ">"):
        line = mark.line + 1 + before.count("\n")
        found = source_lines[line - 1].find(match.group(0)) if 0 < line <= len(source_lines) else -1
        return (line, found + 1) if found >= 0 else (mark.line, mark.column)
    if "\n" not in text:
        quote = 1 if mark.style in ("'", '"') else 0
        return mark.line, mark.column + offset + quote
    return mark.line, mark.column


def interpolate_string(
    text: str,
    config: Mapping[str, Any],
    *,
    source: str = "<string>",
    mark: Mark | None = None,
    source_lines: Sequence[str] = (),
) -> Any:
    """``text`` with every placeholder replaced.

    A string that is exactly one placeholder takes the variable's scalar value with its type (so
    ``version: ((v))`` stays a number); otherwise values are inserted as text (strings raw, others as JSON).

    Raises:
        YamlInterpolationError: a placeholder names a variable missing from ``config``.
    """
    if "((" not in text and "${{" not in text:
        return text

    def lookup(match: re.Match[str]) -> Any:
        name = match.group(1) or match.group(2)
        value = resolve_variable(config, name)
        if value is _MISSING:
            line, column = _position(text, match, mark, source_lines)
            raise YamlInterpolationError(name, path=source, line=line, column=column)
        return value

    whole = _PLACEHOLDER.fullmatch(text)
    if whole is not None:
        value = lookup(whole)
        if value is None or isinstance(value, (str, int, float, bool)):
            return value
        return _as_text(value)
    return _PLACEHOLDER.sub(lambda m: _as_text(lookup(m)), text)


def interpolate(
    node: Any,
    config: Mapping[str, Any],
    *,
    source: str = "<string>",
    mark: Mark | None = None,
    source_text: str = "",
) -> Any:
    """A copy of the parsed tree ``node`` with placeholders in its string values (not keys) resolved.

    ``source_text`` (the file's text) lets errors point at placeholders inside block scalars."""
    return _Interpolator(config, source, source_text.splitlines()).walk(node, mark)


class _Interpolator:
    def __init__(self, config: Mapping[str, Any], source: str, lines: Sequence[str]) -> None:
        self.config = config
        self.source = source
        self.lines = lines

    def walk(self, node: Any, mark: Mark | None) -> Any:
        if isinstance(node, LocatedDict):
            result = LocatedDict(node.mark)
            result.key_marks = dict(node.key_marks)
            result.value_marks = dict(node.value_marks)
            for key, value in node.items():
                result[key] = self.walk(value, node.value_marks.get(key, node.mark))
            return result
        if isinstance(node, LocatedList):
            items = LocatedList(node.mark)
            items.item_marks = list(node.item_marks)
            for index, value in enumerate(node):
                items.append(self.walk(value, node.item_marks[index]))
            return items
        if isinstance(node, dict):
            return {key: self.walk(value, mark) for key, value in node.items()}
        if isinstance(node, list):
            return [self.walk(value, mark) for value in node]
        if isinstance(node, str):
            return interpolate_string(
                node, self.config, source=self.source, mark=mark, source_lines=self.lines
            )
        return node
