"""The lease check a store runs right before it sends a fenced write, not only when the write was asked for.

A host checks its lease before each fenced write (``claim_workflow``, ``persist_workflow(fence=)``), but a store
may hold a write back before sending it: behind a batch in flight (group commit), waiting for a connection or a
transaction lock. A host frozen meanwhile (SIGSTOP, a long pause) would send the write once thawed, past its
lease; fencing refuses it only once a new holder has claimed a newer fence, and until then it would land.

So the host runs its fenced writes inside ``guarded_writes(check)``, and a store that holds writes back takes the
check with ``write_guard()`` when the write is asked for (in the caller's context) and calls it again right
before the write leaves for the database. The check raises ``LeaseLostError`` once the lease may have lapsed;
the store then writes nothing of that write and raises the error to its caller. A store that writes at once
(in memory) calls ``check_now()`` as it writes.
"""

from __future__ import annotations

from collections.abc import Callable
from contextvars import ContextVar, Token

WriteGuard = Callable[[], None]
"""Raises ``LeaseLostError`` when the lease a write is made under may have lapsed; returns None otherwise. It may
be called from a store's own thread (it reads a clock and a flag, nothing else)."""

_guard: ContextVar[WriteGuard | None] = ContextVar("wfe_write_guard", default=None)


class guarded_writes:  # noqa: N801 - used as a function: ``with guarded_writes(check):``
    """Fenced writes asked for inside the block are checked with ``check`` again as the store sends them.

    A class rather than a generator-based context manager: every pass enters one, and a generator's setup
    cost three times as much."""

    __slots__ = ("_check", "_token")

    def __init__(self, check: WriteGuard) -> None:
        self._check = check
        self._token: Token[WriteGuard | None] | None = None

    def __enter__(self) -> None:
        self._token = _guard.set(self._check)

    def __exit__(self, *exc: object) -> None:
        if self._token is not None:
            _guard.reset(self._token)
            self._token = None


def write_guard() -> WriteGuard | None:
    """The check of the ``guarded_writes`` block the caller is in; None outside one."""
    return _guard.get()


def check_now() -> None:
    """Run the check of the caller's ``guarded_writes`` block, if any: what a store that writes at once calls
    as it writes (it raises ``LeaseLostError`` and the store then writes nothing)."""
    guard = _guard.get()
    if guard is not None:
        guard()


def still_held(guard: WriteGuard | None) -> BaseException | None:
    """Run ``guard`` (when there is one): the error that refuses the write, or None when it may be sent."""
    if guard is None:
        return None
    try:
        guard()
    except Exception as exc:
        return exc
    return None


__all__ = ["WriteGuard", "check_now", "guarded_writes", "still_held", "write_guard"]
