"""In-memory providers: the default of the in-memory host and of tests.

Every class implements its protocol in ``wfe_core.protocols`` and accepts ``memory://`` in ``from_url``.
"""

from wfe_core.providers.memory.lifecycle import MemoryLifecycleHub
from wfe_core.providers.memory.lock import MemoryLock
from wfe_core.providers.memory.persistence import MemoryPersistence
from wfe_core.providers.memory.queue import MemoryQueue
from wfe_core.providers.memory.search import MemorySearchIndex

__all__ = ["MemoryLifecycleHub", "MemoryLock", "MemoryPersistence", "MemoryQueue", "MemorySearchIndex"]
