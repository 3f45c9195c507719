"""Statements whose ``None`` parameters are written into the SQL text as ``NULL``.

``sqlite3`` binds a str, int or float directly, but anything else, ``None`` included, through its adaptation
protocol: a registry lookup, then two attribute lookups that each raise and clear an ``AttributeError``. A
``None`` costs ten times an int to bind, and the writes of an instance carry half a dozen (no description, no
parent, not complete ...). Written as ``NULL`` in the text, they cost nothing; ``sqlite3`` keeps a prepared
statement per text, and the patterns of ``None`` a statement meets are few.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from typing import Any

_MAX_TEXTS = 64
"""Texts kept per statement (one per pattern of None met); past that, a new pattern's text is built per call."""


class NullsInlined:
    """An SQL text with ``?`` placeholders, bound by :meth:`bind` into the text to run and its parameters.

    The SQL must hold no ``?`` other than its placeholders (none in a string literal or comment)."""

    __slots__ = ("_parts", "_texts")

    def __init__(self, sql: str) -> None:
        self._parts = sql.split("?")
        self._texts: dict[tuple[bool, ...], str] = {}

    @property
    def placeholders(self) -> int:
        return len(self._parts) - 1

    def bind(self, values: Sequence[Any]) -> tuple[str, list[Any]]:
        """The text with ``NULL`` in place of each placeholder whose value is None, and the other values, in
        order: ``conn.execute(*statement.bind(values))`` runs what ``conn.execute(sql, values)`` would."""
        nulls = tuple([value is None for value in values])
        text = self._texts.get(nulls)
        if text is None:
            text = self._text(nulls)
        return text, [value for value in values if value is not None]

    def _text(self, nulls: tuple[bool, ...]) -> str:
        if len(nulls) != self.placeholders:
            # what conn.execute raises for a wrong number of values
            raise sqlite3.ProgrammingError(
                f"Incorrect number of bindings supplied. The current statement uses {self.placeholders}, and "
                f"there are {len(nulls)} supplied."
            )
        pieces = [self._parts[0]]
        for null, part in zip(nulls, self._parts[1:], strict=True):
            pieces.append("NULL" if null else "?")
            pieces.append(part)
        text = "".join(pieces)
        if len(self._texts) < _MAX_TEXTS:
            self._texts[nulls] = text
        return text
