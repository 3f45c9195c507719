"""Search through the host: the index consumer keeps the index current; a failing index never fails a workflow."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

from pydantic import BaseModel

from wfe import StatusFilter, WorkflowBuilder, WorkflowStatus
from wfe_core.errors import SearchError
from wfe_core.models import Page, SearchFilter, WorkflowInstance, WorkflowSearchResult
from wfe_core.providers.memory import MemorySearchIndex


class Ticket(BaseModel):
    title: str = ""
    priority: int = 0


async def eventually(check, timeout: float = 5.0) -> None:
    for _ in range(int(timeout / 0.05)):
        if await check():
            return
        await asyncio.sleep(0.05)
    raise AssertionError("condition never held")


async def test_host_search_finds_instances_by_reference_text_and_status(make_host):
    definition = WorkflowBuilder(Ticket).wait_for("close", lambda d, ctx: ctx.workflow.id).build("ticket", 1)
    host = await make_host(definition, configure=lambda b: b.use_search_index("memory://"))
    first = await host.start_workflow(
        "ticket", 1, Ticket(title="printer on fire", priority=1), reference="T-1"
    )
    second = await host.start_workflow(
        "ticket", 1, Ticket(title="coffee machine", priority=2), reference="T-2"
    )

    async def indexed() -> bool:
        return (await host.search("printer")).total == 1 and (await host.search("T-2")).total == 1

    await eventually(indexed)
    page = await host.search("T-2")
    assert [r.id for r in page.data] == [second]
    await host.publish_event("close", first)
    await host.wait_for_workflow(first, timeout=5)

    async def complete_indexed() -> bool:
        found = await host.search("", filters=[StatusFilter(status=WorkflowStatus.COMPLETE)])
        return [r.id for r in found.data] == [first]

    await eventually(complete_indexed)


class BrokenIndex(MemorySearchIndex):
    def __init__(self) -> None:
        super().__init__()
        self.attempts = 0

    async def index_workflow(self, instance: WorkflowInstance) -> None:
        self.attempts += 1
        raise SearchError("index is down")

    async def search(
        self, terms: str, skip: int = 0, take: int = 100, filters: Sequence[SearchFilter] = ()
    ) -> Page[WorkflowSearchResult]:
        raise SearchError("index is down")


async def test_failing_index_is_retried_and_never_fails_the_workflow(make_host):
    broken = BrokenIndex()
    definition = WorkflowBuilder().then_fn(lambda ctx: None).build("indexed", 1)
    host = await make_host(definition, configure=lambda b: b.use_search_index(broken))
    wid = await host.start_workflow("indexed")
    done = await host.wait_for_workflow(wid, timeout=5)
    assert done.status is WorkflowStatus.COMPLETE

    async def retried() -> bool:
        return broken.attempts >= 3

    await eventually(retried)
