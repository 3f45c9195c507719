"""Loading workflow files: parse, interpolate, validate, compile. The function names mirror the Rust API."""

from __future__ import annotations

import dataclasses
import os
import warnings
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pydantic

from wfe_yaml.compiler import CompiledWorkflow, compile_workflow
from wfe_yaml.document import LocatedDict, parse_yaml
from wfe_yaml.errors import YamlError, YamlIOError, YamlParseError, YamlValidationError, YamlWarning
from wfe_yaml.interpolation import interpolate
from wfe_yaml.keys import KeyChecker
from wfe_yaml.located import Loc, Located, pydantic_error, suggest
from wfe_yaml.schema import WorkflowSpec
from wfe_yaml.validation import (
    find_reference_cycle,
    validate_across,
    validate_workflow,
    workflow_references,
)

Config = Mapping[str, Any] | None
Reader = Callable[[Path], str]
"""Returns the text of a file (raising OSError, FileNotFoundError when it is missing)."""


def read_text(path: Path) -> str:
    """The default :data:`Reader`: the file on disk, as UTF-8."""
    return path.read_text(encoding="utf-8")


@dataclass(frozen=True, slots=True)
class ParsedWorkflow:
    """A validated workflow spec with where it came from."""

    spec: WorkflowSpec
    loc: Loc
    located: Located
    warnings: tuple[YamlWarning, ...] = ()
    """What the file asks of this workflow that wfe ignores (keys of the Rust WFE's schema)."""

    def compile(self) -> CompiledWorkflow:
        compiled = compile_workflow(self.spec, located=self.located, loc=self.loc)
        return dataclasses.replace(compiled, warnings=self.warnings)


@dataclass(frozen=True, slots=True)
class _ParsedFile:
    workflows: list[ParsedWorkflow]
    includes: list[tuple[str, Loc]]
    located: Located


def _parse_file(text: str, config: Config, source: str, strict: bool) -> _ParsedFile:
    try:
        parsed = _parse_file_unguarded(text, config, source)
    except RecursionError as exc:  # recursive aliases (``&a [*a]``) or absurd nesting
        raise YamlParseError(
            "YAML parse error: the document is recursive or nested too deeply", path=source
        ) from exc
    if strict:
        for workflow in parsed.workflows:
            if workflow.warnings:
                raise workflow.warnings[0].as_error()
    return parsed


def _parse_file_unguarded(text: str, config: Config, source: str) -> _ParsedFile:
    raw = interpolate(parse_yaml(text, source=source), config or {}, source=source, source_text=text)
    located = Located(raw, source)
    if not isinstance(raw, LocatedDict):
        raise located.error("a workflow file must be a mapping with a 'workflow:' or a 'workflows:' key", ())
    has_one, has_many = "workflow" in raw, "workflows" in raw
    if has_one and has_many:
        raise located.error(
            "Cannot specify both 'workflow' and 'workflows' in the same file", ("workflows",), key=True
        )
    if not has_one and not has_many:
        hint = ""
        for key in raw:
            hint = hint or suggest(str(key), ["workflow", "workflows"])
        raise located.error(f"Must specify either 'workflow' or 'workflows'{hint}", ())
    entries: list[tuple[Any, Loc]]
    if has_one:
        entries = [(raw["workflow"], ("workflow",))]
    else:
        items = raw["workflows"]
        if not isinstance(items, list):
            raise located.error("'workflows' must be a list of workflows", ("workflows",))
        if not items:
            raise located.error("workflows list is empty", ("workflows",))
        entries = [(item, ("workflows", index)) for index, item in enumerate(items)]

    includes: list[tuple[str, Loc]] = []
    include = raw.get("include", [])
    if not isinstance(include, list) or not all(isinstance(item, str) for item in include):
        raise located.error("'include' must be a list of file paths", ("include",))
    includes = [(item, ("include", index)) for index, item in enumerate(include)]

    workflows: list[ParsedWorkflow] = []
    checker = KeyChecker(located)
    for value, loc in entries:
        seen = len(checker.warnings)
        checker.workflow(value, loc)
        try:
            spec = WorkflowSpec.model_validate(value)
        except pydantic.ValidationError as exc:
            raise pydantic_error(exc, WorkflowSpec, located, loc) from None
        validate_workflow(spec, located, loc)
        workflows.append(ParsedWorkflow(spec, loc, located, tuple(checker.warnings[seen:])))
    validate_across([(w.spec, w.loc) for w in workflows], located)
    return _ParsedFile(workflows, includes, located)


def _issue(loaded: Sequence[ParsedWorkflow | CompiledWorkflow]) -> None:
    """Issue the warnings of what was loaded, from the caller of the public function."""
    for workflow in loaded:
        for warning in workflow.warnings:
            warnings.warn(warning, stacklevel=3)


def parse_workflows(
    text: str, config: Config = None, *, source: str = "<string>", strict: bool = False
) -> list[ParsedWorkflow]:
    """Parse, interpolate and validate every workflow in ``text`` without compiling them.

    Raises:
        YamlError: the first problem, located at ``source:line:column``.
    """
    parsed = _parse_file(text, config, source, strict).workflows
    _issue(parsed)
    return parsed


def _load_str(text: str, config: Config, source: str, strict: bool) -> list[CompiledWorkflow]:
    return [w.compile() for w in _parse_file(text, config, source, strict).workflows]


def _single(compiled: list[CompiledWorkflow], source: str) -> CompiledWorkflow:
    if len(compiled) != 1:
        raise YamlValidationError(
            f"Expected single workflow, got {len(compiled)}: use load_workflows() for files with several",
            path=source,
            line=1,
            column=1,
        )
    return compiled[0]


def load_workflow_from_str(
    text: str, config: Config = None, *, source: str = "<string>", strict: bool = False
) -> list[CompiledWorkflow]:
    """Every workflow in ``text``, validated and compiled, in file order.

    Keys of the Rust WFE's schema that wfe does not implement are left out with a :class:`YamlWarning`
    (issued with :func:`warnings.warn` and kept in ``CompiledWorkflow.warnings``).

    Args:
        text: a YAML document with ``workflow:`` or ``workflows:``.
        config: the values ``((path))`` and ``${{ path }}`` placeholders resolve against.
        source: the file name used in error messages.
        strict: raise the first warning as a :class:`YamlValidationError` instead.

    Raises:
        YamlError: the first problem, located at ``source:line:column``.
    """
    compiled = _load_str(text, config, source, strict)
    _issue(compiled)
    return compiled


def load_single_workflow_from_str(
    text: str, config: Config = None, *, source: str = "<string>", strict: bool = False
) -> CompiledWorkflow:
    """The one workflow in ``text``.

    Raises:
        YamlValidationError: "Expected single workflow, got N" when the text holds several.
        YamlError: any other problem.
    """
    compiled = _single(_load_str(text, config, source, strict), source)
    _issue([compiled])
    return compiled


def _read(path: Path, *, what: str = "Workflow file") -> str:
    try:
        return read_text(path)
    except FileNotFoundError as exc:
        raise YamlIOError(f"IO error: {what} not found: {path}", path=str(path)) from exc
    except (OSError, UnicodeDecodeError) as exc:
        raise YamlIOError(f"IO error: cannot read {path}: {exc}", path=str(path)) from exc


def load_workflow(
    path: str | os.PathLike[str], config: Config = None, *, strict: bool = False
) -> CompiledWorkflow:
    """The one workflow in the file at ``path`` (use :func:`load_workflows` for several)."""
    file = Path(path)
    compiled = _single(_load_str(_read(file), config, str(file), strict), str(file))
    _issue([compiled])
    return compiled


def load_workflows(
    path: str | os.PathLike[str], config: Config = None, *, strict: bool = False
) -> list[CompiledWorkflow]:
    """Every workflow in the file at ``path``, in file order."""
    file = Path(path)
    compiled = _load_str(_read(file), config, str(file), strict)
    _issue(compiled)
    return compiled


def load_workflow_with_includes(
    path: str | os.PathLike[str],
    config: Config = None,
    *,
    strict: bool = False,
    reader: Reader = read_text,
) -> list[CompiledWorkflow]:
    """The workflows of the file at ``path`` followed by those of its ``include:`` files (recursively).

    Include paths are relative to the including file. A workflow id already loaded wins over an included one
    with the same id (so the including file overrides its includes). ``reader`` returns each file's text (the
    file on disk by default; the command line passes one that records them, or one that replays a recording).

    Raises:
        YamlIOError: an include is missing ("Include file not found: ...").
        YamlValidationError: "Circular include detected: '<path>'" for include cycles, or a reference cycle
            across the files.
        YamlError: any problem inside one of the files.
    """
    collected: dict[str, ParsedWorkflow] = {}
    _collect(Path(path), config, collected, stack=[], origin=None, strict=strict, reader=reader)
    merged = list(collected.values())
    cycle = find_reference_cycle({p.spec.id: workflow_references(p.spec) for p in merged})
    if cycle is not None:
        first = collected[cycle[0]]
        raise first.located.error(
            f"Circular workflow reference detected: {' -> '.join(cycle)}", first.loc + ("id",)
        )
    compiled = [p.compile() for p in merged]
    _issue(compiled)
    return compiled


def _collect(
    path: Path,
    config: Config,
    collected: dict[str, ParsedWorkflow],
    *,
    stack: list[Path],
    origin: tuple[Located, Loc] | None,
    strict: bool,
    reader: Reader,
) -> None:
    canonical = path.resolve()
    if canonical in stack:
        message = f"Circular include detected: '{path}'"
        if origin is not None:
            raise origin[0].error(message, origin[1])
        raise YamlValidationError(message, path=str(path))
    try:
        text = reader(path)
    except FileNotFoundError as exc:
        if origin is None:
            raise YamlIOError(f"IO error: Workflow file not found: {path}", path=str(path)) from exc
        error = origin[0].error(f"IO error: Include file not found: {path}", origin[1])
        raise YamlIOError(error.message, path=error.path, line=error.line, column=error.column) from exc
    except (OSError, UnicodeDecodeError) as exc:
        raise YamlIOError(f"IO error: cannot read {path}: {exc}", path=str(path)) from exc
    parsed = _parse_file(text, config, str(path), strict)
    for workflow in parsed.workflows:
        collected.setdefault(workflow.spec.id, workflow)
    stack.append(canonical)
    for include, loc in parsed.includes:
        _collect(
            path.parent / include,
            config,
            collected,
            stack=stack,
            origin=(parsed.located, loc),
            strict=strict,
            reader=reader,
        )
    stack.pop()


__all__ = [
    "CompiledWorkflow",
    "ParsedWorkflow",
    "YamlError",
    "YamlWarning",
    "load_single_workflow_from_str",
    "load_workflow",
    "load_workflow_from_str",
    "load_workflow_with_includes",
    "load_workflows",
    "parse_workflows",
]
