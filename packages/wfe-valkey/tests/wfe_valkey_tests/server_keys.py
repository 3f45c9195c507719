"""Key handling for the tests: what a server that lost its data would have forgotten."""

from __future__ import annotations

from redis.asyncio import Redis


async def delete_keys(client: Redis, prefix: str) -> int:
    """Delete every key under ``prefix:``; returns how many there were."""
    keys = [key async for key in client.scan_iter(match=f"{prefix}:*", count=500)]
    if keys:
        await client.delete(*keys)
    return len(keys)
