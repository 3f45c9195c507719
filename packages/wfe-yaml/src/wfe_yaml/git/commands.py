"""Running the system ``git`` binary: no shell, no prompt, credentials masked in what it prints."""

from __future__ import annotations

import asyncio
import contextlib
import os
import shlex
import signal
from collections.abc import Mapping, Sequence
from pathlib import Path

from wfe_core.errors import StepError
from wfe_core.step import StepExecutionContext
from wfe_yaml.git.masking import Masker

TAIL = 2000


class GitRepoError(StepError):
    """A git command failed, timed out or was cancelled, or the checkout cannot be made; the message never
    holds credentials."""


class Git:
    """Runs ``git`` commands for one step: logs each command line and its stderr (masked), stops them all on
    cancellation or once the step's deadline passes."""

    def __init__(
        self,
        ctx: StepExecutionContext,
        *,
        env: Mapping[str, str],
        options: Sequence[str],
        masker: Masker,
        deadline: float | None,
    ) -> None:
        self.ctx = ctx
        self.env = dict(env)
        self.options = list(options)
        self.mask = masker
        self.deadline = deadline

    async def __call__(self, *args: str, cwd: Path | None = None, check: bool = True) -> tuple[int, str]:
        """Run ``git <options> <args>``; return (exit code, stdout). ``GitRepoError`` for a non-zero exit when
        ``check``."""
        argv = ["git", *self.options, *args]
        self.ctx.log(self.mask("$ " + shlex.join(["git", *args])))
        try:
            process = await asyncio.create_subprocess_exec(
                *argv,
                cwd=cwd,
                env=self.env,
                stdin=asyncio.subprocess.DEVNULL,
                stdout=asyncio.subprocess.PIPE,
                stderr=asyncio.subprocess.PIPE,
                start_new_session=True,
            )
        except OSError as exc:
            raise GitRepoError(
                f"cannot run git ({exc}): install git on the host (the git-repo step runs the system git)"
            ) from exc
        stdout, stderr = await self._wait(process, args[0])
        for line in stderr.splitlines():
            self.ctx.log(self.mask(line), stream="stderr")
        code = process.returncode
        assert code is not None
        if check and code != 0:
            raise GitRepoError(
                self.mask(f"git {args[0]} failed with exit code {code}: {stderr.strip()[-TAIL:]}")
            )
        return code, stdout

    async def _wait(self, process: asyncio.subprocess.Process, what: str) -> tuple[str, str]:
        loop = asyncio.get_running_loop()
        timeout = None if self.deadline is None else max(0.0, self.deadline - loop.time())
        communicate = asyncio.ensure_future(process.communicate())
        cancelled = asyncio.ensure_future(self.ctx.cancellation.wait())
        try:
            done, _ = await asyncio.wait(
                {communicate, cancelled}, timeout=timeout, return_when=asyncio.FIRST_COMPLETED
            )
        except asyncio.CancelledError:
            await _kill(process, communicate)
            raise
        finally:
            cancelled.cancel()
        if communicate in done:
            out, err = communicate.result()
            return out.decode("utf-8", "replace"), err.decode("utf-8", "replace")
        await _kill(process, communicate)
        if cancelled in done:
            raise GitRepoError(f"git {what} cancelled: the workflow was terminated or the host is stopping")
        raise GitRepoError(f"git {what} timed out (the step's timeout passed): raise config.timeout")


async def _kill(
    process: asyncio.subprocess.Process, communicate: asyncio.Future[tuple[bytes, bytes]]
) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(process.pid, signal.SIGKILL)
    with contextlib.suppress(BaseException):
        await asyncio.shield(communicate)
