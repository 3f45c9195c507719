"""Provider discovery: a URL's scheme names an entry point in the group (``wfe.persistence``, ...)."""

from __future__ import annotations

from importlib.metadata import entry_points
from typing import Any

from wfe_core.errors import ProviderNotFoundError

PERSISTENCE = "wfe.persistence"
LOCK = "wfe.lock"
QUEUE = "wfe.queue"
SEARCH = "wfe.search"
LIFECYCLE = "wfe.lifecycle"

INSTALL_HINTS = {
    "sqlite": "wfe[sqlite]",
    "postgres": "wfe[postgres]",
    "postgresql": "wfe[postgres]",
    "redis": "wfe[valkey]",
    "rediss": "wfe[valkey]",
    "valkey": "wfe[valkey]",
    "valkeys": "wfe[valkey]",
    "opensearch": "wfe[opensearch]",
    "http": "wfe[opensearch]",
    "https": "wfe[opensearch]",
}


def scheme_of(url: str) -> str:
    head = url.split("://", 1)[0] if "://" in url else url.split(":", 1)[0]
    return head.split("+", 1)[0].lower()


def has_provider(group: str, scheme: str) -> bool:
    return bool(entry_points(group=group, name=scheme))


def resolve(group: str, provider: Any, **options: Any) -> Any:
    """The provider object for ``provider``: objects pass through; a URL is handed to the ``from_url`` of the
    class registered under its scheme. Raises ProviderNotFoundError naming the package to install."""
    if not isinstance(provider, str):
        return provider
    scheme = scheme_of(provider)
    found = entry_points(group=group, name=scheme)
    if not found:
        raise ProviderNotFoundError(group, scheme, INSTALL_HINTS.get(scheme))
    cls = next(iter(found)).load()
    return cls.from_url(provider, **options)
