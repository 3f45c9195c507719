"""Connection URLs: scheme mapping, TLS, credentials, database and wfe's own query options."""

from __future__ import annotations

import pytest
from redis.asyncio.connection import SSLConnection

from wfe_valkey import ValkeyLifecycleHub, ValkeyLock, ValkeyQueue, parse_valkey_url
from wfe_valkey._connection import new_client


@pytest.mark.parametrize(
    ("url", "redis_url", "tls"),
    [
        ("valkey://cache:6379/2", "redis://cache:6379/2", False),
        ("valkeys://cache:6380/0", "rediss://cache:6380/0", True),
        ("redis://127.0.0.1", "redis://127.0.0.1", False),
        ("rediss://h/1", "rediss://h/1", True),
        ("VALKEY://h", "redis://h", False),
    ],
)
def test_schemes_map_to_what_redis_py_reads(url: str, redis_url: str, tls: bool) -> None:
    parsed = parse_valkey_url(url)
    assert parsed.redis_url == redis_url
    assert parsed.tls is tls


def test_wfe_options_are_split_off_and_redis_options_kept() -> None:
    parsed = parse_valkey_url("valkey://h/0?prefix=shop&socket_timeout=5&visibility_timeout=60")
    assert parsed.options == {"prefix": "shop", "visibility_timeout": "60"}
    assert parsed.redis_url == "redis://h/0?socket_timeout=5"


def test_an_unknown_scheme_names_the_accepted_ones() -> None:
    with pytest.raises(ValueError, match="valkey://"):
        parse_valkey_url("http://h:6379")


async def test_password_user_and_database_reach_the_connection() -> None:
    client = new_client("valkey://app:s%40cret@cache.internal:6390/3")
    try:
        kwargs = client.connection_pool.connection_kwargs
        assert (kwargs["host"], kwargs["port"], kwargs["db"]) == ("cache.internal", 6390, 3)
        assert (kwargs["username"], kwargs["password"]) == ("app", "s@cret")
        assert client.connection_pool.connection_class is not SSLConnection
    finally:
        await client.aclose()


async def test_valkeys_connects_with_tls() -> None:
    client = new_client("valkeys://:pw@cache.internal/0")
    try:
        assert client.connection_pool.connection_class is SSLConnection
        assert client.connection_pool.connection_kwargs["password"] == "pw"
    finally:
        await client.aclose()


def test_from_url_reads_query_options_and_keywords_win() -> None:
    queue = ValkeyQueue.from_url("valkey://h/0?prefix=shop&visibility_timeout=60")
    assert queue.visibility_timeout.total_seconds() == 60
    overridden = ValkeyQueue.from_url("valkey://h/0?visibility_timeout=60", visibility_timeout=5)
    assert overridden.visibility_timeout.total_seconds() == 5
    hub = ValkeyLifecycleHub.from_url("valkeys://h/0?prefix=shop&visibility_timeout=60")
    assert hub.channel == "shop:lifecycle"
    ValkeyLock.from_url("redis://h/0?prefix=shop&visibility_timeout=60&health_check_interval=5")


def test_every_provider_reads_every_timeout_it_takes_from_the_url() -> None:
    timeouts = "retry_timeout=3&reply_timeout=4"
    queue = ValkeyQueue.from_url(f"redis://h/0?{timeouts}&visibility_timeout=5")
    lock = ValkeyLock.from_url(f"redis://h/0?{timeouts}")
    hub = ValkeyLifecycleHub.from_url(f"redis://h/0?{timeouts}&health_check_interval=6")
    for provider in (queue, lock, hub):
        assert (provider._retry_timeout, provider._reply_timeout) == (3.0, 4.0)
    assert hub._health_check_interval == 6.0


def test_a_malformed_number_option_is_named() -> None:
    with pytest.raises(ValueError, match="visibility_timeout"):
        ValkeyQueue.from_url("redis://h/0?visibility_timeout=soon")


async def test_providers_on_one_url_share_a_client_until_the_last_stops() -> None:
    lock = ValkeyLock.from_url("redis://shared.invalid:6379/5")
    queue = ValkeyQueue.from_url("valkey://shared.invalid:6379/5")
    other = ValkeyQueue.from_url("redis://shared.invalid:6379/6")
    await lock.start()
    await queue.start()
    await other.start()
    try:
        assert lock._handle.acquire() is queue._handle.acquire()
        assert other._handle.acquire() is not lock._handle.acquire()
        await lock.stop()
        assert queue._handle.acquired
    finally:
        await lock.stop()
        await queue.stop()
        await other.stop()


def test_entry_points_cover_every_scheme() -> None:
    from importlib.metadata import entry_points

    expected = {"redis", "rediss", "valkey", "valkeys"}
    providers: dict[str, type[object]] = {
        "wfe.lock": ValkeyLock,
        "wfe.queue": ValkeyQueue,
        "wfe.lifecycle": ValkeyLifecycleHub,
    }
    for group, provider in providers.items():
        ours = {ep.name: ep for ep in entry_points(group=group) if ep.value.startswith("wfe_valkey")}
        assert set(ours) == expected
        assert all(ep.load() is provider for ep in ours.values())
