"""wfe-yaml: YAML workflows for wfe.

Load a file, register it, run it::

    from wfe_yaml import load_workflow
    compiled = load_workflow("deploy.yaml", config={"env": "production"})
    host.register_workflow(compiled)

Every error is a :class:`YamlError` whose ``str()`` reads ``file:line:column: message``.
"""

from wfe_yaml.compiler import CompiledWorkflow
from wfe_yaml.errors import (
    StepTypeNotInstalledError,
    StepTypeUnavailableError,
    UnknownStepTypeError,
    YamlCompilationError,
    YamlError,
    YamlInterpolationError,
    YamlIOError,
    YamlParseError,
    YamlValidationError,
    YamlWarning,
)
from wfe_yaml.json_schema import json_schema
from wfe_yaml.loader import (
    load_single_workflow_from_str,
    load_workflow,
    load_workflow_from_str,
    load_workflow_with_includes,
    load_workflows,
    parse_workflows,
)
from wfe_yaml.plugin import StepType
from wfe_yaml.step_types import available_step_types, register_step_type, unregister_step_type

__all__ = [
    "CompiledWorkflow",
    "StepType",
    "StepTypeNotInstalledError",
    "StepTypeUnavailableError",
    "UnknownStepTypeError",
    "YamlCompilationError",
    "YamlError",
    "YamlIOError",
    "YamlInterpolationError",
    "YamlParseError",
    "YamlValidationError",
    "YamlWarning",
    "available_step_types",
    "json_schema",
    "load_single_workflow_from_str",
    "load_workflow",
    "load_workflow_from_str",
    "load_workflow_with_includes",
    "load_workflows",
    "parse_workflows",
    "register_step_type",
    "unregister_step_type",
]
