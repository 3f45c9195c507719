"""Step outputs from ``##wfe[output name=value]`` stdout lines and the ``$WFE_OUTPUT`` file."""

from __future__ import annotations

from typing import Any

DIRECTIVE_PREFIX = "##wfe[output "


def typed_value(text: str) -> Any:
    """``true``/``false`` as bool, ``null`` as None, integers, floats; anything else stays a string."""
    if text == "true":
        return True
    if text == "false":
        return False
    if text == "null":
        return None
    try:
        return int(text)
    except ValueError:
        pass
    try:
        number = float(text)
    except ValueError:
        return text
    if number != number or number in (float("inf"), float("-inf")):
        return text  # NaN and infinities are not JSON
    return number


def parse_directive(line: str) -> tuple[str, Any] | None:
    """``(name, value)`` for a ``##wfe[output name=value]`` line (exact prefix and closing ``]``), else None.

    The text splits at the first ``=``: the name is trimmed, the value kept as written, then typed.
    """
    if not line.startswith(DIRECTIVE_PREFIX) or not line.endswith("]"):
        return None
    name, sep, value = line[len(DIRECTIVE_PREFIX) : -1].partition("=")
    name = name.strip()
    if not sep or not name:
        return None
    return name, typed_value(value)


def parse_output_file(text: str) -> dict[str, Any]:
    """Outputs from a ``$WFE_OUTPUT`` file: ``name=value`` lines, or GitHub-style ``name<<DELIM`` blocks for
    multi-line values (kept as strings). Later names win."""
    outputs: dict[str, Any] = {}
    lines = text.splitlines()
    index = 0
    while index < len(lines):
        line = lines[index]
        index += 1
        eq = line.find("=")
        heredoc = line.find("<<")
        if heredoc > 0 and (eq < 0 or heredoc < eq):
            name, delimiter = line[:heredoc].strip(), line[heredoc + 2 :].strip()
            block: list[str] = []
            while index < len(lines) and lines[index] != delimiter:
                block.append(lines[index])
                index += 1
            index += 1  # the closing delimiter
            if name:
                outputs[name] = "\n".join(block)
        elif eq > 0:
            name = line[:eq].strip()
            if name:
                outputs[name] = typed_value(line[eq + 1 :])
    return outputs
