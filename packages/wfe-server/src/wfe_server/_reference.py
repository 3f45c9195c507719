"""The API reference of docs/server.md, generated from the OpenAPI document.

``python -m wfe_server._reference docs/server.md`` rewrites the part of the file between the
``<!-- api-reference:start -->`` and ``<!-- api-reference:end -->`` markers; a test checks that it is current.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

from wfe_server._openapi import openapi_document

START = "<!-- api-reference:start -->"
END = "<!-- api-reference:end -->"


def _type(schema: dict[str, Any]) -> str:
    if "$ref" in schema:
        return str(schema["$ref"]).rsplit("/", 1)[-1]
    kind = schema.get("type", "any")
    text = " or ".join(kind) if isinstance(kind, list) else str(kind)
    if "enum" in schema:
        text += ": " + ", ".join(f"`{v}`" for v in schema["enum"])
    return text


def markdown() -> str:
    """The reference: one section per route with its parameters, body and answers."""
    document = openapi_document()
    lines = [START, "", "_Generated from `/api/v1/openapi.json`; do not edit by hand._", ""]
    for path, operations in document["paths"].items():
        for method, operation in operations.items():
            lines += [f"#### `{method.upper()} {path}`", "", operation["summary"], ""]
            parameters = operation.get("parameters", [])
            if parameters:
                lines += ["| parameter | in | type |", "|---|---|---|"]
                for parameter in parameters:
                    lines.append(
                        f"| `{parameter['name']}` | {parameter['in']} | {_type(parameter['schema'])} |"
                    )
                lines.append("")
            body = operation.get("requestBody")
            if body:
                schema = body["content"]["application/json"]["schema"]
                lines += [f"Body: `{_type(schema)}` (JSON).", ""]
            lines += ["Answers:", ""]
            for code, response in sorted(operation["responses"].items()):
                lines.append(f"- `{code}`: {response['description']}")
            lines.append("")
    schemas = document["components"]["schemas"]
    lines += ["#### Bodies", ""]
    for name in ("StartRequest", "EventRequest"):
        lines += [f"`{name}`:", "", "| field | type | required |", "|---|---|---|"]
        required = set(schemas[name].get("required", []))
        for field, schema in schemas[name]["properties"].items():
            lines.append(
                f"| `{field}` | {_type(schema) if schema else 'any JSON'} | {'yes' if field in required else ''} |"
            )
        lines.append("")
    lines.append(END)
    return "\n".join(lines)


def update(path: Path) -> bool:
    """Rewrite the reference in ``path``; True when it changed."""
    text = path.read_text(encoding="utf-8")
    head, _, rest = text.partition(START)
    _, _, tail = rest.partition(END)
    new = head + markdown() + tail
    path.write_text(new, encoding="utf-8")
    return new != text


if __name__ == "__main__":
    for name in sys.argv[1:]:
        print(f"{name}: {'updated' if update(Path(name)) else 'current'}")
