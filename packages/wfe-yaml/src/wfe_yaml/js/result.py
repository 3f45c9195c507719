"""What a script produced, decoded from its worker's result frame."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from wfe_yaml.js.errors import JsMemoryLimitError, JsScriptError


@dataclass(frozen=True, slots=True)
class JsResult:
    """What a script produced: its ``output()`` map (None if it never called ``output``) and its log lines."""

    outputs: dict[str, Any] | None
    logs: list[tuple[str, str]] = field(default_factory=list)
    duration: float = 0.0


def _result(
    frame: dict[str, Any], logs: list[tuple[str, str]], script_name: str, duration: float, heap_limit: int
) -> JsResult:
    if frame.get("ok"):
        result = json.loads(frame["result_json"], parse_int=_js_integer)
        if result.get("ok"):
            outputs = result.get("outputs")
            return JsResult(
                outputs=outputs if isinstance(outputs, dict) else None, logs=logs, duration=duration
            )
        error = result.get("error") or {}
    else:
        error = frame.get("error") or {}
    if error.get("name") == "MemoryLimitError":
        raise JsMemoryLimitError(heap_limit, "V8 heap limit", logs=logs)
    raise JsScriptError(
        str(error.get("name") or "Error"),
        str(error.get("message", "")),
        line=error.get("line"),
        column=error.get("column"),
        stack=str(error.get("stack") or ""),
        script_name=script_name,
        logs=logs,
    )


def _js_integer(text: str) -> int:
    # JavaScript prints a double past 2**53 in its shortest form ("1152921504606847000" for 2**60); the value
    # the script held is that double, so convert through float rather than trusting the digits.
    value = int(text)
    return value if abs(value) <= 2**53 else int(float(text))
