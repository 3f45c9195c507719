"""The git-repo step type: clone a repository with the system git, expose the checkout as an artifact."""

from __future__ import annotations

import asyncio
import base64
import os
import re
import shutil
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from wfe_core.models import ExecutionResult
from wfe_core.step import StepBody, StepExecutionContext
from wfe_yaml.git.commands import Git, GitRepoError
from wfe_yaml.git.config import FULL_SHA, GitRepoConfig
from wfe_yaml.git.masking import Masker, has_credentials, mask_url, without_credentials
from wfe_yaml.shell.step import workflow_data

WORKING_DIR_KEY = "__wfe_working_dir"
"""A data key naming the folder relative ``working_dir`` values start from (as in the Rust WFE)."""

_SCP_LIKE = re.compile(r"^[A-Za-z0-9._-]+@[^/:]+:")  # git@host:owner/repo


def is_local(url: str) -> bool:
    """Whether ``url`` names a repository on this machine (a path or a ``file://`` URL)."""
    if url.startswith("file://"):
        return True
    return "://" not in url and not _SCP_LIKE.match(url)


def _is_empty_dir(path: Path) -> bool:
    return path.is_dir() and not any(path.iterdir())


class GitRepoStep(StepBody):
    """Clones one repository; ``outputs`` holds the artifact reference, ``sha`` and ``ref`` after a run."""

    def __init__(self, config: GitRepoConfig, *, step_name: str) -> None:
        self.config = config
        self.step_name = step_name
        self.outputs: dict[str, Any] = {}

    async def run(self, ctx: StepExecutionContext) -> ExecutionResult:
        config = self.config
        data = workflow_data(ctx.data)
        temporary: str | None = None
        if config.working_dir is None:
            temporary = await asyncio.to_thread(tempfile.mkdtemp, prefix="wfe-git-")
            destination = Path(temporary) / "repo"
        else:
            destination = Path(config.working_dir)
            if not destination.is_absolute():
                base = data.get(WORKING_DIR_KEY)
                destination = Path(base if isinstance(base, str) else os.getcwd()) / destination
        try:
            git = self._git(ctx)
            reused = await self._from_input(ctx, destination)
            if not reused:
                await self._clone(git, destination)
            sha: str | None = None
            # An input artifact may be a plain tree: asking git there would answer for an enclosing repository.
            if not reused or await asyncio.to_thread((destination / ".git").exists):
                code, head = await git("rev-parse", "HEAD", cwd=destination, check=not reused)
                sha = head.strip() if code == 0 else None
            ref = config.checkout_ref
            if ref is None and sha is not None:
                _, branch = await git("symbolic-ref", "--short", "-q", "HEAD", cwd=destination, check=False)
                ref = branch.strip() or sha
            name = config.artifact or self.step_name
            artifact = await ctx.artifacts.put(name, destination)
            ctx.log(f"wfe: stored the checkout as artifact '{name}' ({artifact.digest})")
        finally:
            if temporary is not None:
                await asyncio.to_thread(shutil.rmtree, temporary, True)
        outputs: dict[str, Any] = {
            self.step_name: artifact.to_data(),
            "sha": sha,
            "ref": ref,
            f"{self.step_name}.sha": sha,
            f"{self.step_name}.ref": ref,
        }
        if temporary is None:
            outputs[f"{self.step_name}.path"] = str(destination)
        self.outputs = outputs
        return ExecutionResult.next()

    def _git(self, ctx: StepExecutionContext) -> Git:
        config = self.config
        env = dict(os.environ)
        env["GIT_TERMINAL_PROMPT"] = "0"
        secrets: list[str] = []
        if config.token_env is not None:
            token = os.environ.get(config.token_env)
            if not token:
                raise GitRepoError(
                    f"the environment variable {config.token_env} (config.token_env) is not set on the host: "
                    "set it to the token, or remove token_env"
                )
            basic = base64.b64encode(f"{config.username}:{token}".encode()).decode()
            secrets += [token, basic]
            count = int(env.get("GIT_CONFIG_COUNT", "0") or "0")
            env["GIT_CONFIG_COUNT"] = str(count + 1)
            env[f"GIT_CONFIG_KEY_{count}"] = "http.extraHeader"
            env[f"GIT_CONFIG_VALUE_{count}"] = f"Authorization: Basic {basic}"
        options = ["-c", "advice.detachedHead=false"]
        url = config.repository
        if url is not None and is_local(url):
            # file:// submodules are refused by default (CVE-2022-39253); a local superproject is trusted as
            # much as its local submodules.
            options += ["-c", "protocol.file.allow=always"]
        timeout = config.timeout_seconds
        deadline = None if timeout is None else asyncio.get_running_loop().time() + timeout
        return Git(ctx, env=env, options=options, masker=Masker(secrets), deadline=deadline)

    async def _from_input(self, ctx: StepExecutionContext, destination: Path) -> bool:
        """Use the ``input`` artifact instead of cloning when it exists; True when it was used."""
        name = self.config.input
        if name is None:
            return False
        found = await ctx.artifacts.ref(name)
        if found is None:
            ctx.log(f"wfe: no artifact '{name}' (config.input): cloning")
            return False
        await asyncio.to_thread(self._check_destination, destination)
        await ctx.artifacts.get(found, destination)
        ctx.log(f"wfe: using artifact '{name}' ({found.digest}) instead of cloning")
        return True

    def _check_destination(self, destination: Path) -> None:
        if destination.exists() and not _is_empty_dir(destination):
            raise GitRepoError(
                f"working_dir {destination} already exists and is not empty: choose another working_dir "
                "or remove it (git clones into a new or empty folder)"
            )

    async def _clone(self, git: Git, destination: Path) -> None:
        config = self.config
        url = config.repository
        if url is None:
            raise GitRepoError(f"Git-repo step '{self.step_name}' must have 'config.url' (the remote URL)")
        await asyncio.to_thread(self._check_destination, destination)
        existed = await asyncio.to_thread(destination.exists)
        depth = ["--depth", str(config.depth)] if config.depth is not None else []
        ref = config.checkout_ref
        try:
            if ref is not None and FULL_SHA.fullmatch(ref):
                await asyncio.to_thread(destination.mkdir, parents=True, exist_ok=True)
                await git("init", "--quiet", str(destination))
                await git("remote", "add", "origin", url, cwd=destination)
                await git("fetch", "--quiet", *depth, "origin", ref, cwd=destination)
                await git("checkout", "--quiet", "--detach", "FETCH_HEAD", cwd=destination)
            else:
                args = ["clone", "--quiet", *depth]
                if is_local(url):
                    args.append("--no-local")  # honours depth, copies instead of hard-linking objects
                if ref is not None:
                    args += ["--branch", ref]
                if config.submodules and config.depth is not None:
                    args.append("--shallow-submodules")
                await asyncio.to_thread(destination.parent.mkdir, parents=True, exist_ok=True)
                await git(*args, "--", url, str(destination))
            if config.commit is not None:
                code, _ = await git(
                    "checkout", "--quiet", "--detach", config.commit, cwd=destination, check=False
                )
                if code != 0:
                    await git("fetch", "--quiet", *depth, "origin", config.commit, cwd=destination)
                    await git("checkout", "--quiet", "--detach", "FETCH_HEAD", cwd=destination)
            if config.submodules:
                await git("submodule", "update", "--init", "--recursive", *depth, cwd=destination)
            if has_credentials(url):  # the checkout (an artifact) must not carry them in .git/config
                await git("remote", "set-url", "origin", without_credentials(url), cwd=destination)
        except BaseException:
            if not existed:
                await asyncio.to_thread(shutil.rmtree, destination, True)
            raise


class GitRepoStepType:
    """The ``git-repo`` step type (entry point ``wfe.steps: git-repo``)."""

    name = "git-repo"
    config_model = GitRepoConfig
    requires_config = True

    def validate(self, config: Mapping[str, Any], *, step_name: str) -> list[str]:
        if config.get("url") is None and config.get("run") is None:
            return [f"Git-repo step '{step_name}' must have 'config.url' (the remote URL)"]
        url = str(config.get("url") or config.get("run"))
        if "\n" in url or " " in url.strip():
            return [f"Git-repo step '{step_name}': {mask_url(url)!r} is not a repository URL"]
        return []

    def artifacts(
        self, config: Mapping[str, Any], *, step_name: str
    ) -> tuple[tuple[str, ...], tuple[str, ...]]:
        """It produces the checkout's artifact (named by ``artifact``, default the step name)."""
        name = config.get("artifact")
        return ((name if isinstance(name, str) and name else step_name),), ()

    def create(self, config: Mapping[str, Any], *, step_name: str, workflow_id: str) -> GitRepoStep:
        return GitRepoStep(GitRepoConfig.model_validate(dict(config)), step_name=step_name)
