"""Provider resolution by URL scheme through entry points; errors name what to install."""

from __future__ import annotations

import asyncio

import pytest

from wfe import (
    HostError,
    ProviderNotFoundError,
    WorkflowBuilder,
    WorkflowHostBuilder,
    WorkflowNotRegisteredError,
)
from wfe_core.providers.memory import MemoryPersistence


def test_unknown_scheme_names_the_install_command():
    with pytest.raises(ProviderNotFoundError) as info:
        WorkflowHostBuilder().use_persistence("cassandra://db").build()
    assert "no persistence provider for scheme 'cassandra'" in str(info.value)


def test_known_scheme_without_package_names_the_extra(monkeypatch):
    from wfe import _discovery

    monkeypatch.setattr(_discovery, "entry_points", lambda group, name: [])
    with pytest.raises(ProviderNotFoundError, match=r'pip install "wfe\[postgres\]"'):
        WorkflowHostBuilder().use_persistence("postgresql://u@h/db").build()


def test_objects_win_over_urls_and_memory_urls_resolve():
    store = MemoryPersistence()
    host = WorkflowHostBuilder().use_persistence(store).build()
    assert host.persistence is store
    host2 = WorkflowHostBuilder().use_persistence("memory://").use_search_index("memory://").build()
    assert type(host2.persistence).__name__ == "MemoryPersistence"
    assert type(host2.search_index).__name__ == "MemorySearchIndex"


def test_sqlite_url_brings_its_own_lock_and_queue(tmp_path):
    host = WorkflowHostBuilder().use_persistence(f"sqlite:///{tmp_path}/x.db").build()
    assert type(host.lock).__module__.startswith("wfe_sqlite")
    assert type(host.queue).__module__.startswith("wfe_sqlite")


async def test_starting_an_unregistered_workflow_raises(make_host):
    host = await make_host()
    with pytest.raises(WorkflowNotRegisteredError, match="register_workflow"):
        await host.start_workflow("ghost")


def test_run_sync_runs_a_workflow_to_completion():
    host = WorkflowHostBuilder().build()
    host.register_workflow(WorkflowBuilder().then_fn(lambda ctx: None).build("sync-run", 1))
    instance = host.run_sync("sync-run")
    assert instance.status.value == "Complete"


async def test_run_sync_refuses_a_running_loop():
    host = WorkflowHostBuilder().build()
    with pytest.raises(HostError, match="running event loop"):
        host.run_sync("anything")
    await asyncio.sleep(0)


@pytest.mark.parametrize(
    "option", ["max_concurrent_workflows", "max_concurrent_events", "max_passes_per_lease"]
)
def test_a_concurrency_below_one_is_refused_naming_the_option(option):
    with pytest.raises(ValueError, match=f"HostOptions.{option} must be a whole number of at least 1, not 0"):
        WorkflowHostBuilder().with_options(**{option: 0})
