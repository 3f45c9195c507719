"""Load-time interpolation of ``((dotted.path))`` and ``${{ dotted.path }}`` from the config map.

It runs on parsed scalar values, never on the raw text: a placeholder inside a comment is ignored, and an
interpolated value can never become YAML structure (it is inserted into a string that is already parsed).
``${VAR}`` (single braces) is left for the shell to expand.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
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


def interpolate_string(
    text: str, config: Mapping[str, Any], *, source: str = "<string>", mark: Mark | None = None
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
            raise YamlInterpolationError(
                name,
                path=source,
                line=None if mark is None else mark.line,
                column=None if mark is None else mark.column,
            )
        return value

    whole = _PLACEHOLDER.fullmatch(text)
    if whole is not None:
        value = lookup(whole)
        if value is None or isinstance(value, (str, int, float, bool)):
            return value
        return _as_text(value)
    return _PLACEHOLDER.sub(lambda m: _as_text(lookup(m)), text)


def interpolate(
    node: Any, config: Mapping[str, Any], *, source: str = "<string>", mark: Mark | None = None
) -> Any:
    """A copy of the parsed tree ``node`` with placeholders in its string values (not keys) resolved."""
    if isinstance(node, LocatedDict):
        result = LocatedDict(node.mark)
        result.key_marks = dict(node.key_marks)
        result.value_marks = dict(node.value_marks)
        for key, value in node.items():
            result[key] = interpolate(value, config, source=source, mark=node.value_marks.get(key, node.mark))
        return result
    if isinstance(node, LocatedList):
        items = LocatedList(node.mark)
        items.item_marks = list(node.item_marks)
        for index, value in enumerate(node):
            items.append(interpolate(value, config, source=source, mark=node.item_marks[index]))
        return items
    if isinstance(node, dict):
        return {key: interpolate(value, config, source=source, mark=mark) for key, value in node.items()}
    if isinstance(node, list):
        return [interpolate(value, config, source=source, mark=mark) for value in node]
    if isinstance(node, str):
        return interpolate_string(node, config, source=source, mark=mark)
    return node
