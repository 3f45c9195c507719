"""``JsStepType``: the ``deno``/``js`` YAML step type, and the step body it creates."""

from __future__ import annotations

import asyncio
import difflib
import os
from collections.abc import Mapping
from typing import Any

from pydantic import ValidationError

from wfe_core.errors import ConfigurationError
from wfe_core.models import ExecutionResult
from wfe_core.step import StepBody, StepExecutionContext
from wfe_yaml.js.config import JsConfig, JsPermissions
from wfe_yaml.js.errors import INSTALL_HINT, JsRuntimeMissingError, JsScriptError
from wfe_yaml.js.pool import JsPool, default_pool, runtime_available

_CONFIG_KEYS = sorted({*JsConfig.model_fields, "timeout_ms"})
_PERMISSION_KEYS = sorted(JsPermissions.model_fields)


def _problems(error: ValidationError, step_name: str) -> list[str]:
    problems = []
    for item in error.errors():
        where = ".".join(str(part) for part in item["loc"])
        if item["type"] == "extra_forbidden":
            known = _PERMISSION_KEYS if where.startswith("permissions.") else _CONFIG_KEYS
            key = str(item["loc"][-1])
            close = difflib.get_close_matches(key, known, n=1)
            hint = f" (did you mean '{close[0]}'?)" if close else f" (known: {', '.join(known)})"
            problems.append(f"JavaScript step '{step_name}': unknown config key '{where}'{hint}")
        else:
            message = str(item["msg"]).removeprefix("Value error, ")
            target = f" 'config.{where}'" if where else ""
            problems.append(f"JavaScript step '{step_name}'{target}: {message}")
    return problems


class JsStep(StepBody):
    """Runs one JavaScript/TypeScript script; its ``output()`` map ends up in ``self.outputs``."""

    def __init__(self, config: JsConfig, *, step_name: str, pool: JsPool | None = None) -> None:
        self.config = config
        self.step_name = step_name
        self.pool = pool
        self.outputs: dict[str, Any] = {}

    def _source(self) -> tuple[str, str]:
        if self.config.script is not None:
            return self.config.script, f"{_safe_name(self.step_name)}.js"
        path = str(self.config.file)
        try:
            with open(path, encoding="utf-8") as handle:
                return handle.read(), os.path.basename(path)
        except OSError as exc:
            raise JsScriptError(
                "ModuleLoadError",
                f"cannot read script file '{path}': {exc.strerror or exc}",
                script_name=path,
            ) from exc

    async def run(self, ctx: StepExecutionContext) -> ExecutionResult:
        """Run the script with the workflow data as ``inputs()``; raises a ``JsError`` when it fails."""
        source, name = await asyncio.to_thread(self._source)
        pool = self.pool or default_pool()
        result = await pool.run(
            source,
            data=ctx.data,
            permissions=self.config.permissions,
            timeout=self.config.timeout,
            env=self.config.env,
            modules=self.config.modules,
            script_name=name,
            on_log=lambda stream, text: ctx.log(text, stream=stream),  # type: ignore[arg-type]
            cancellation=ctx.cancellation,
        )
        self.outputs = dict(result.outputs or {})
        return ExecutionResult.next()


def _safe_name(step_name: str) -> str:
    cleaned = "".join(c if c.isalnum() or c in "-_." else "_" for c in step_name)
    return cleaned or "script"


class JsStepType:
    """The ``deno`` (alias ``js``) step type: JavaScript or TypeScript run on V8 in a warm worker process.

    Steps share ``pool`` when given, else the running event loop's ``default_pool()``.
    """

    name = "deno"
    config_model = JsConfig

    def __init__(self, *, pool: JsPool | None = None) -> None:
        self.pool = pool

    def validate(self, config: Mapping[str, Any], *, step_name: str) -> list[str]:
        """Problems with ``config`` (empty when valid), a missing mini-racer included."""
        problems: list[str] = []
        if not runtime_available():
            problems.append(
                f"JavaScript step '{step_name}' needs mini-racer and aiohttp, which are not both installed: {INSTALL_HINT}"
            )
        if not isinstance(config, Mapping):
            problems.append(
                f"JavaScript step '{step_name}': config must be a mapping with 'script' or 'file'"
            )
            return problems
        try:
            JsConfig.model_validate(dict(config))
        except ValidationError as exc:
            problems.extend(_problems(exc, step_name))
        return problems

    def create(self, config: Mapping[str, Any], *, step_name: str, workflow_id: str) -> StepBody:
        """A fresh ``JsStep``; ``JsRuntimeMissingError`` without mini-racer, ``ConfigurationError`` on bad config."""
        if not runtime_available():
            raise JsRuntimeMissingError()
        try:
            parsed = JsConfig.model_validate(dict(config))
        except ValidationError as exc:
            raise ConfigurationError("; ".join(_problems(exc, step_name))) from exc
        return JsStep(parsed, step_name=step_name, pool=self.pool)
