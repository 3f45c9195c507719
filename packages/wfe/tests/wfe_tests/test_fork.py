"""fork_workflow: a new instance that keeps what ran before a step of the main sequence and goes on there."""

from __future__ import annotations

from collections import defaultdict

import pytest
from pydantic import BaseModel

from wfe import (
    ErrorBehavior,
    ExecutionResult,
    HostError,
    PointerStatus,
    StepExecutionContext,
    WorkflowBuilder,
    WorkflowStatus,
)

RUNS: defaultdict[str, list[str]] = defaultdict(list)


class Order(BaseModel):
    amount: int = 0
    fail_at_pack: bool = False


def record(name: str):  # type: ignore[no-untyped-def]
    def step(ctx: StepExecutionContext) -> ExecutionResult:
        RUNS[ctx.workflow.id].append(name)
        if name == "pack" and ctx.data.fail_at_pack:
            raise RuntimeError("packing machine broken")
        ctx.data.amount += 1
        return ExecutionResult.next()

    return step


def four_steps(definition_id: str):  # type: ignore[no-untyped-def]
    return (
        WorkflowBuilder(Order)
        .then_fn(record("reserve"), name="reserve")
        .then_fn(record("charge"), name="charge")
        .then_fn(record("pack"), name="pack")
        .then_fn(record("ship"), name="ship")
        .build(definition_id, 1, default_error_behavior=ErrorBehavior.suspend())
    )


async def test_fork_from_the_second_of_four_steps_runs_steps_two_to_four(make_host):
    host = await make_host(four_steps("fork-four"))
    original = await host.start_workflow("fork-four", 1, Order(amount=10))
    done = await host.wait_for_workflow(original, timeout=20)
    assert RUNS[original] == ["reserve", "charge", "pack", "ship"]
    assert done.data.amount == 14

    fork = await host.fork_workflow(original, "charge")
    forked = await host.wait_for_workflow(fork, timeout=20)
    assert forked.status is WorkflowStatus.COMPLETE
    assert RUNS[fork] == ["charge", "pack", "ship"]
    assert forked.forked_from == original
    assert forked.workflow_definition_id == "fork-four" and forked.version == 1
    # the original's data as it is now, then three more steps
    assert forked.data.amount == 17
    names = [p.step_name for p in forked.execution_pointers]
    assert names == ["reserve", "charge", "pack", "ship"]
    assert all(p.status is PointerStatus.COMPLETE for p in forked.execution_pointers)
    assert RUNS[original] == ["reserve", "charge", "pack", "ship"]  # the original did not run again
    assert (await host.get_workflow(original)).forked_from is None


async def test_fork_by_step_id_with_new_data_after_a_failure(make_host):
    host = await make_host(four_steps("fork-failed"))
    original = await host.start_workflow("fork-failed", 1, Order(fail_at_pack=True))
    await host.wait_for_workflow(original, timeout=20, statuses=[WorkflowStatus.SUSPENDED])
    await host.terminate_workflow(original)

    fork = await host.fork_workflow(original, 2, data=Order(amount=100))
    forked = await host.wait_for_workflow(fork, timeout=20)
    assert forked.status is WorkflowStatus.COMPLETE
    assert RUNS[fork] == ["pack", "ship"]
    assert forked.data.amount == 102


async def test_fork_refuses_a_step_inside_a_container_naming_its_ancestor(make_host):
    definition = (
        WorkflowBuilder(Order)
        .then_fn(record("first"), name="first")
        .if_do(lambda d: True, lambda b: b.then_fn(record("inner"), name="inner"))
        .name("gate")
        .then_fn(record("last"), name="last")
        .build("fork-container", 1)
    )
    host = await make_host(definition)
    original = await host.start_workflow("fork-container", 1, Order())
    await host.wait_for_workflow(original, timeout=20)
    with pytest.raises(HostError, match="inside container 'gate'"):
        await host.fork_workflow(original, "inner")
    with pytest.raises(HostError, match="has no step 'nowhere'"):
        await host.fork_workflow(original, "nowhere")
    fork = await host.fork_workflow(original, "gate")
    await host.wait_for_workflow(fork, timeout=20)
    assert RUNS[fork] == ["inner", "last"]


async def test_fork_refuses_a_step_the_original_never_reached(make_host):
    host = await make_host(four_steps("fork-unreached"))
    original = await host.start_workflow("fork-unreached", 1, Order(fail_at_pack=True))
    await host.wait_for_workflow(original, timeout=20, statuses=[WorkflowStatus.SUSPENDED])
    with pytest.raises(HostError, match="never reached step 'ship'"):
        await host.fork_workflow(original, "ship")
