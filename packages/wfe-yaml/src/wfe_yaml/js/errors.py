"""Errors of JavaScript steps; all are ``StepError``s of the wfe error tree, except the missing-runtime one.

::

    WfeError
    ├── ConfigurationError
    │   └── MissingExtraError
    │       └── JsRuntimeMissingError   the js extra (mini-racer, aiohttp) is not installed
    └── StepError
        └── JsError                 a JavaScript step failed (``logs`` holds what it logged)
            ├── JsScriptError       the script threw, or does not parse (``line`` when known)
            ├── JsTimeoutError      it ran past its timeout; the worker was killed
            ├── JsMemoryLimitError  it went past the memory limit; the worker was killed
            ├── JsWorkerCrashedError the worker process died under it
            └── JsCancelledError    the step was cancelled while it ran
"""

from __future__ import annotations

from wfe_core.errors import MissingExtraError, StepError
from wfe_core.install import install_hint

INSTALL_HINT = install_hint("wfe-yaml[js]")


class JsRuntimeMissingError(MissingExtraError):
    """The ``js`` extra is not installed: mini-racer (the V8 binding scripts run on) or aiohttp (their ``fetch``)."""

    def __init__(self) -> None:
        super().__init__(
            "JavaScript steps", extra="js", package="mini-racer and aiohttp", requirement="wfe-yaml[js]"
        )


class JsError(StepError):
    """A JavaScript step failed."""

    def __init__(self, message: str, *, logs: list[tuple[str, str]] | None = None) -> None:
        super().__init__(message)
        self.logs: list[tuple[str, str]] = list(logs or [])


class JsScriptError(JsError):
    """The script threw an error (or does not parse); ``line`` is the script's line when V8 reported one."""

    def __init__(
        self,
        name: str,
        message: str,
        *,
        line: int | None = None,
        column: int | None = None,
        stack: str = "",
        script_name: str = "script",
        logs: list[tuple[str, str]] | None = None,
    ) -> None:
        self.name = name
        self.js_message = message
        self.line = line
        self.column = column
        self.stack = stack
        where = f" (at {script_name} line {line})" if line is not None else ""
        super().__init__(f"{name}: {message}{where}", logs=logs)


class JsTimeoutError(JsError):
    """The script ran past its timeout; its worker was killed."""

    def __init__(self, timeout: float, *, logs: list[tuple[str, str]] | None = None) -> None:
        self.timeout = timeout
        super().__init__(
            f"JavaScript step timed out after {timeout:g}s: raise the step's 'timeout' if it needs longer",
            logs=logs,
        )


class JsMemoryLimitError(JsError):
    """The script used more memory than the limit; its worker was killed."""

    def __init__(
        self, limit_bytes: int, detail: str = "", *, logs: list[tuple[str, str]] | None = None
    ) -> None:
        self.limit_bytes = limit_bytes
        extra = f" ({detail})" if detail else ""
        super().__init__(
            f"JavaScript step exceeded the memory limit of {limit_bytes // (1024 * 1024)} MiB{extra}: "
            "allocate less, or give the pool a larger memory_limit",
            logs=logs,
        )


class JsWorkerCrashedError(JsError):
    """The worker process died while running the script (a V8 fatal error, or killed from outside)."""

    def __init__(self, detail: str, *, logs: list[tuple[str, str]] | None = None) -> None:
        self.detail = detail
        super().__init__(f"JavaScript worker crashed: {detail}", logs=logs)


class JsCancelledError(JsError):
    """The step was cancelled (workflow terminated, host stopping) while it ran; its worker was killed."""

    def __init__(self, *, logs: list[tuple[str, str]] | None = None) -> None:
        super().__init__("JavaScript step cancelled while running", logs=logs)
