"""In-process wake-ups: a waiting dequeue wakes as soon as an enqueue in this process commits."""

from __future__ import annotations

import asyncio
import threading


class Wakeups:
    """Waiters keyed by name (a queue), woken from any thread or event loop of this process."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._waiters: dict[str, set[asyncio.Future[None]]] = {}

    def waiter(self, key: str) -> asyncio.Future[None]:
        """A future that completes at the next ``notify(key)``; pass it to ``discard`` when done with it.

        Register the waiter *before* checking for work: a notify between the check and the wait is not lost.
        """
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        with self._lock:
            self._waiters.setdefault(key, set()).add(future)
        return future

    def discard(self, key: str, future: asyncio.Future[None]) -> None:
        with self._lock:
            waiters = self._waiters.get(key)
            if waiters is not None:
                waiters.discard(future)
                if not waiters:
                    del self._waiters[key]

    def notify(self, key: str) -> None:
        """Wake every current waiter on ``key``."""
        with self._lock:
            waiters = self._waiters.pop(key, set())
        for future in waiters:
            try:
                future.get_loop().call_soon_threadsafe(_wake, future)
            except RuntimeError:
                # The waiter's loop has closed: nobody is waiting any more.
                pass


def _wake(future: asyncio.Future[None]) -> None:
    if not future.done():
        future.set_result(None)
