"""validate, schema, list, show, publish, serve and the missing-extra messages of the ``wfe`` command line."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import json
import os
import re
import signal
import sqlite3
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from wfe import WorkflowBuilder, WorkflowHostBuilder, WorkflowStatus
from wfe.cli import cli
from wfe_yaml import load_workflows

WFE = [sys.executable, "-c", "from wfe.cli import main; main()"]
EXAMPLE = Path(__file__).resolve().parents[4] / "examples" / "pipelines" / "ci.yaml"

GREETING = """
workflow:
  id: greeting
  version: 2
  error_behavior:
    type: terminate
  steps:
    - name: hello
      type: shell
      config:
        run: |
          echo "hello ((who))"
          echo "##wfe[output greeted=((who))]"
"""

TYPO = """workflow:
  id: typo
  version: 1
  steps:
    - name: hello
      type: shell
      config:
        rnu: echo hi
"""


@pytest.fixture
def runner(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> CliRunner:
    monkeypatch.chdir(tmp_path)
    return CliRunner()


def test_validate_accepts_the_example_pipeline(runner: CliRunner) -> None:
    result = runner.invoke(cli, ["validate", str(EXAMPLE), "--var", "project=demo"])
    assert result.exit_code == 0, result.output
    assert "ok (1 workflow: ci v1)" in result.output


def test_validate_reports_file_line_column(runner: CliRunner, tmp_path: Path) -> None:
    (tmp_path / "typo.yaml").write_text(TYPO)
    result = runner.invoke(cli, ["validate", "typo.yaml"])
    assert result.exit_code == 2
    assert (
        "typo.yaml:8:9: step 'hello': unknown field 'config.rnu' (did you mean 'config.run'?)"
        in result.output
    )


BOMB = "\n".join(
    [f"_l0: &l0 [{', '.join(['lol'] * 9)}]"]
    + [f"_l{n}: &l{n} [{', '.join([f'*l{n - 1}'] * 9)}]" for n in range(1, 9)]
) + GREETING.replace("((who))", "world")


def test_validate_refuses_an_alias_bomb_at_its_line(runner: CliRunner, tmp_path: Path) -> None:
    (tmp_path / "laughs.yaml").write_text(BOMB)
    result = runner.invoke(cli, ["validate", "laughs.yaml"])
    assert result.exit_code == 2, result.output
    [line] = [line for line in result.output.splitlines() if line.strip()]
    assert line.startswith("laughs.yaml:6:6: YAML parse error: aliases expand the document beyond"), line
    assert line.endswith("write the values out or nest fewer aliases"), "the message is printed unwrapped"


RUST_KEYS = """\
workflow:
  id: ci
  version: 1
  steps:
    - name: build
      config:
        run: make
        pull_policy: Always
"""


def test_validate_warns_about_ignored_rust_keys_and_strict_refuses_them(
    runner: CliRunner, tmp_path: Path
) -> None:
    (tmp_path / "ci.yaml").write_text(RUST_KEYS)
    warned = runner.invoke(cli, ["validate", "ci.yaml"])
    assert warned.exit_code == 0, warned.output
    assert "ci.yaml:8:9: warning: step 'build': config.pull_policy is ignored" in warned.output
    assert "ok (1 workflow: ci v1; 1 warning)" in warned.output
    strict = runner.invoke(cli, ["validate", "--strict", "ci.yaml"])
    assert strict.exit_code == 2, strict.output
    assert re.search(
        r"^ci\.yaml:8:9: step 'build': config\.pull_policy is ignored.*strict", strict.output, re.M
    )


def test_validate_points_a_step_level_key_at_config(runner: CliRunner, tmp_path: Path) -> None:
    (tmp_path / "ci.yaml").write_text(RUST_KEYS.split("      config:")[0] + "      run: make\n")
    result = runner.invoke(cli, ["validate", "ci.yaml"])
    assert result.exit_code == 2, result.output
    assert "ci.yaml:6:7: step 'build': unknown field 'run' (did you mean 'config.run'?" in result.output


def test_validate_names_a_missing_variable(runner: CliRunner, tmp_path: Path) -> None:
    (tmp_path / "greeting.yaml").write_text(GREETING)
    missing = runner.invoke(cli, ["validate", "greeting.yaml"])
    assert missing.exit_code == 2
    assert re.search(r"greeting\.yaml:\d+:\d+: .*who", missing.output), missing.output
    given = runner.invoke(cli, ["validate", "greeting.yaml", "--var", "who=world"])
    assert given.exit_code == 0, given.output


def test_a_malformed_var_is_a_usage_error(runner: CliRunner, tmp_path: Path) -> None:
    (tmp_path / "greeting.yaml").write_text(GREETING)
    result = runner.invoke(cli, ["validate", "greeting.yaml", "--var", "who"])
    assert result.exit_code == 2
    assert "key=value" in result.output


def test_schema_prints_the_json_schema(runner: CliRunner) -> None:
    result = runner.invoke(cli, ["schema"])
    assert result.exit_code == 0
    schema = json.loads(result.output)
    assert schema["$schema"].startswith("https://json-schema.org/")
    assert "workflow" in json.dumps(schema)


def test_run_then_list_and_show(runner: CliRunner, tmp_path: Path) -> None:
    (tmp_path / "greeting.yaml").write_text(GREETING)
    ran = runner.invoke(cli, ["run", "greeting.yaml", "--var", "who=world"])
    assert ran.exit_code == 0, ran.output
    assert "[hello] hello world" in ran.output
    ran_again = runner.invoke(cli, ["run", "greeting.yaml", "--var", "who=moon"])
    assert ran_again.exit_code == 0, ran_again.output

    listed = runner.invoke(cli, ["list"])
    assert listed.exit_code == 0, listed.output
    rows = [line for line in listed.output.splitlines() if "greeting-" in line]
    assert len(rows) == 2
    assert "greeting-2" in rows[0]  # newest first
    assert "greeting v2" in rows[0]
    assert "Complete" in rows[0]
    for column in ("name", "id", "definition", "status", "created", "completed"):
        assert column in listed.output

    shown = runner.invoke(cli, ["show", "greeting-1"])
    assert shown.exit_code == 0, shown.output
    assert "status:     Complete" in shown.output
    assert re.search(r"hello\s.*Complete", shown.output)
    data = json.loads(shown.output[shown.output.index("data:") + len("data:") :])
    assert data["greeted"] == "world"

    filtered = runner.invoke(cli, ["list", "--status", "terminated"])
    assert filtered.exit_code == 0
    assert "no runs" in filtered.output


def test_show_of_an_unknown_run_says_how_to_find_one(runner: CliRunner) -> None:
    result = runner.invoke(cli, ["show", "nope-1"])
    assert result.exit_code == 2
    assert "wfe list" in result.output


def test_run_of_an_unknown_workflow_lists_the_known_ones(runner: CliRunner, tmp_path: Path) -> None:
    (tmp_path / "greeting.yaml").write_text(GREETING)
    result = runner.invoke(cli, ["run", "greeting.yaml", "--var", "who=x", "--workflow", "other"])
    assert result.exit_code == 2
    assert "the file has: greeting" in result.output


def test_missing_yaml_package_prints_the_install_command(
    runner: CliRunner, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(sys.modules, "wfe_yaml", None)
    for args in (["validate", str(EXAMPLE)], ["run", str(EXAMPLE)], ["schema"]):
        result = runner.invoke(cli, args)
        assert result.exit_code == 2, args
        assert 'pip install "wfe[yaml]"' in result.output
        clone = 'pip install ./packages/wfe-core ./packages/wfe-yaml "./packages/wfe[yaml]"'
        assert clone in " ".join(result.output.split())


def test_missing_sqlite_package_prints_the_install_command(
    runner: CliRunner, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(sys.modules, "wfe_sqlite", None)
    for args in (["list"], ["show", "x"], ["publish", "e", "k"], ["run", str(EXAMPLE), "--var", "project=p"]):
        result = runner.invoke(cli, args)
        assert result.exit_code == 2, args
        assert 'pip install "wfe[sqlite]"' in result.output
        clone = 'pip install ./packages/wfe-core ./packages/wfe-sqlite "./packages/wfe[sqlite]"'
        assert clone in " ".join(result.output.split())


def test_publish_rejects_data_that_is_not_json(runner: CliRunner) -> None:
    result = runner.invoke(cli, ["publish", "approved", "k", "{not json"])
    assert result.exit_code == 2
    assert "not JSON" in result.output


async def test_publish_reaches_a_waiting_workflow(tmp_path: Path) -> None:
    store = f"sqlite:///{tmp_path}/events.db"
    workflow = (
        WorkflowBuilder()
        .then_fn(lambda ctx: None)
        .wait_for("approved", "order-7")
        .output("approval", lambda step: step.event_data)
        .build("approval", 1)
    )
    host = WorkflowHostBuilder().use_persistence(store).with_options(poll_interval=0.5).build()
    host.register_workflow(workflow)
    async with host:
        workflow_id = await host.start_workflow("approval")
        await host.wait_for_workflow(workflow_id, 10, statuses=(WorkflowStatus.RUNNABLE,))
        process = await asyncio.create_subprocess_exec(
            *WFE,
            "publish",
            "approved",
            "order-7",
            '{"by": "ann"}',
            "--db",
            store,
            cwd=tmp_path,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
        )
        out, _ = await process.communicate()
        assert process.returncode == 0, out.decode()
        assert "published approved order-7" in out.decode()
        done = await host.wait_for_workflow(workflow_id, 30)
    assert done.status is WorkflowStatus.COMPLETE
    assert done.data["approval"] == {"by": "ann"}


@pytest.mark.slow
async def test_serve_runs_workflows_from_a_folder_until_sigterm(tmp_path: Path) -> None:
    folder = tmp_path / "pipelines"
    folder.mkdir()
    (folder / "greeting.yaml").write_text(GREETING.replace("((who))", "served"))
    (folder / "notes.txt").write_text("not a pipeline")
    store = f"sqlite:///{tmp_path}/serve.db"
    process = await asyncio.create_subprocess_exec(
        *WFE,
        "serve",
        "--dir",
        str(folder),
        "--db",
        store,
        "--host-id",
        "serve-1",
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    try:
        assert process.stdout is not None
        first = await asyncio.wait_for(process.stdout.readline(), 30)
        assert b"serving 1 workflows" in first, first

        # Another process (here: this test) starts a run in the shared store; the serving host runs it.
        client = WorkflowHostBuilder().use_persistence(store).build()
        for compiled in load_workflows(folder / "greeting.yaml"):
            client.register_workflow(compiled)
        await client.persistence.ensure_store_exists()
        await client.queue.start()
        try:
            workflow_id = await client.start_workflow("greeting")
            for _ in range(300):
                instance = await client.persistence.get_workflow(workflow_id)
                if instance.status is WorkflowStatus.COMPLETE:
                    break
                await asyncio.sleep(0.1)
            assert instance.status is WorkflowStatus.COMPLETE
            assert instance.data["greeted"] == "served"
            with contextlib.closing(sqlite3.connect(tmp_path / "serve.db")) as conn, conn:
                tokens = [row[0] for row in conn.execute("SELECT token FROM locks WHERE token IS NOT NULL")]
            assert tokens and all("@serve-1|" in token for token in tokens), "leases name the host id"
        finally:
            await client.queue.stop()
            await client.lock.stop()
            await client.persistence.close()

        process.send_signal(signal.SIGTERM)
        rest, _ = await asyncio.wait_for(process.communicate(), 60)
        assert process.returncode == 0, rest.decode()
        assert b"hello served" in rest
        assert b"stopped" in rest
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()


def test_help_lists_every_command(runner: CliRunner) -> None:
    result = runner.invoke(cli, ["--help"])
    assert result.exit_code == 0
    for command in (
        "run",
        "resume",
        "list",
        "show",
        "validate",
        "publish",
        "schema",
        "serve",
        "logs",
        "terminate",
        "suspend",
    ):
        assert re.search(rf"^\s+{command}\s", result.output, re.MULTILINE), command
    assert os.path.exists(EXAMPLE)


FLOW = """
workflow:
  id: flow
  version: 1
  steps:
    - name: work
      error_behavior: {type: retry, interval: 100ms, max_retries: 1000}
      config:
        run: |
          test -e ../go || exit 1
          echo CONTENT >> ../out.log
"""


async def _serve(folder: Path, store: str) -> tuple[asyncio.subprocess.Process, str]:
    process = await asyncio.create_subprocess_exec(
        *WFE,
        "serve",
        "--dir",
        str(folder),
        "--db",
        store,
        cwd=folder,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    assert process.stdout is not None
    first = await asyncio.wait_for(process.stdout.readline(), 30)
    return process, first.decode()


async def _stop(process: asyncio.subprocess.Process) -> str:
    process.send_signal(signal.SIGTERM)
    rest, _ = await asyncio.wait_for(process.communicate(), 60)
    assert process.returncode == 0, rest.decode()
    return rest.decode()


async def _start(store: str, definition: Any) -> str:
    client = WorkflowHostBuilder().use_persistence(store).build()
    client.register_workflow(definition)
    await client.persistence.ensure_store_exists()
    await client.queue.start()
    try:
        return await client.start_workflow(definition.id, definition.version)
    finally:
        await client.queue.stop()
        await client.lock.stop()
        await client.persistence.close()


async def _status(store: str, workflow_id: str, wanted: WorkflowStatus) -> None:
    client = WorkflowHostBuilder().use_persistence(store).build()
    await client.persistence.ensure_store_exists()
    try:
        for _ in range(600):
            instance = await client.persistence.get_workflow(workflow_id)
            if instance.status is wanted:
                return
            await asyncio.sleep(0.05)
        raise AssertionError(f"{workflow_id} is {instance.status.value}, not {wanted.value}")
    finally:
        await client.persistence.close()


@pytest.mark.slow
async def test_serve_gives_changed_content_a_new_version_and_keeps_runs_on_theirs(tmp_path: Path) -> None:
    folder = tmp_path / "pipelines"
    folder.mkdir()
    (folder / "flow.yaml").write_text(FLOW.replace("CONTENT", "first"))
    store = f"sqlite:///{tmp_path}/serve.db"
    process, first = await _serve(folder, store)
    try:
        assert "flow v1" in first, first
        [v1] = load_workflows(folder / "flow.yaml")
        old_run = await _start(store, v1)
        await _stop(process)

        # The file changes but keeps its version: served again, it gets a version of its own.
        (folder / "flow.yaml").write_text(FLOW.replace("CONTENT", "second"))
        process, first = await _serve(folder, store)
        assert "flow v2 (the file says version 1)" in first, first
        assert "flow v1 (for its unfinished runs)" in first, first
        [changed] = load_workflows(folder / "flow.yaml")
        new_run = await _start(store, dataclasses.replace(changed.definition, version=2))
        (tmp_path / "go").touch()
        await _status(store, old_run, WorkflowStatus.COMPLETE)
        await _status(store, new_run, WorkflowStatus.COMPLETE)
        assert sorted((tmp_path / "out.log").read_text().split()) == ["first", "second"]
        await _stop(process)

        # Unchanged, it keeps its version.
        process, first = await _serve(folder, store)
        assert "flow v2 (the file says version 1)" in first and "for its unfinished runs" not in first, first
        await _stop(process)
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()
