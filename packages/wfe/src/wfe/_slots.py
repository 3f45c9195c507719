"""Slots: how many things of one kind a host does at once, shared by everyone who starts one."""

from __future__ import annotations

import asyncio

from wfe_core.errors import ConfigurationError


class Slots:
    """A count of busy slots out of ``limit``.

    Unlike a semaphore, waiting for a free slot and taking it are separate steps, so a queue consumer can wait
    for room before it takes an item off the queue (an item taken while the host is full would sit here,
    invisible to other hosts) and then take the slot; while it waits for the item, someone else may take that
    slot with ``try_take`` (a host starting a new instance itself), and the consumer then waits again with the
    item in hand. However slots are taken, no more than ``limit`` are busy at once."""

    def __init__(self, limit: int) -> None:
        if limit < 1:
            raise ConfigurationError(f"a slot limit must be at least 1, not {limit}")
        self.limit = limit
        self.busy = 0
        self._freed = asyncio.Event()

    @property
    def full(self) -> bool:
        return self.busy >= self.limit

    def try_take(self) -> bool:
        """Take a slot if one is free now; True when taken."""
        if self.full:
            return False
        self.busy += 1
        return True

    async def wait_free(self) -> None:
        """Return once a slot is free (without taking it)."""
        while self.full:
            self._freed.clear()
            await self._freed.wait()

    async def take(self) -> None:
        """Wait for a free slot and take it."""
        await self.wait_free()
        self.busy += 1

    def give(self) -> None:
        """Give a slot back."""
        self.busy -= 1
        self._freed.set()


__all__ = ["Slots"]
