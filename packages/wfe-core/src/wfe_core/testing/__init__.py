"""Testing support shipped with wfe-core: a controllable clock and provider conformance suites.

The suites (``ArtifactStoreSuite``, ``PersistenceSuite``, ``LockSuite``, ``LeaseTakeoverSuite``,
``LeasedCreateSuite``, ``ReleasingPersistSuite``, ``QueueSuite``, ``QueueSlotSuite``, ``SearchSuite``, ``LifecycleHubSuite``) are
abstract pytest classes: subclass one in a ``Test...`` class and provide its fixture. They need pytest and
pytest-asyncio (``pip install "wfe-core[testing]"``) and are imported on first use, so ``ManualClock`` works
without them. The suites mark their tests ``asyncio``; under pytest-asyncio's strict mode declare the async
fixture with ``@pytest_asyncio.fixture``.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from wfe_core.testing.clock import ManualClock

if TYPE_CHECKING:
    from wfe_core.testing.artifact_suite import ArtifactStoreSuite
    from wfe_core.testing.commands_suite import ScheduledCommandSuite
    from wfe_core.testing.leased_create_suite import LeasedCreateSuite, ReleasingPersistSuite
    from wfe_core.testing.lifecycle_suite import LifecycleHubSuite
    from wfe_core.testing.lock_suite import LockSuite
    from wfe_core.testing.persistence_suite import PersistenceSuite
    from wfe_core.testing.queue_slots_suite import QueueSlotSuite
    from wfe_core.testing.queue_suite import QueueSuite
    from wfe_core.testing.schedule_suite import ScheduleSuite
    from wfe_core.testing.search_suite import SearchSuite
    from wfe_core.testing.takeover_suite import LeaseTakeoverSuite

_SUITES = {
    "ArtifactStoreSuite": "wfe_core.testing.artifact_suite",
    "LeaseTakeoverSuite": "wfe_core.testing.takeover_suite",
    "LeasedCreateSuite": "wfe_core.testing.leased_create_suite",
    "LifecycleHubSuite": "wfe_core.testing.lifecycle_suite",
    "LockSuite": "wfe_core.testing.lock_suite",
    "PersistenceSuite": "wfe_core.testing.persistence_suite",
    "QueueSlotSuite": "wfe_core.testing.queue_slots_suite",
    "QueueSuite": "wfe_core.testing.queue_suite",
    "ReleasingPersistSuite": "wfe_core.testing.leased_create_suite",
    "ScheduleSuite": "wfe_core.testing.schedule_suite",
    "ScheduledCommandSuite": "wfe_core.testing.commands_suite",
    "SearchSuite": "wfe_core.testing.search_suite",
}

__all__ = [
    "ArtifactStoreSuite",
    "LeaseTakeoverSuite",
    "LeasedCreateSuite",
    "LifecycleHubSuite",
    "LockSuite",
    "ManualClock",
    "PersistenceSuite",
    "QueueSlotSuite",
    "QueueSuite",
    "ReleasingPersistSuite",
    "ScheduleSuite",
    "ScheduledCommandSuite",
    "SearchSuite",
]


def __getattr__(name: str) -> Any:
    module = _SUITES.get(name)
    if module is None:
        raise AttributeError(f"module 'wfe_core.testing' has no attribute '{name}'")
    return getattr(importlib.import_module(module), name)
