"""What the report's sections share: number formats, the verdict of a target, a result by name."""

from __future__ import annotations

from typing import Any


def fmt(value: float, digits: int = 0) -> str:
    return f"{value:,.{digits}f}"


def ok(flag: bool) -> str:
    return "met" if flag else "**missed**"


def get(results: dict[str, dict[str, Any]], name: str) -> dict[str, Any] | None:
    found = results.get(name)
    return found["results"] if found else None
