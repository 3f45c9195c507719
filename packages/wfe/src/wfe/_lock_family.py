"""One lock family per store: the store remembers its hosts' lock provider family and refuses another."""

from __future__ import annotations

from wfe_core.errors import HostError
from wfe_core.protocols import LockFamilyRecord, LockProvider, PersistenceProvider


def lock_family(lock: LockProvider) -> str:
    """The family of a lock provider: its ``family`` attribute, else the package that defines it."""
    family = getattr(lock, "family", None)
    return family if isinstance(family, str) else type(lock).__module__.split(".")[0]


async def check_lock_family(persistence: PersistenceProvider, lock: LockProvider) -> None:
    """Refuse to share a store with hosts that lock through another provider family: their leases would
    exclude nothing from each other's, and one family's fences would refuse the other's writes."""
    if not isinstance(persistence, LockFamilyRecord):
        return
    family = lock_family(lock)
    recorded = await persistence.record_lock_family(family)
    if recorded != family:
        await persistence.close()
        raise HostError(
            f"this store's hosts lock with {recorded}, but this host was given a {family} lock: hosts of "
            f"one store must share one lock provider. Give this host the same lock as the others "
            f"(WorkflowHostBuilder().use_lock(...)), or use a new store"
        )
