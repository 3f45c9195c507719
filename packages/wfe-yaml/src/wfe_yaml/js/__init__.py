"""JavaScript and TypeScript steps (``type: deno`` / ``js``) on V8, in warm worker subprocesses.

Importing this package never needs mini-racer; running a script does (``pip install "wfe-yaml[js]"``).
Names are imported on first use, so the worker process (``python -m wfe_yaml.js.worker``) starts without
loading pydantic or wfe-core.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from wfe_yaml.js.config import JsConfig, JsPermissions, parse_duration
    from wfe_yaml.js.errors import (
        JsCancelledError,
        JsError,
        JsMemoryLimitError,
        JsRuntimeMissingError,
        JsScriptError,
        JsTimeoutError,
        JsWorkerCrashedError,
    )
    from wfe_yaml.js.pool import JsPool, JsResult, default_pool, runtime_available
    from wfe_yaml.js.step import JsStep, JsStepType

_HOMES = {
    "JsConfig": "config",
    "JsPermissions": "config",
    "parse_duration": "config",
    "JsCancelledError": "errors",
    "JsError": "errors",
    "JsMemoryLimitError": "errors",
    "JsRuntimeMissingError": "errors",
    "JsScriptError": "errors",
    "JsTimeoutError": "errors",
    "JsWorkerCrashedError": "errors",
    "JsPool": "pool",
    "JsResult": "pool",
    "default_pool": "pool",
    "runtime_available": "pool",
    "JsStep": "step",
    "JsStepType": "step",
}

__all__ = [
    "JsCancelledError",
    "JsConfig",
    "JsError",
    "JsMemoryLimitError",
    "JsPermissions",
    "JsPool",
    "JsResult",
    "JsRuntimeMissingError",
    "JsScriptError",
    "JsStep",
    "JsStepType",
    "JsTimeoutError",
    "JsWorkerCrashedError",
    "default_pool",
    "parse_duration",
    "runtime_available",
]


def __getattr__(name: str) -> Any:
    home = _HOMES.get(name)
    if home is None:
        raise AttributeError(f"module 'wfe_yaml.js' has no attribute '{name}'")
    return getattr(importlib.import_module(f"wfe_yaml.js.{home}"), name)
