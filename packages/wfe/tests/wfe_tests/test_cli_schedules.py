"""``wfe schedules``, and the ``schedule:`` entries of YAML workflows served by ``wfe serve --dir``."""

from __future__ import annotations

import asyncio
import signal
import subprocess
import sys
from datetime import timedelta
from pathlib import Path

import pytest
from click.testing import CliRunner

from wfe import WorkflowBuilder, WorkflowHostBuilder, WorkflowStatus
from wfe.cli import cli

WFE = [sys.executable, "-c", "from wfe.cli import main; main()"]

TICKING = """
workflow:
  id: ticking
  version: 1
  schedule:
    - every: 1s
      overlap: allow
      inputs: {who: clock}
    - id: nightly
      cron: "0 3 * * *"
      timezone: Europe/Paris
  steps:
    - name: tick
      type: shell
      config:
        run: echo tick
"""


@pytest.fixture
def runner(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> CliRunner:
    monkeypatch.chdir(tmp_path)
    return CliRunner()


def test_schedules_lists_each_with_its_next_firing(runner: CliRunner, tmp_path: Path) -> None:
    store = f"sqlite:///{tmp_path}/s.db"
    result = runner.invoke(cli, ["schedules", "--db", store])
    assert result.exit_code == 0, result.output
    assert "no schedules" in result.output

    async def add() -> None:
        host = WorkflowHostBuilder().use_persistence(store).build()
        host.register_workflow(WorkflowBuilder().then_fn(lambda ctx: None).build("report", 1))
        await host.persistence.ensure_store_exists()
        try:
            await host.add_schedule("weekly-report", "report", cron="0 8 * * 1", timezone="Europe/Paris")
            await host.add_schedule("poll", "report", every=timedelta(minutes=5))
        finally:
            await host.persistence.close()

    asyncio.run(add())
    result = runner.invoke(cli, ["schedules", "--db", store])
    assert result.exit_code == 0, result.output
    assert "weekly-report" in result.output
    assert "cron 0 8 * * 1 (Europe/Paris)" in result.output
    assert "every 0:05:00" in result.output
    assert "next firing" in result.output


def test_schedules_is_listed_in_help(runner: CliRunner) -> None:
    result = runner.invoke(cli, ["--help"])
    assert "schedules" in result.output


@pytest.mark.slow
async def test_serve_registers_the_schedules_of_its_workflows_and_fires_them(tmp_path: Path) -> None:
    folder = tmp_path / "pipelines"
    folder.mkdir()
    (folder / "ticking.yaml").write_text(TICKING)
    store = f"sqlite:///{tmp_path}/serve.db"
    process = await asyncio.create_subprocess_exec(
        *WFE, "serve", "--dir", str(folder), "--db", store, cwd=tmp_path,
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
    )  # fmt: skip
    try:
        assert process.stdout is not None
        first = await asyncio.wait_for(process.stdout.readline(), 30)
        assert b"serving 1 workflows" in first, first
        client = WorkflowHostBuilder().use_persistence(store).build()
        await client.persistence.ensure_store_exists()
        try:
            for _ in range(300):
                runs = [
                    i
                    for i in await client.persistence.list_workflows(definition_id="ticking")
                    if i.status is WorkflowStatus.COMPLETE
                ]
                if runs:
                    break
                await asyncio.sleep(0.1)
            assert runs, "no tick ran"
            assert runs[0].id.startswith("ticking@")
            assert runs[0].data["who"] == "clock"
            ids = [s.schedule_id for s in await client.list_schedules()]
            assert ids == ["nightly", "ticking"]
        finally:
            await client.persistence.close()
        listing = await asyncio.create_subprocess_exec(
            *WFE, "schedules", "--db", store, cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.STDOUT
        )
        out, _ = await asyncio.wait_for(listing.communicate(), 60)
        assert listing.returncode == 0, out.decode()
        assert b"nightly" in out
        assert b"every 0:00:01" in out
        process.send_signal(signal.SIGTERM)
        rest, _ = await asyncio.wait_for(process.communicate(), 60)
        assert process.returncode == 0, rest.decode()
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()
