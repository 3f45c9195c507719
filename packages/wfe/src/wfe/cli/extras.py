"""The optional packages some commands need, and the install command to print when one is missing."""

from __future__ import annotations

import importlib
from types import ModuleType

from wfe_core.errors import MissingExtraError

USAGE_ERROR = 2
"""Exit status for a usage problem: a missing extra, an invalid pipeline, an unknown run."""


__all__ = ["USAGE_ERROR", "MissingExtraError", "require_store", "require_yaml"]


def require_yaml() -> ModuleType:
    """The ``wfe_yaml`` module, or MissingExtraError naming ``pip install "wfe[yaml]"``."""
    try:
        return importlib.import_module("wfe_yaml")
    except ImportError as exc:
        raise MissingExtraError("Loading YAML pipelines", extra="yaml", package="wfe-yaml") from exc


def require_server() -> ModuleType:
    """The ``wfe_server`` module, or MissingExtraError naming ``pip install "wfe[server]"``."""
    try:
        return importlib.import_module("wfe_server")
    except ImportError as exc:
        raise MissingExtraError("Serving HTTP (--http)", extra="server", package="wfe-server") from exc


def require_store(url: str) -> None:
    """Check that the package behind a store URL is importable (only SQLite is checked here: other schemes
    are resolved by the host, whose error names the package to install)."""
    from wfe._discovery import scheme_of

    if scheme_of(url) != "sqlite":
        return
    try:
        importlib.import_module("wfe_sqlite")
    except ImportError as exc:
        raise MissingExtraError(f"The store {url}", extra="sqlite", package="wfe-sqlite") from exc
