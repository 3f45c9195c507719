"""Fixtures: the test server's URL, a key prefix per test, and removal of that prefix's keys afterwards."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator

import pytest
from redis.asyncio import Redis

from wfe_core.testing.services import service_url
from wfe_valkey._connection import new_client
from wfe_valkey_tests.server import delete_keys


@pytest.fixture
def valkey_url() -> str:
    return service_url("WFE_TEST_VALKEY_URL")


@pytest.fixture
async def admin(valkey_url: str) -> AsyncIterator[Redis]:
    """A client of the tests' own, for inspecting and cleaning up keys."""
    client = new_client(valkey_url)
    yield client
    await client.aclose()


@pytest.fixture
async def prefix(admin: Redis) -> AsyncIterator[str]:
    """A key prefix no other test uses; its keys are deleted after the test."""
    value = f"wfe-test-{uuid.uuid4().hex}"
    yield value
    await delete_keys(admin, value)
