"""Type strings of typed workflow inputs and outputs: ``string``, ``number``, ``integer``, ``bool``, ``any``,
``list<T>``, ``map<T>`` and ``T?`` (optional), nestable."""

from __future__ import annotations

from dataclasses import dataclass

PRIMITIVES = ("string", "number", "integer", "bool", "any")
GENERICS = ("list", "map")


class TypeStringError(ValueError):
    """A type string could not be parsed; the message uses the Rust wording."""


@dataclass(frozen=True, slots=True)
class ValueType:
    """A parsed type string. ``kind`` is a primitive name or ``list``/``map`` (with ``item``)."""

    kind: str
    item: ValueType | None = None
    optional: bool = False

    def __str__(self) -> str:
        text = f"{self.kind}<{self.item}>" if self.item is not None else self.kind
        return text + ("?" if self.optional else "")

    @property
    def is_numeric(self) -> bool:
        return self.kind in ("number", "integer", "any")

    @property
    def supports_contains(self) -> bool:
        return self.kind in ("string", "list", "any")

    @property
    def is_nullable(self) -> bool:
        return self.optional or self.kind == "any"


def parse_type(text: str) -> ValueType:
    """Parse a type string.

    Raises:
        TypeStringError: "Empty type string", "Unknown type: 'x'", "Unknown generic type: 'x'" or
            "Malformed generic type: '...' (missing closing '>')".
    """
    raw = text
    text = text.strip()
    if not text:
        raise TypeStringError("Empty type string")
    optional = text.endswith("?")
    if optional:
        text = text[:-1].rstrip()
        if not text:
            raise TypeStringError("Empty type string")
    if "<" in text:
        head, _, rest = text.partition("<")
        head = head.strip()
        if not rest.endswith(">"):
            raise TypeStringError(f"Malformed generic type: '{raw.strip()}' (missing closing '>')")
        if head not in GENERICS:
            raise TypeStringError(f"Unknown generic type: '{head}'")
        return ValueType(head, parse_type(rest[:-1]), optional)
    if text not in PRIMITIVES:
        raise TypeStringError(f"Unknown type: '{text}'")
    return ValueType(text, None, optional)
