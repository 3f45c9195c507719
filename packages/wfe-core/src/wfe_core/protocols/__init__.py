"""Provider protocols. Each method's docstring states its contract; ``wfe_core.testing`` checks it."""

from wfe_core.protocols.artifacts import ArtifactStore
from wfe_core.protocols.clock import Clock
from wfe_core.protocols.leased_create import LeasedCreate, ReleasingPersist
from wfe_core.protocols.lifecycle import LifecycleCallback, LifecycleHub, LifecycleInterest
from wfe_core.protocols.lock import LeaseTakeover, LockProvider
from wfe_core.protocols.persistence import LockFamilyRecord, PersistenceProvider, ScheduledCommandStore
from wfe_core.protocols.queue import QueueProvider
from wfe_core.protocols.queue_slots import QueueSlotStore
from wfe_core.protocols.schedule import ScheduleStore
from wfe_core.protocols.search import SearchIndex

__all__ = [
    "ArtifactStore",
    "Clock",
    "LeasedCreate",
    "LifecycleCallback",
    "LifecycleHub",
    "LifecycleInterest",
    "LeaseTakeover",
    "LockFamilyRecord",
    "LockProvider",
    "PersistenceProvider",
    "QueueProvider",
    "QueueSlotStore",
    "ReleasingPersist",
    "ScheduleStore",
    "ScheduledCommandStore",
    "SearchIndex",
]
