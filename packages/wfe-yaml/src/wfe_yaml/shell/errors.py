"""Errors a shell step fails with (handled by the step's error behaviour)."""

from __future__ import annotations

from wfe_core.errors import StepError


class ShellCommandError(StepError):
    """The command exited with a non-zero code (or was killed by a signal)."""

    def __init__(self, exit_code: int, stdout_tail: str, stderr_tail: str) -> None:
        self.exit_code = exit_code
        self.stdout_tail = stdout_tail
        self.stderr_tail = stderr_tail
        how = f"was killed by signal {-exit_code}" if exit_code < 0 else f"exited with code {exit_code}"
        super().__init__(f"Shell command {how}\nstdout: {stdout_tail}\nstderr: {stderr_tail}")


class ShellTimeoutError(StepError):
    """The command ran longer than its ``timeout``; its whole process group was killed."""

    def __init__(self, timeout_ms: int, stdout_tail: str, stderr_tail: str) -> None:
        self.timeout_ms = timeout_ms
        self.stdout_tail = stdout_tail
        self.stderr_tail = stderr_tail
        super().__init__(
            f"Shell command timed out after {timeout_ms}ms\nstdout: {stdout_tail}\nstderr: {stderr_tail}"
        )


class ShellCancelledError(StepError):
    """The step was cancelled (the workflow was terminated or the host is stopping); the group was killed."""


class ShellEnvironmentError(StepError):
    """The workflow data cannot be passed as environment variables (two keys become the same name)."""


class ShellOutputError(StepError):
    """The command's ``$WFE_OUTPUT`` file is larger than wfe reads."""
