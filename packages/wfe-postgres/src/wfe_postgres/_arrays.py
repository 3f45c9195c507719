"""Array parameters as PostgreSQL array literals: one ``str`` each, cast in the statement (``%s::text[]``).

psycopg dumps a Python list by looking at its items to choose an array type, on every execute, which costs
more than the rest of sending a small statement; a literal is a plain string to it, and the server parses it
with the cast. The group-commit statements pass each batch's ids, tokens and fences as arrays.
"""

from __future__ import annotations

from collections.abc import Iterable


def text_array(values: Iterable[str]) -> str:
    """The literal of a ``text[]`` holding ``values`` (any text: each element is quoted, ``"`` and ``\\``
    escaped). Use it with an explicit cast: ``unnest(%s::text[])``, ``id = ANY(%s::text[])``."""
    return "{" + ",".join(['"' + _escaped(value) + '"' for value in values]) + "}"


def number_array(values: Iterable[int | float]) -> str:
    """The literal of a ``bigint[]`` or ``float8[]`` holding ``values`` (cast it: ``%s::bigint[]``)."""
    return "{" + ",".join([repr(value) for value in values]) + "}"


def _escaped(value: str) -> str:
    if "\\" in value or '"' in value:
        return value.replace("\\", "\\\\").replace('"', '\\"')
    return value
