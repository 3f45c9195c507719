"""JavaScript and TypeScript steps (``type: deno`` / ``js``) on V8, in warm worker subprocesses.

Importing this package never needs mini-racer; running a script does (``pip install "wfe-yaml[js]"``).
"""

from __future__ import annotations

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
