"""The git-repo step type clones a local bare repository (ref, depth, submodules), exposes the checkout as an
artifact with sha and ref outputs, and never shows credentials; a shell step receives it through inputs."""

from __future__ import annotations

import os
import subprocess
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from wfe import LocalArtifactStore, WorkflowHostBuilder, WorkflowStatus
from wfe_core.models import ArtifactRef
from wfe_core.step import StepExecutionContext
from wfe_yaml import load_workflow_from_str
from wfe_yaml.git import GitRepoError, GitRepoStepType, mask_url

from .git_remote import GIT_ENV, Remote, make_remote
from .rust_fixtures import fixture_text, require_fixtures
from .step_context import RecordingSink, step_context


@pytest.fixture(scope="module")
def remote(tmp_path_factory: pytest.TempPathFactory) -> Remote:
    return make_remote(tmp_path_factory.mktemp("remote"))


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[LocalArtifactStore]:
    artifacts = LocalArtifactStore(tmp_path / "artifacts")
    await artifacts.start()
    yield artifacts
    await artifacts.close()


def _context(
    store: LocalArtifactStore, sink: RecordingSink | None = None, data: Any = None
) -> StepExecutionContext:
    ctx = step_context(data, step_name="checkout", sink=sink)
    ctx.artifact_store = store
    return ctx


async def _clone(
    store: LocalArtifactStore, sink: RecordingSink | None = None, **config: Any
) -> dict[str, Any]:
    step = GitRepoStepType().create(config, step_name="checkout", workflow_id="wf")
    await step.run(_context(store, sink))
    return step.outputs


def _in_checkout(path: Path, *args: str) -> str:
    return subprocess.run(
        ["git", *args], cwd=path, env=GIT_ENV, check=True, capture_output=True, text=True
    ).stdout.strip()


async def test_clones_the_default_branch_and_stores_the_checkout_as_an_artifact(
    remote: Remote, store: LocalArtifactStore, tmp_path: Path
) -> None:
    outputs = await _clone(store, url=str(remote.bare))
    assert outputs["sha"] == outputs["checkout.sha"] == remote.head
    assert outputs["ref"] == outputs["checkout.ref"] == "main"
    ref = ArtifactRef.from_data(outputs["checkout"])
    assert ref is not None and ref.kind == "tree"
    assert await store.get("wf-1", "checkout") == ref
    tree = await store.fetch(ref, tmp_path / "out")
    assert (tree / "README.md").read_text() == "v2\n"
    assert (tree / ".git").is_dir()
    assert not (tree / "sub" / "lib.txt").exists(), "submodules only when asked"
    assert "checkout.path" not in outputs, "the default working folder is temporary"


@pytest.mark.parametrize(
    ("config", "expected", "readme"),
    [
        ({"ref": "v1.0"}, "v1", "v1\n"),
        ({"ref": "feature"}, "feature", "v2\n"),
        ({"branch": "feature"}, "feature", "v2\n"),
        ({"ref": "<v2>"}, "v2", "v2\n"),
        ({"branch": "main", "commit": "<v1>"}, "v1", "v1\n"),
    ],
)
async def test_honours_ref_branch_tag_sha_and_commit(
    remote: Remote,
    store: LocalArtifactStore,
    tmp_path: Path,
    config: dict[str, str],
    expected: str,
    readme: str,
) -> None:
    shas = {"v1": remote.v1, "v2": remote.v2, "feature": remote.feature}
    config = {k: shas[v[1:-1]] if v.startswith("<") else v for k, v in config.items()}
    checkout = tmp_path / "checkout"
    outputs = await _clone(store, url=str(remote.bare), working_dir=str(checkout), **config)
    assert outputs["sha"] == shas[expected]
    assert outputs["ref"] == config.get("ref", config.get("branch"))
    assert (checkout / "README.md").read_text() == readme
    assert outputs["checkout.path"] == str(checkout)


async def test_depth_makes_a_shallow_clone(remote: Remote, store: LocalArtifactStore, tmp_path: Path) -> None:
    checkout = tmp_path / "shallow"
    await _clone(store, url=f"file://{remote.bare}", depth=1, working_dir=str(checkout))
    assert _in_checkout(checkout, "rev-list", "--count", "HEAD") == "1"
    full = tmp_path / "full"
    await _clone(store, url=str(remote.bare), working_dir=str(full))
    assert _in_checkout(full, "rev-list", "--count", "HEAD") == "3"


@pytest.mark.parametrize("depth", [None, 1])
async def test_submodules_are_cloned_when_asked(
    remote: Remote, store: LocalArtifactStore, tmp_path: Path, depth: int | None
) -> None:
    checkout = tmp_path / "with-submodules"
    config: dict[str, Any] = {"url": str(remote.bare), "submodules": True, "working_dir": str(checkout)}
    if depth is not None:
        config["depth"] = depth
    outputs = await _clone(store, **config)
    assert (checkout / "sub" / "lib.txt").read_text() == "library\n"
    ref = ArtifactRef.from_data(outputs["checkout"])
    assert ref is not None
    tree = await store.fetch(ref, tmp_path / "artifact")
    assert (tree / "sub" / "lib.txt").read_text() == "library\n"


async def test_credentials_in_the_url_never_reach_logs_or_errors(store: LocalArtifactStore) -> None:
    sink = RecordingSink()
    with pytest.raises(GitRepoError) as caught:
        await _clone(store, sink, url="https://someone:s3cr3t-t0ken@127.0.0.1:9/repo.git", timeout="20s")
    text = str(caught.value) + "\n".join(chunk.text for _, chunk in sink.chunks)
    assert "s3cr3t-t0ken" not in text and "someone" not in text
    assert "https://***@127.0.0.1:9/repo.git" in text


async def test_a_token_from_the_environment_is_sent_as_a_header_and_masked(
    store: LocalArtifactStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("WFE_TEST_GIT_TOKEN", "tok-9f8e7d6c5b")
    sink = RecordingSink()
    with pytest.raises(GitRepoError) as caught:
        await _clone(
            store, sink, url="http://127.0.0.1:9/repo.git", token_env="WFE_TEST_GIT_TOKEN", timeout="20s"
        )
    text = str(caught.value) + "\n".join(chunk.text for _, chunk in sink.chunks)
    assert "tok-9f8e7d6c5b" not in text
    assert "git clone" in text


async def test_a_missing_token_variable_is_named(
    store: LocalArtifactStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("WFE_TEST_GIT_TOKEN", raising=False)
    with pytest.raises(GitRepoError, match="WFE_TEST_GIT_TOKEN"):
        await _clone(store, url="https://example.invalid/x.git", token_env="WFE_TEST_GIT_TOKEN")


def test_mask_url() -> None:
    assert mask_url("fatal: https://u:p@h/x and ssh://git@h/y") == "fatal: https://***@h/x and ssh://***@h/y"
    assert mask_url("https://h/x") == "https://h/x"


async def test_a_non_empty_working_dir_is_refused(
    remote: Remote, store: LocalArtifactStore, tmp_path: Path
) -> None:
    (tmp_path / "busy").mkdir()
    (tmp_path / "busy" / "keep.txt").write_text("mine")
    with pytest.raises(GitRepoError, match="not empty"):
        await _clone(store, url=str(remote.bare), working_dir=str(tmp_path / "busy"))
    assert (tmp_path / "busy" / "keep.txt").read_text() == "mine"


async def test_a_failed_clone_leaves_no_folder(store: LocalArtifactStore, tmp_path: Path) -> None:
    with pytest.raises(GitRepoError, match="git clone failed"):
        await _clone(store, url=str(tmp_path / "nothing.git"), working_dir=str(tmp_path / "out"))
    assert "out" not in os.listdir(tmp_path)


async def test_an_input_artifact_is_used_instead_of_cloning(
    store: LocalArtifactStore, tmp_path: Path
) -> None:
    seed = tmp_path / "seed"
    seed.mkdir()
    (seed / "README.md").write_text("seeded\n")
    ref = await store.put("elsewhere", "seed", seed)
    step = GitRepoStepType().create(
        {"run": "https://example.invalid/repo.git", "input": "repo_artifact", "working_dir": "repo"},
        step_name="clone",
        workflow_id="wf",
    )
    ctx = _context(store, data={"__wfe_working_dir": str(tmp_path), "repo_artifact": ref.to_data()})
    await step.run(ctx)
    assert (tmp_path / "repo" / "README.md").read_text() == "seeded\n"
    assert step.outputs["clone"] == ref.to_data()
    assert step.outputs["sha"] is None


def test_validation_names_the_missing_url() -> None:
    assert GitRepoStepType().validate({"ref": "main"}, step_name="c") == [
        "Git-repo step 'c' must have 'config.url' (the remote URL)"
    ]


WORKFLOW = """
workflow:
  id: clone-and-read
  version: 1
  steps:
    - name: checkout
      type: git-repo
      config:
        url: {url}
        ref: v1.0
    - name: read
      type: shell
      config:
        inputs:
          checkout: src
        run: |
          test "$INPUT_CHECKOUT" != "" && test -d "$INPUT_CHECKOUT/.git"
          echo "##wfe[output readme=$(cat "$INPUT_CHECKOUT/README.md")]"
          echo "##wfe[output env_sees_ref=${{CHECKOUT:-unset}}]"
"""


async def test_a_shell_step_receives_the_checkout_through_inputs(remote: Remote) -> None:
    (workflow,) = load_workflow_from_str(WORKFLOW.format(url=remote.bare))
    host = WorkflowHostBuilder().build()
    host.register_workflow(workflow)
    async with host:
        wid = await host.start_workflow("clone-and-read", data={})
        done = await host.wait_for_workflow(wid, timeout=60)
        errors = await host.get_errors(wid)
        assert done.status is WorkflowStatus.COMPLETE, errors
        assert done.data["readme"] == "v1"
        assert done.data["sha"] == remote.v1 and done.data["ref"] == "v1.0"
        assert done.data["env_sees_ref"] == "unset", "an artifact reference is not passed as a variable"
        assert list(await host.artifact_store.list(wid)) == ["checkout"]


async def _run_fixture(name: str, data: dict[str, Any]) -> tuple[Any, Any]:
    require_fixtures()
    (workflow,) = load_workflow_from_str(fixture_text(name), source=name)
    host = WorkflowHostBuilder().build()
    host.register_workflow(workflow)
    async with host:
        wid = await host.start_workflow(workflow.id, data=data)
        done = await host.wait_for_workflow(wid, timeout=60)
        errors = await host.get_errors(wid)
    return done, errors


async def test_the_rust_fixture_clones_its_url_rewritten_to_the_local_repository(
    remote: Remote, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The fixture names a GitHub URL; git's url.<base>.insteadOf (from the host's environment) points it at
    the local bare repository, so the file runs as written without network."""
    monkeypatch.setenv("GIT_CONFIG_COUNT", "1")
    monkeypatch.setenv("GIT_CONFIG_KEY_0", f"url.file://{remote.bare}.insteadOf")
    monkeypatch.setenv("GIT_CONFIG_VALUE_0", "https://github.com/sunbeamdotpt/sunbeam")
    done, errors = await _run_fixture(
        "git_repo_git_repo_step_compiles.yaml", {"__wfe_working_dir": str(tmp_path)}
    )
    assert done.status is WorkflowStatus.COMPLETE, errors
    assert done.data["sha"] == remote.head and done.data["ref"] == "main"
    assert (tmp_path / "repo" / "README.md").read_text() == "v2\n"


async def test_the_rust_fixture_with_an_input_artifact_skips_the_clone(tmp_path: Path) -> None:
    seed = tmp_path / "seed"
    seed.mkdir()
    (seed / "README.md").write_text("# from the artifact\n")
    # as in the Rust test, the store is seeded first and the workflow gets the reference in its data
    host_store = LocalArtifactStore(tmp_path / "host-artifacts")
    ref = await host_store.put("seeding-workflow", "repo", seed)
    require_fixtures()
    name = "git_repo_git_repo_step_with_artifact_override_skips_clone.yaml"
    (workflow,) = load_workflow_from_str(fixture_text(name), source=name)
    host = WorkflowHostBuilder().use_artifact_store(host_store).build()
    host.register_workflow(workflow)
    async with host:
        wid = await host.start_workflow(
            workflow.id, data={"__wfe_working_dir": str(tmp_path), "repo_artifact": ref.to_data()}
        )
        done = await host.wait_for_workflow(wid, timeout=60)
        assert done.status is WorkflowStatus.COMPLETE, await host.get_errors(wid)
    assert (tmp_path / "repo" / "README.md").read_text() == "# from the artifact\n"
    assert done.data["clone"] == ref.to_data()


def test_compiled_steps_declare_the_artifacts_they_produce_and_consume(remote: Remote) -> None:
    (workflow,) = load_workflow_from_str(WORKFLOW.format(url=remote.bare))
    steps = {step.name: step for step in workflow.definition.steps}
    assert steps["checkout"].produces == ("checkout",)
    assert steps["read"].consumes == ("checkout",)


async def test_shell_inputs_place_files_and_trees_at_relative_and_absolute_mount_points(
    store: LocalArtifactStore, tmp_path: Path
) -> None:
    from wfe_yaml.shell import ShellStepType

    report = tmp_path / "report.txt"
    report.write_text("all good\n")
    tree = tmp_path / "tree"
    (tree / "bin").mkdir(parents=True)
    (tree / "bin" / "tool").write_text("#!/bin/sh\necho tool ran\n")
    (tree / "bin" / "tool").chmod(0o755)
    ctx = _context(store)
    await ctx.artifacts.put("report", report)
    await ctx.artifacts.put("my-tools", tree)
    absolute = tmp_path / "placed" / "tools"
    step = ShellStepType().create(
        {
            "inputs": {"report": "in/report.txt", "my-tools": str(absolute)},
            "run": 'cat "$INPUT_REPORT"; "$INPUT_MY_TOOLS/bin/tool"; echo "##wfe[output where=$INPUT_REPORT]"',
        },
        step_name="use",
        workflow_id="wf",
    )
    await step.run(ctx)
    assert step.outputs["use.stdout"].startswith("all good\ntool ran\n")
    assert step.outputs["where"].endswith("/inputs/in/report.txt")
    assert not _exists(step.outputs["where"]), "relative mount points go with the step's temporary folder"
    assert "tool" in os.listdir(absolute / "bin"), "an absolute mount point is kept"


async def test_a_missing_shell_input_fails_the_step_naming_the_artifact(store: LocalArtifactStore) -> None:
    from wfe_core.errors import ArtifactNotFoundError
    from wfe_yaml.shell import ShellStepType

    step = ShellStepType().create(
        {"inputs": {"nothing": "x"}, "run": "true"}, step_name="use", workflow_id="wf"
    )
    with pytest.raises(ArtifactNotFoundError, match="artifact 'nothing' was not put"):
        await step.run(_context(store))


def test_shell_inputs_refuse_mount_points_that_climb_out() -> None:
    from pydantic import ValidationError

    from wfe_yaml.shell import ShellConfig

    with pytest.raises(ValidationError, match="without '..'"):
        ShellConfig.model_validate({"run": "true", "inputs": {"a": "../../etc"}})


def _exists(path: str) -> bool:
    return os.path.exists(path)


async def test_the_checkout_keeps_no_credentials_of_the_url(
    remote: Remote, store: LocalArtifactStore, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Cloned through an https URL with credentials (rewritten by git to the local repository), the checkout's
    origin is the URL without them."""
    monkeypatch.setenv("GIT_CONFIG_COUNT", "1")
    monkeypatch.setenv("GIT_CONFIG_KEY_0", f"url.file://{remote.bare}.insteadOf")
    monkeypatch.setenv("GIT_CONFIG_VALUE_0", "https://someone:s3cr3t-t0ken@git.example.invalid/repo.git")
    checkout = tmp_path / "checkout"
    sink = RecordingSink()
    outputs = await _clone(
        store,
        sink,
        url="https://someone:s3cr3t-t0ken@git.example.invalid/repo.git",
        working_dir=str(checkout),
    )
    assert outputs["sha"] == remote.head
    assert _in_checkout(checkout, "remote", "get-url", "origin") == "https://git.example.invalid/repo.git"
    assert "s3cr3t-t0ken" not in (checkout / ".git" / "config").read_text()
    assert all("s3cr3t-t0ken" not in chunk.text for _, chunk in sink.chunks)
