"""Acting on the test server: forgetting keys as a data loss would, dropping connections as a network would."""

from __future__ import annotations

from redis.asyncio import Redis


async def delete_keys(client: Redis, prefix: str) -> int:
    """Delete every key under ``prefix:``; returns how many there were."""
    keys = [key async for key in client.scan_iter(match=f"{prefix}:*", count=500)]
    if keys:
        await client.delete(*keys)
    return len(keys)


async def kill_connections(client: Redis, client_name: str) -> int:
    """Close the server side of every connection named ``client_name``; returns how many there were."""
    killed = 0
    for info in await client.client_list():
        if info.get("name") == client_name:
            killed += int(await client.client_kill_filter(_id=info["id"], skipme=True))
    return killed
