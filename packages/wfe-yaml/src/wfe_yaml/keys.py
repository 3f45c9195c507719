"""Checking the keys of workflows, steps and step configs before their values are validated.

A key wfe knows passes. A key of the Rust WFE's schema that wfe does not implement (its step ``config`` is
one flat struct shared by every step type, so files written for it carry, say, kubernetes keys such as
``image`` or ``pull_policy`` on shell steps) is removed with a :class:`~wfe_yaml.errors.YamlWarning` naming
it. Any other key is an error that suggests the closest known key, under ``config.`` when a step-level key
belongs to the step type's config. Running before the values are validated, an unknown key is reported
rather than the missing field it was meant to be (``stesp:`` rather than "missing 'steps'").
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from pydantic import BaseModel

from wfe_yaml.document import LocatedDict, LocatedList
from wfe_yaml.errors import YamlWarning
from wfe_yaml.located import HOOK_KEYS, Loc, Located, field_names, suggest
from wfe_yaml.schema import StepSpec, WorkflowSpec
from wfe_yaml.step_types import StepTypeImportError, is_available, load_step_type

# The Rust WFE's StepConfig: one flat struct whose fields every step type accepts (and ignores if not its own).
RUST_STEP_CONFIG_KEYS = frozenset(
    {
        # shell
        "run", "file", "script", "shell", "env", "timeout", "working_dir", "inputs",
        # git
        "branch", "commit", "depth", "input",
        # deno
        "permissions", "modules",
        # buildkit
        "dockerfile", "context", "target", "tags", "build_args", "cache_from", "cache_to", "push",
        "output_type", "output_dest", "buildkit_addr", "tls", "registry_auth",
        # containerd
        "image", "command", "volumes", "user", "network", "memory", "cpu", "pull", "containerd_addr", "cli",
        # kubernetes
        "kubeconfig", "namespace", "pull_policy",
        # cargo and rustup
        "package", "features", "all_features", "no_default_features", "release", "profile", "toolchain",
        "extra_args", "output_dir", "components", "targets", "default_toolchain",
        # sub-workflow
        "workflow", "workflow_version",
    }
)  # fmt: skip

# Names people write for a config key that has another name here; offered only when the step type has the key.
CONFIG_KEY_SYNONYMS = {
    "command": "run",
    "cmd": "run",
    "commands": "run",
    "cwd": "working_dir",
    "workdir": "working_dir",
    "dir": "working_dir",
    "directory": "working_dir",
    "environment": "env",
    "timeout_ms": "timeout",
    "source": "script",
    "code": "script",
}


def config_fields(step_type: str | None) -> frozenset[str] | None:
    """The config keys of ``step_type`` (names and aliases), or None when its provider does not declare them
    (a plugin without ``config_model``, or a type nobody provides: later checks report that)."""
    if step_type is None or not is_available(step_type):
        return None
    try:
        provider = load_step_type(step_type)
    except StepTypeImportError:
        return None
    model = getattr(provider, "config_model", None)
    if not (isinstance(model, type) and issubclass(model, BaseModel)):
        return None
    return frozenset(field_names(model)) | frozenset(model.model_fields)


def suggest_config_key(key: str, fields: Iterable[str]) -> str:
    """`` (did you mean 'config.x'?)`` for the closest config key of the type, synonyms included."""
    import difflib  # a warning's hint: not imported by a file that loads cleanly

    known = sorted(fields)
    candidates = known + [alias for alias, target in CONFIG_KEY_SYNONYMS.items() if target in known]
    targets: list[str] = []
    for match in difflib.get_close_matches(key, candidates, n=3, cutoff=0.6):
        target = CONFIG_KEY_SYNONYMS.get(match, match) if match not in known else match
        if target not in targets:
            targets.append(target)
    if not targets:
        return ""
    return " (did you mean " + " or ".join(f"'config.{t}'" for t in targets[:2]) + "?)"


class KeyChecker:
    """Checks the keys of one parsed file, collecting warnings and removing the ignored keys."""

    def __init__(self, located: Located) -> None:
        self.located = located
        self.warnings: list[YamlWarning] = []
        self.step_fields = field_names(StepSpec)
        self.workflow_fields = field_names(WorkflowSpec)

    def workflow(self, node: Any, loc: Loc) -> None:
        if not isinstance(node, LocatedDict):
            return
        workflow_id = node.get("id")
        what = f"workflow '{workflow_id}'" if isinstance(workflow_id, str) else "workflow"
        for key in node:
            if str(key).startswith("_") or key in self.workflow_fields:
                continue
            hint = (
                suggest(str(key), self.workflow_fields) or " (keys starting with '_' are free for templates)"
            )
            raise self.located.error(
                f"{what}: unknown field '{key}'{hint}",
                loc + (key,),
                key=True,
            )
        self.steps(node.get("steps"), loc + ("steps",))

    def steps(self, node: Any, loc: Loc) -> None:
        if isinstance(node, LocatedList):
            for index, step in enumerate(node):
                self.step(step, loc + (index,))

    def step(self, node: Any, loc: Loc) -> None:
        if not isinstance(node, LocatedDict):
            return
        name = node.get("name")
        context = f"step '{name}': " if isinstance(name, str) else ""
        step_type = _step_type(node)
        fields = config_fields(step_type)
        for key in node:
            if key in self.step_fields:
                continue
            # A shell step is the default: its keys are the likeliest to be written at step level.
            belongs = fields if fields is not None else config_fields("shell") if step_type is None else None
            if belongs is not None and key in belongs:
                hint = f" (did you mean 'config.{key}'? it belongs under the step's 'config:')"
            else:
                hint = suggest(str(key), self.step_fields)
            raise self.located.error(f"{context}unknown field '{key}'{hint}", loc + (key,), key=True)
        config = node.get("config")
        if fields is not None and isinstance(config, LocatedDict):
            self.config(config, fields, step_type or "shell", context, loc + ("config",))
        self.steps(node.get("parallel"), loc + ("parallel",))
        for hook in HOOK_KEYS:
            self.step(node.get(hook), loc + (hook,))

    def config(
        self, config: LocatedDict, fields: frozenset[str], step_type: str, context: str, loc: Loc
    ) -> None:
        for key in list(config):
            if key in fields:
                continue
            if key not in RUST_STEP_CONFIG_KEYS:
                raise self.located.error(
                    f"{context}unknown field 'config.{key}'{suggest_config_key(str(key), fields)}",
                    loc + (key,),
                    key=True,
                )
            mark = self.located.mark(loc + (key,), key=True)
            instead = CONFIG_KEY_SYNONYMS.get(str(key))
            hint = f" (did you mean 'config.{instead}'?)" if instead in fields else ""
            self.warnings.append(
                YamlWarning(
                    f"{context}config.{key} is ignored: a key of the Rust WFE's step config that wfe's "
                    f"{step_type} steps do not implement{hint}",
                    path=self.located.source,
                    line=None if mark is None else mark.line,
                    column=None if mark is None else mark.column,
                )
            )
            if hint:
                self.located.hints.setdefault(
                    loc[:-1], f" (config.{key} is ignored here: did you mean 'config.{instead}'?)"
                )
            del config[key]


def _step_type(node: LocatedDict) -> str | None:
    """The step's ``type``, or ``shell`` when the file leaves it to the default (``config.run``/``file``)."""
    step_type = node.get("type")
    if isinstance(step_type, str):
        return step_type
    config = node.get("config")
    if "parallel" not in node and isinstance(config, dict) and ("run" in config or "file" in config):
        return "shell"
    return None
