"""Idempotent starts (``workflow_id=``) and human names (``name=``), and every verb taking the name."""

from __future__ import annotations

import asyncio

import pytest

from wfe import WorkflowBuilder, WorkflowStatus
from wfe_core.errors import WorkflowNameTakenError


def definitions(runs: list[str]):
    counted = WorkflowBuilder().then_fn(lambda ctx: runs.append(ctx.workflow.id)).build("counted", 1)
    waiting = WorkflowBuilder().wait_for("go", "k").then_fn(lambda ctx: None).build("waiting", 1)
    return counted, waiting


async def test_a_second_start_with_the_same_id_returns_it_and_creates_nothing(make_host):
    runs: list[str] = []
    host = await make_host(*definitions(runs))
    assert await host.start_workflow("counted", data=None, workflow_id="order-42") == "order-42"
    done = await host.wait_for_workflow("order-42", timeout=10)
    assert done.status is WorkflowStatus.COMPLETE
    # whatever its status: complete here, and a different definition or name changes nothing
    assert await host.start_workflow("waiting", workflow_id="order-42", name="other") == "order-42"
    await asyncio.sleep(0.2)
    assert runs == ["order-42"]
    again = await host.get_workflow("order-42")
    assert again.workflow_definition_id == "counted"
    assert again.name == "counted-1"
    assert len(await host.persistence.list_workflows()) == 1


async def test_concurrent_starts_of_one_id_make_one_instance(make_host):
    runs: list[str] = []
    host = await make_host(*definitions(runs))
    ids = await asyncio.gather(*(host.start_workflow("counted", workflow_id="once") for _ in range(10)))
    assert set(ids) == {"once"}
    await host.wait_for_workflow("once", timeout=10)
    await asyncio.sleep(0.2)
    assert runs == ["once"]


async def test_a_running_instance_is_not_started_again(make_host):
    host = await make_host(*definitions([]))
    await host.start_workflow("waiting", workflow_id="w-1")
    assert await host.start_workflow("waiting", workflow_id="w-1") == "w-1"
    assert len(await host.persistence.list_workflows()) == 1
    await host.publish_event("go", "k")
    assert (await host.wait_for_workflow("w-1", timeout=10)).status is WorkflowStatus.COMPLETE


async def test_a_human_name_replaces_the_generated_one_and_a_clash_names_the_holder(make_host):
    host = await make_host(*definitions([]))
    wid = await host.start_workflow("waiting", name="release-1.2")
    instance = await host.get_workflow("release-1.2")
    assert instance.id == wid
    assert instance.name == "release-1.2"
    with pytest.raises(WorkflowNameTakenError, match=wid) as raised:
        await host.start_workflow("waiting", name="release-1.2")
    assert raised.value.existing_id == wid
    assert len(await host.persistence.list_workflows()) == 1
    # a generated name follows its own counter
    other = await host.start_workflow("waiting")
    assert (await host.get_workflow(other)).name == "waiting-1"


async def test_every_verb_takes_the_human_name(make_host):
    host = await make_host(*definitions([]))
    wid = await host.start_workflow("waiting", name="nightly-build")
    await asyncio.sleep(0.2)
    assert await host.suspend_workflow("nightly-build") is True
    assert (await host.get_workflow(wid)).status is WorkflowStatus.SUSPENDED
    assert await host.resume_workflow("nightly-build") is True
    assert await host.get_errors("nightly-build") == []
    assert await host.terminate_workflow("nightly-build") is True
    done = await host.wait_for_workflow("nightly-build", timeout=10)
    assert done.status is WorkflowStatus.TERMINATED


async def test_an_id_and_a_name_together(make_host):
    host = await make_host(*definitions([]))
    assert await host.start_workflow("waiting", workflow_id="deploy-7", name="deploy seven") == "deploy-7"
    assert (await host.get_workflow("deploy seven")).id == "deploy-7"
    # the same idempotent start again (same id and name) is a no-op, not a name clash
    assert await host.start_workflow("waiting", workflow_id="deploy-7", name="deploy seven") == "deploy-7"


@pytest.mark.parametrize("bad", ["", "  ", 42])
async def test_an_empty_or_non_text_id_or_name_is_refused(make_host, bad):
    host = await make_host(*definitions([]))
    with pytest.raises(TypeError, match="workflow_id"):
        await host.start_workflow("waiting", workflow_id=bad)
    with pytest.raises(TypeError, match="name"):
        await host.start_workflow("waiting", name=bad)


async def test_a_repeated_start_runs_no_pre_middleware(make_host):
    seen: list[str] = []

    def configure(builder):
        builder.use_workflow_middleware("pre", lambda instance: seen.append(instance.id))

    host = await make_host(*definitions([]), configure=configure)
    await host.start_workflow("waiting", workflow_id="m-1")
    await host.start_workflow("waiting", workflow_id="m-1")
    assert seen == ["m-1"]


async def test_an_id_equal_to_another_instance_name_is_a_new_instance(make_host):
    host = await make_host(*definitions([]))
    named = await host.start_workflow("waiting", name="shared-word")
    assert await host.start_workflow("waiting", workflow_id="shared-word") == "shared-word"
    assert named != "shared-word"
    assert len(await host.persistence.list_workflows()) == 2
