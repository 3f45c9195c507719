"""Package names loaded on first use: the module ``__getattr__`` and ``__dir__`` of a package whose ``__init__``
lists where each public name lives instead of importing it (``import wfe`` then costs what it uses)."""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping
from typing import Any


def lazy_names(
    package: str, where: Mapping[str, str], namespace: dict[str, Any], *, prefix: str = ""
) -> tuple[Callable[[str], Any], Callable[[], list[str]]]:
    """``__getattr__`` and ``__dir__`` for ``package``, whose module ``globals()`` is ``namespace``: a name of
    ``where`` is imported from the module ``prefix + where[name]`` when first asked for, then kept in the
    namespace (so it costs a dict lookup after); any other name raises ``AttributeError``. ``__dir__`` lists
    the names already there and those of ``__all__``."""

    def __getattr__(name: str) -> Any:
        module = where.get(name)
        if module is None:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        value = getattr(importlib.import_module(prefix + module), name)
        namespace[name] = value
        return value

    def __dir__() -> list[str]:
        return sorted(set(namespace) | set(namespace.get("__all__", ())))

    return __getattr__, __dir__
