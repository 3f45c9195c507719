"""Steps put and get artifacts through ctx.artifacts; the host's store survives a restart when durable, is a
temporary folder otherwise, and loses the artifacts of purged instances."""

from __future__ import annotations

import asyncio
import os
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from wfe import (
    ArtifactNotFoundError,
    LocalArtifactStore,
    StepExecutionContext,
    WorkflowBuilder,
    WorkflowHostBuilder,
    WorkflowStatus,
)
from wfe_core.errors import WorkflowNotFoundError


def producer(tmp_path: Path) -> Any:
    async def produce(ctx: StepExecutionContext) -> None:
        report = tmp_path / f"report-{ctx.workflow.id}.txt"
        report.write_text(f"made by {ctx.workflow.id}")
        tree = tmp_path / f"tree-{ctx.workflow.id}"
        (tree / "sub").mkdir(parents=True)
        (tree / "sub" / "a.txt").write_text("a")
        ref = await ctx.artifacts.put("report", report)
        await ctx.artifacts.put("tree", tree)
        ctx.data["report_ref"] = ref.to_data()

    return produce


async def consume(ctx: StepExecutionContext) -> None:
    report = await ctx.artifacts.get("report")
    tree = await ctx.artifacts.get("tree")
    ctx.data["report"] = report.read_text()
    ctx.data["tree"] = (tree / "sub" / "a.txt").read_text()
    ctx.data["temporary"] = [str(report), str(tree)]


def consume_in_a_thread(ctx: StepExecutionContext) -> None:
    ctx.data["threaded"] = ctx.artifacts.get_sync("report").read_text()


async def test_a_later_step_gets_what_an_earlier_step_put(tmp_path: Path) -> None:
    definition = (
        WorkflowBuilder()
        .then_fn(producer(tmp_path))
        .then_fn(consume)
        .then_fn(consume_in_a_thread)
        .build("artifacts", 1)
    )
    host = WorkflowHostBuilder().build()
    host.register_workflow(definition)
    async with host:
        wid = await host.start_workflow("artifacts", data={})
        done = await host.wait_for_workflow(wid, timeout=10)
        assert done.status is WorkflowStatus.COMPLETE
        assert done.data["report"] == f"made by {wid}"
        assert done.data["tree"] == "a"
        assert done.data["threaded"] == f"made by {wid}"
        assert done.data["report_ref"]["__wfe_artifact"].startswith("sha256:")
        for path in done.data["temporary"]:
            assert not _exists(path), "get() without a destination cleans up when the step ends"
        assert sorted(await host.artifact_store.list(wid)) == ["report", "tree"]
        root = host.artifact_store.root  # type: ignore[attr-defined]
    assert not root.exists(), "an in-memory host's temporary artifact folder goes when it stops"


async def test_getting_an_artifact_nobody_put_fails_the_step_naming_the_fix() -> None:
    async def read(ctx: StepExecutionContext) -> None:
        await ctx.artifacts.get("missing")

    host = WorkflowHostBuilder().build()
    host.register_workflow(WorkflowBuilder().then_fn(read).build("missing-artifact", 1))
    async with host:
        wid = await host.start_workflow("missing-artifact")
        await _until(lambda: host.get_errors(wid))  # the step fails (and is retried later)
        errors = await host.get_errors(wid)
        assert "artifact 'missing' was not put by any step" in errors[0].message


async def test_artifacts_survive_a_restart_with_sqlite_beside_the_database(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path}/wfe.db"
    definition = (
        WorkflowBuilder()
        .then_fn(producer(tmp_path))
        .wait_for("go", lambda data, ctx: ctx.workflow.id)
        .then_fn(consume)
        .build("restart", 1)
    )
    first = WorkflowHostBuilder().use_persistence(url).build()
    first.register_workflow(definition)
    async with first:
        wid = await first.start_workflow("restart", data={})
        await _until(lambda: first.artifact_store.get(wid, "tree"))
        await first.wait_for_workflow(wid, timeout=10, statuses=[WorkflowStatus.RUNNABLE])
    assert (tmp_path / "wfe.db.artifacts" / "blobs").is_dir()

    second = WorkflowHostBuilder().use_persistence(url).build()
    second.register_workflow(definition)
    async with second:
        assert sorted(await second.artifact_store.list(wid)) == ["report", "tree"]
        await second.publish_event("go", wid)
        done = await second.wait_for_workflow(wid, timeout=10)
        assert done.status is WorkflowStatus.COMPLETE
        assert done.data["report"] == f"made by {wid}"


async def test_use_artifact_store_takes_a_url_or_a_store(tmp_path: Path) -> None:
    by_url = WorkflowHostBuilder().use_artifact_store(f"file://{tmp_path}/by-url").build()
    assert by_url.artifact_store.root == tmp_path / "by-url"  # type: ignore[attr-defined]
    store = LocalArtifactStore(tmp_path / "object")
    assert WorkflowHostBuilder().use_artifact_store(store).build().artifact_store is store
    with pytest.raises(Exception, match="not an artifact store"):
        WorkflowHostBuilder().use_artifact_store(42)  # type: ignore[arg-type]


async def test_a_purge_removes_the_artifacts_of_purged_instances(tmp_path: Path) -> None:
    store = LocalArtifactStore(tmp_path / "artifacts")
    host = (
        WorkflowHostBuilder()
        .use_persistence(f"sqlite:///{tmp_path}/purge.db")
        .use_artifact_store(store)
        .with_options(retention=timedelta(0), purge_interval=timedelta(milliseconds=100))
        .build()
    )
    host.register_workflow(WorkflowBuilder().then_fn(producer(tmp_path)).build("purged", 1))
    async with host:
        wid = await host.start_workflow("purged", data={})
        await host.wait_for_workflow(wid, timeout=10)
        report = await store.get(wid, "report")
        assert report is not None

        async def purged() -> bool:
            return await store.list(wid) == {} and not await store.exists(report.digest)

        await _until(purged)
        with pytest.raises(WorkflowNotFoundError):
            await host.persistence.get_workflow(wid)
        with pytest.raises(ArtifactNotFoundError):
            await store.fetch(report, tmp_path / "gone")


async def _until(check: Any, timeout: float = 10.0) -> None:
    """Wait (bounded generously) until ``await check()`` is truthy."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not await check():
        assert loop.time() < deadline, "condition not reached in time"
        await asyncio.sleep(0.05)


def _exists(path: str) -> bool:
    return os.path.exists(path)


async def test_declared_artifacts_are_checked_around_the_run(tmp_path: Path) -> None:
    async def forgets(ctx: StepExecutionContext) -> None:
        return None

    ran: list[str] = []

    async def reads(ctx: StepExecutionContext) -> None:
        ran.append("reads")

    builder = WorkflowBuilder()
    builder.then_fn(producer(tmp_path)).produces("report", "tree").then_fn(reads).consumes("report")
    good = builder.build("declared", 1)
    forgetful = WorkflowBuilder().then_fn(forgets).produces("report").build("forgetful", 1)
    early = WorkflowBuilder().then_fn(reads).consumes("report").build("early", 1)
    assert good.steps[0].produces == ("report", "tree") and good.steps[1].consumes == ("report",)
    host = WorkflowHostBuilder().build()
    for definition in (good, forgetful, early):
        host.register_workflow(definition)
    async with host:
        wid = await host.start_workflow("declared", data={})
        assert (await host.wait_for_workflow(wid, timeout=10)).status is WorkflowStatus.COMPLETE
        assert ran == ["reads"]

        forgot = await host.start_workflow("forgetful", data={})
        await _until(lambda: host.get_errors(forgot))
        message = (await host.get_errors(forgot))[0].message
        assert "declares it produces artifact 'report' but did not put it" in message

        too_early = await host.start_workflow("early", data={})
        await _until(lambda: host.get_errors(too_early))
        assert "consumes artifact 'report'" in (await host.get_errors(too_early))[0].message
        assert ran == ["reads"], "a step whose consumed artifact is missing does not run"
