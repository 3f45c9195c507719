"""Every in-memory provider implements its protocol and is built from a ``memory://`` URL."""

from __future__ import annotations

from importlib.metadata import entry_points
from typing import Any

import pytest

from wfe_core.errors import ProviderError
from wfe_core.protocols import LifecycleHub, LockProvider, PersistenceProvider, QueueProvider, SearchIndex
from wfe_core.providers.memory import (
    MemoryLifecycleHub,
    MemoryLock,
    MemoryPersistence,
    MemoryQueue,
    MemorySearchIndex,
)

PROVIDERS: list[tuple[type[Any], type[Any], str]] = [
    (MemoryPersistence, PersistenceProvider, "wfe.persistence"),
    (MemoryLock, LockProvider, "wfe.lock"),
    (MemoryQueue, QueueProvider, "wfe.queue"),
    (MemorySearchIndex, SearchIndex, "wfe.search"),
    (MemoryLifecycleHub, LifecycleHub, "wfe.lifecycle"),
]


@pytest.mark.parametrize(("provider", "protocol", "group"), PROVIDERS)
def test_provider_implements_its_protocol(provider: type[Any], protocol: type[Any], group: str) -> None:
    assert isinstance(provider.from_url("memory://"), protocol)


@pytest.mark.parametrize(("provider", "protocol", "group"), PROVIDERS)
def test_entry_point_named_memory_resolves_to_the_provider(
    provider: type[Any], protocol: type[Any], group: str
) -> None:
    (entry_point,) = entry_points(group=group, name="memory")
    assert entry_point.load() is provider


@pytest.mark.parametrize(("provider", "protocol", "group"), PROVIDERS)
def test_other_schemes_are_refused_naming_the_memory_scheme(
    provider: type[Any], protocol: type[Any], group: str
) -> None:
    with pytest.raises(ProviderError, match="memory://"):
        provider.from_url("postgres://localhost/db")


def test_options_become_constructor_keywords() -> None:
    assert MemoryQueue.from_url("memory://", visibility_timeout=2.5).visibility_timeout == 2.5
    assert MemoryLifecycleHub.from_url("memory://", channel="blue").channel == "blue"
    with pytest.raises(TypeError):
        MemoryLock.from_url("memory://", unknown_option=1)
