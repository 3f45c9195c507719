"""The shell step type and the step body that runs one command."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import shutil
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from pydantic import BaseModel

from wfe_core.models import ExecutionResult
from wfe_core.step import StepBody, StepExecutionContext
from wfe_yaml.shell.capture import StreamCapture
from wfe_yaml.shell.config import ShellConfig
from wfe_yaml.shell.directives import DirectiveReader
from wfe_yaml.shell.environment import build_environment
from wfe_yaml.shell.errors import (
    ShellCancelledError,
    ShellCommandError,
    ShellOutputError,
    ShellTimeoutError,
)
from wfe_yaml.shell.host_env import HostEnv, host_environment
from wfe_yaml.shell.outputs import parse_output_file
from wfe_yaml.shell.process import Spawned, kill_tree, spawn, wait_exit
from wfe_yaml.shell.process_tree import TRACKING_VARIABLE
from wfe_yaml.shell.step_type import ShellStepType

# After the command exits, how long its output pipes may stay open (held by background children) before the
# processes it left are killed so the step can finish.
PIPE_CLOSE_GRACE = 2.0
# After the command and its processes were killed, how long the rest of their output may take to arrive.
STOP_DRAIN = 0.5
MAX_OUTPUT_FILE_BYTES = 64 * 1024 * 1024

__all__ = [
    "MAX_OUTPUT_FILE_BYTES",
    "PIPE_CLOSE_GRACE",
    "STOP_DRAIN",
    "ShellStep",
    "ShellStepType",
    "workflow_data",
]


def workflow_data(data: Any) -> dict[str, Any]:
    """The workflow data as a plain JSON-like dict (pydantic models dumped in JSON mode)."""
    if isinstance(data, BaseModel):
        dumped = data.model_dump(mode="json")
        return dumped if isinstance(dumped, dict) else {}
    if isinstance(data, Mapping):
        return dict(data)
    return {}


def _discard(future: asyncio.Future[Any]) -> None:
    """Cancel ``future`` if it still runs and consume its outcome (so none is reported as unretrieved)."""
    if not future.done():
        future.cancel()
    future.add_done_callback(lambda f: f.cancelled() or f.exception())


def _prepare_files(output_file: str, data_file: str, data: Mapping[str, Any]) -> None:
    with open(output_file, "w", encoding="utf-8"):
        pass
    with open(data_file, "w", encoding="utf-8") as file:
        json.dump(dict(data), file, default=str)


def _read_output_file(path: str) -> str:
    with open(path, "rb") as file:
        # the size first: read(n) allocates n bytes up front
        size = os.fstat(file.fileno()).st_size
        too_large = size > MAX_OUTPUT_FILE_BYTES
        raw = b"" if too_large else file.read(size + 1)
    if too_large or len(raw) > MAX_OUTPUT_FILE_BYTES:
        raise ShellOutputError(
            f"$WFE_OUTPUT holds more than {MAX_OUTPUT_FILE_BYTES // (1024 * 1024)} MiB: write large results to a "
            "file and output its path"
        )
    return raw.decode("utf-8", errors="replace")


class ShellStep(StepBody):
    """Runs one shell command; ``outputs`` holds its results after a successful run."""

    def __init__(
        self, config: ShellConfig, *, step_name: str, workflow_id: str = "", host_env: HostEnv = "all"
    ) -> None:
        self.config = config
        self.step_name = step_name
        self.workflow_id = workflow_id
        self.host_env: HostEnv = host_env if config.host_env is None else config.host_env
        self.outputs: dict[str, Any] = {}

    async def run(self, ctx: StepExecutionContext) -> ExecutionResult:
        config = self.config
        data = workflow_data(ctx.data)
        directives = DirectiveReader(
            data, ctx.log, enabled=config.stdout_directives, byte_limit=config.output_limit
        )

        def on_stdout(line: str) -> None:
            ctx.log(line, stream="stdout")
            directives.feed(line)

        stdout = StreamCapture(config.output_limit, on_stdout)
        stderr = StreamCapture(config.output_limit, lambda line: ctx.log(line, stream="stderr"))
        workdir = tempfile.mkdtemp(prefix="wfe-shell-")
        try:
            output_file = os.path.join(workdir, "output")
            data_file = os.path.join(workdir, "data.json")
            await asyncio.to_thread(_prepare_files, output_file, data_file, data)
            inputs = await self._mount_inputs(ctx, workdir)
            env = build_environment(
                host_environment(self.host_env, os.environ),
                data,
                config.env,
                output_file=output_file,
                data_file=data_file,
                inputs=inputs,
            )
            for key, reason in env.withheld:
                ctx.log(f"wfe: data key '{key}' is not passed as an environment variable ({reason})")
            for key in env.too_large:
                ctx.log(
                    f"wfe: data key '{key}' is too large for an environment variable; read it from "
                    "$WFE_DATA_FILE"
                )
            if TRACKING_VARIABLE in config.env:
                ctx.log(
                    f"wfe: config.env sets ${TRACKING_VARIABLE}, which wfe sets itself to find the command's "
                    "processes; that value is not used"
                )
            exit_code = await self._execute(ctx, env.variables, stdout, stderr)
            file_outputs = parse_output_file(await asyncio.to_thread(_read_output_file, output_file))
        finally:
            shutil.rmtree(workdir, ignore_errors=True)
        if exit_code != 0:
            raise ShellCommandError(exit_code, stdout.tail_text(), stderr.tail_text())
        results: dict[str, Any] = {**directives.outputs, **file_outputs}
        results[f"{self.step_name}.stdout"] = stdout.text()
        results[f"{self.step_name}.stderr"] = stderr.text()
        if stdout.truncated:
            results[f"{self.step_name}.stdout_truncated"] = True
        if stderr.truncated:
            results[f"{self.step_name}.stderr_truncated"] = True
        self.outputs = results
        return ExecutionResult.next()

    async def _mount_inputs(self, ctx: StepExecutionContext, workdir: str) -> dict[str, str]:
        """Place each artifact of ``config.inputs`` at its mount point (a relative one under ``workdir``, which
        is removed after the run); return artifact name -> path."""
        mounted: dict[str, str] = {}
        for name, mount in self.config.inputs.items():
            target = Path(mount) if os.path.isabs(mount) else Path(workdir, "inputs", mount)
            mounted[name] = str(await ctx.artifacts.get(name, target))
        return mounted

    async def _execute(
        self, ctx: StepExecutionContext, env: dict[str, str], stdout: StreamCapture, stderr: StreamCapture
    ) -> int:
        config = self.config
        try:
            spawned = await spawn(config.argv(), env=env, cwd=config.working_dir)
        except OSError as exc:
            raise ShellCommandError(
                -1 if exc.errno is None else 127, "", f"Failed to spawn shell command: {exc}"
            ) from exc
        readers = asyncio.gather(stdout.drain(spawned.stdout), stderr.drain(spawned.stderr))
        run = asyncio.ensure_future(self._wait(spawned, readers))
        cancelled = asyncio.ensure_future(ctx.cancellation.wait())
        timeout = None if config.timeout_ms is None else config.timeout_ms / 1000
        try:
            try:
                done, _ = await asyncio.wait(
                    {run, cancelled}, timeout=timeout, return_when=asyncio.FIRST_COMPLETED
                )
            except asyncio.CancelledError:
                await self._stop(spawned, run)
                raise
            finally:
                cancelled.cancel()
            if run in done:
                return run.result()
            await self._stop(spawned, run)
            if cancelled in done:
                raise ShellCancelledError(
                    "Shell command cancelled: the command and every process it started were killed"
                )
            assert config.timeout_ms is not None
            raise ShellTimeoutError(config.timeout_ms, stdout.tail_text(), stderr.tail_text())
        finally:
            _discard(readers)
            spawned.close()

    async def _wait(self, spawned: Spawned, readers: asyncio.Future[Any]) -> int:
        code = await wait_exit(spawned.process)
        try:
            # asyncio.timeout, not wait_for: on Python 3.11 wait_for drops a cancel (a terminate) that lands as
            # the output ends, and the step would return as if it had not been cancelled
            async with asyncio.timeout(PIPE_CLOSE_GRACE):
                await asyncio.shield(readers)
        except TimeoutError:
            # Background children still hold the output pipes: end them so the step can finish.
            # A daemon (left the group, closed both pipes) is not among them: it outlives the step.
            await kill_tree(spawned.process, spawned.tree, self.config.kill_grace_seconds, detached=False)
            # Where processes cannot be tracked, some may hold the pipes still; output after this is dropped.
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(STOP_DRAIN):
                    await readers
        return code

    async def _stop(self, spawned: Spawned, run: asyncio.Future[int]) -> None:
        await asyncio.shield(
            kill_tree(spawned.process, spawned.tree, self.config.kill_grace_seconds, detached=True)
        )
        # Every process holding the pipes is gone (where they can be tracked): the readers end at once.
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await asyncio.wait_for(run, STOP_DRAIN)
