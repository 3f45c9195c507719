"""The optional packages some commands need, and the install command to print when one is missing."""

from __future__ import annotations

import importlib
from types import ModuleType

from wfe._discovery import scheme_of
from wfe_core.install import install_hint

USAGE_ERROR = 2
"""Exit status for a usage problem: a missing extra, an invalid pipeline, an unknown run."""


class MissingExtraError(Exception):
    """A command needs an optional package; ``str()`` says how to install it."""

    def __init__(self, module: str, extra: str, what: str) -> None:
        self.module = module
        self.extra = extra
        super().__init__(f"{what} needs the {module} package: {install_hint(f'wfe[{extra}]')}")


def require_yaml() -> ModuleType:
    """The ``wfe_yaml`` module, or MissingExtraError naming ``pip install "wfe[yaml]"``."""
    try:
        return importlib.import_module("wfe_yaml")
    except ImportError as exc:
        raise MissingExtraError("wfe-yaml", "yaml", "Loading YAML pipelines") from exc


def require_server() -> ModuleType:
    """The ``wfe_server`` module, or MissingExtraError naming ``pip install "wfe[server]"``."""
    try:
        return importlib.import_module("wfe_server")
    except ImportError as exc:
        raise MissingExtraError("wfe-server", "server", "Serving HTTP (--http)") from exc


def require_store(url: str) -> None:
    """Check that the package behind a store URL is importable (only SQLite is checked here: other schemes
    are resolved by the host, whose error names the package to install)."""
    if scheme_of(url) != "sqlite":
        return
    try:
        importlib.import_module("wfe_sqlite")
    except ImportError as exc:
        raise MissingExtraError("wfe-sqlite", "sqlite", f"The store {url}") from exc
