"""Validation of parsed workflow files, in the order of the Rust implementation.

Per workflow (after :mod:`wfe_yaml.keys` checked its keys): non-empty steps; each step (recursively through parallel children and hooks) for
duplicate names, ``type``/``parallel`` and its type's config; error behaviours; ``when`` conditions and
declared outputs. Then across the file: duplicate workflow ids and cycles of ``type: workflow`` references.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from typing import TYPE_CHECKING, Any

import pydantic

from wfe_yaml.errors import StepTypeNotInstalledError, StepTypeUnavailableError, UnknownStepTypeError
from wfe_yaml.located import Loc, Located, pydantic_error, suggest
from wfe_yaml.schema import Condition, StepSpec, WorkflowSpec
from wfe_yaml.step_types import StepTypeImportError, available_step_types, is_available, load_step_type

if TYPE_CHECKING:
    from wfe_yaml.value_types import ValueType

ERROR_BEHAVIOR_TYPES = ("retry", "suspend", "terminate", "compensate")


def iter_steps(steps: Sequence[StepSpec], loc: Loc) -> Iterator[tuple[StepSpec, Loc]]:
    """Every step with its location, depth first: parallel children and hooks after their parent."""
    for index, step in enumerate(steps):
        yield from _iter_step(step, loc + (index,))


def _iter_step(step: StepSpec, loc: Loc) -> Iterator[tuple[StepSpec, Loc]]:
    yield step, loc
    if step.parallel is not None:
        yield from iter_steps(step.parallel, loc + ("parallel",))
    for key, hook in step.hooks():
        yield from _iter_step(hook, loc + (key,))


def _type_label(step_type: str) -> str:
    return {"js": "Deno"}.get(step_type, step_type[:1].upper() + step_type[1:])


def _validate_step_type(step: StepSpec, loc: Loc, located: Located) -> None:
    step_type = step.type
    assert step_type is not None
    if not is_available(step_type):
        mark = located.mark(loc + ("type",))
        raise UnknownStepTypeError(
            step_type,
            available_step_types(),
            step_name=step.name,
            path=located.source,
            line=mark.line if mark else None,
            column=mark.column if mark else None,
        )
    try:
        provider = load_step_type(step_type)
    except StepTypeImportError as exc:
        mark = located.mark(loc + ("type",))
        line, column = (mark.line, mark.column) if mark else (None, None)
        if exc.install is not None:
            raise StepTypeNotInstalledError(
                step_type, exc.reason, exc.install, path=located.source, line=line, column=column
            ) from exc
        raise StepTypeUnavailableError(
            step_type, exc.reason, None, path=located.source, line=line, column=column
        ) from exc
    if step.config is None:
        if getattr(provider, "requires_config", True):
            raise located.error(
                f"{_type_label(step_type)} step '{step.name}' must have a 'config' section", loc
            )
        config: Mapping[str, Any] = {}
    else:
        config = step.config
    config_model = getattr(provider, "config_model", None)
    if config_model is not None and step.config is not None:
        # An unknown key, however deep, first: it is often why the type's own check fails.
        try:
            config_model.model_validate(config)
        except pydantic.ValidationError as exc:
            if any(e["type"] == "extra_forbidden" for e in exc.errors()):
                raise pydantic_error(exc, config_model, located, loc + ("config",)) from None
    # Then the type's own checks: they carry the Rust wording for the common mistakes.
    try:
        problems = provider.validate(config, step_name=step.name)
    except Exception as exc:  # a plugin's bug must still surface as a located load error
        raise located.error(
            f"step '{step.name}': the '{step_type}' step type failed to check its config: {exc!r}", loc
        ) from exc
    if problems:
        raise located.error(
            problems[0] + located.hints.get(loc, ""), loc + ("config",) if step.config is not None else loc
        )
    if config_model is not None and step.config is not None:
        try:
            config_model.model_validate(config)
        except pydantic.ValidationError as exc:
            raise pydantic_error(exc, config_model, located, loc + ("config",)) from None


def _validate_steps(spec: WorkflowSpec, located: Located, wf_loc: Loc) -> None:
    seen: set[str] = set()
    for step, loc in iter_steps(spec.steps, wf_loc + ("steps",)):
        if step.name in seen:
            raise located.error(f"Duplicate step name: '{step.name}'", loc + ("name",))
        seen.add(step.name)
        if step.type is None and step.parallel is None:
            raise located.error(f"Step '{step.name}' must have either 'type' + 'config' or 'parallel'", loc)
        if step.type is not None and step.parallel is not None:
            raise located.error(
                f"Step '{step.name}' cannot have both 'type' and 'parallel'", loc + ("parallel",)
            )
        if step.parallel is not None and not step.parallel:
            raise located.error(
                f"Step '{step.name}': 'parallel' must list at least one step", loc + ("parallel",)
            )
        if step.type is not None:
            _validate_step_type(step, loc, located)


def _validate_error_behaviors(spec: WorkflowSpec, located: Located, wf_loc: Loc) -> None:
    candidates: list[tuple[str | None, Loc]] = []
    if spec.error_behavior is not None:
        candidates.append((spec.error_behavior.type, wf_loc + ("error_behavior", "type")))
    for step, loc in iter_steps(spec.steps, wf_loc + ("steps",)):
        if step.error_behavior is not None:
            candidates.append((step.error_behavior.type, loc + ("error_behavior", "type")))
    for kind, loc in candidates:
        if kind not in ERROR_BEHAVIOR_TYPES:
            raise located.error(
                f"Invalid error behavior type: '{kind}'. Must be retry, suspend, terminate, or compensate"
                + suggest(str(kind), ERROR_BEHAVIOR_TYPES),
                loc,
            )


def _parse_schema(fields: Mapping[str, str], located: Located, loc: Loc) -> dict[str, ValueType]:
    if not fields:
        return {}
    # Imported by the workflows that declare typed inputs or outputs (most declare none).
    from wfe_yaml.value_types import TypeStringError, parse_type

    parsed: dict[str, ValueType] = {}
    for name, text in fields.items():
        try:
            parsed[name] = parse_type(text)
        except TypeStringError as exc:
            raise located.error(f"{loc[-1]} field '{name}': {exc}", loc + (name,)) from None
    return parsed


def produced_outputs(spec: WorkflowSpec) -> set[str]:
    """Names listed in any step's ``outputs:``."""
    return {ref.name for step, _ in iter_steps(spec.steps, ()) for ref in step.outputs}


def _check_condition_shape(cond: Condition, located: Located, loc: Loc) -> None:
    if cond.field is not None:
        ops = cond.operators
        if not ops:
            raise located.error(
                f"Comparison on field '{cond.field}' must specify an operator (equals, gt, etc.)", loc
            )
        if len(ops) > 1:
            raise located.error(
                f"Comparison on field '{cond.field}' must specify exactly one operator, found {len(ops)}", loc
            )
        if cond.combinators:
            raise located.error(
                f"Comparison on field '{cond.field}' cannot also use '{cond.combinators[0]}'", loc
            )
        return
    if cond.operators:
        raise located.error(f"Condition uses '{cond.operators[0]}' without a 'field'", loc)
    combinators = cond.combinators
    if not combinators:
        raise located.error(
            "Condition combinator must have at least one of: all, any, none, one_of, not "
            "(or 'field' with an operator)",
            loc,
        )
    if len(combinators) > 1:
        raise located.error(
            "Condition combinator must have exactly one of: all, any, none, one_of, not; "
            f"found {', '.join(combinators)}",
            loc,
        )
    for key, children in (
        ("all", cond.all_),
        ("any", cond.any_),
        ("none", cond.none_),
        ("one_of", cond.one_of),
    ):
        for index, child in enumerate(children or []):
            _check_condition_shape(child, located, loc + (key, index))
    if cond.not_ is not None:
        _check_condition_shape(cond.not_, located, loc + ("not",))


def _iter_comparisons(cond: Condition, loc: Loc) -> Iterator[tuple[Condition, Loc]]:
    if cond.field is not None:
        yield cond, loc
    for key, children in (
        ("all", cond.all_),
        ("any", cond.any_),
        ("none", cond.none_),
        ("one_of", cond.one_of),
    ):
        for index, child in enumerate(children or []):
            yield from _iter_comparisons(child, loc + (key, index))
    if cond.not_ is not None:
        yield from _iter_comparisons(cond.not_, loc + ("not",))


def _check_comparison_types(
    cond: Condition,
    inputs: Mapping[str, ValueType],
    outputs: Mapping[str, ValueType],
    produced: set[str],
    located: Located,
    loc: Loc,
) -> None:
    assert cond.field is not None
    path = cond.field.removeprefix(".")
    segments = path.split(".") if path else []
    field_loc = loc + ("field",)
    if len(segments) < 2:
        raise located.error(
            f"Condition field path '{cond.field}' must have at least two segments "
            "(e.g. '.inputs.name' or '.outputs.name')",
            field_loc,
        )
    root, name = segments[0], segments[1]
    if root not in ("inputs", "outputs"):
        raise located.error(
            f"Condition field path '{cond.field}' must start with 'inputs' or 'outputs', got '{root}'",
            field_loc,
        )
    value_type: ValueType | None
    if root == "inputs":
        if name not in inputs:
            raise located.error(
                f"Condition references unknown input field '{name}'. Available inputs: "
                f"[{', '.join(sorted(inputs))}]{suggest(name, list(inputs))}",
                field_loc,
            )
        value_type = inputs[name]
    else:
        if name not in outputs and name not in produced:
            known = sorted(set(outputs) | produced)
            raise located.error(
                f"Condition references unknown output field '{name}'. Available outputs: "
                f"[{', '.join(known)}]{suggest(name, known)}",
                field_loc,
            )
        value_type = outputs.get(name)
    if value_type is None or len(segments) > 2:
        return  # the type of a step-produced output or of a nested value is not known at load time
    op = cond.operators[0]
    if op in ("gt", "gte", "lt", "lte") and not value_type.is_numeric:
        raise located.error(
            f"Condition on '{cond.field}' uses gt/gte/lt/lte, which need a number/integer "
            f"field, but it is {value_type}",
            loc + (op,),
        )
    if op == "contains" and not value_type.supports_contains:
        raise located.error(
            f"Condition on '{cond.field}' uses contains, which needs a string/list field, "
            f"but it is {value_type}",
            loc + (op,),
        )
    if op in ("is_null", "is_not_null") and not value_type.is_nullable:
        raise located.error(
            f"Condition on '{cond.field}' uses {op}, which needs an optional field (T?) or "
            f"any, but it is {value_type}",
            loc + (op,),
        )


def _validate_conditions(spec: WorkflowSpec, located: Located, wf_loc: Loc) -> None:
    inputs = _parse_schema(spec.inputs, located, wf_loc + ("inputs",))
    outputs = _parse_schema(spec.outputs, located, wf_loc + ("outputs",))
    typed = bool(spec.inputs or spec.outputs)
    produced = produced_outputs(spec)
    for step, loc in iter_steps(spec.steps, wf_loc + ("steps",)):
        if step.when is None:
            continue
        _check_condition_shape(step.when, located, loc + ("when",))
        if typed:
            for cond, cond_loc in _iter_comparisons(step.when, loc + ("when",)):
                _check_comparison_types(cond, inputs, outputs, produced, located, cond_loc)
    for name in spec.outputs:
        if name not in produced:
            raise located.error(
                f"Declared output '{name}' is never produced by any step. List it in a step's 'outputs:' "
                "or remove it from the workflow's 'outputs:'",
                wf_loc + ("outputs", name),
                key=True,
            )


def validate_workflow(spec: WorkflowSpec, located: Located, wf_loc: Loc) -> None:
    """Check one workflow in the Rust order; raises the first problem as a located error."""
    if not spec.steps:
        raise located.error("Workflow must have at least one step", wf_loc + ("steps",))
    _validate_steps(spec, located, wf_loc)
    _validate_error_behaviors(spec, located, wf_loc)
    _validate_conditions(spec, located, wf_loc)


def workflow_references(spec: WorkflowSpec) -> list[str]:
    """Ids of the workflows that ``type: workflow`` steps (anywhere in ``spec``) start."""
    refs: list[str] = []
    for step, _ in iter_steps(spec.steps, ()):
        if (
            step.type == "workflow"
            and step.config is not None
            and isinstance(step.config.get("workflow"), str)
        ):
            refs.append(step.config["workflow"])
    return refs


def validate_across(specs: Sequence[tuple[WorkflowSpec, Loc]], located: Located) -> None:
    """Duplicate ids and reference cycles among the workflows of one file."""
    seen: set[str] = set()
    for spec, loc in specs:
        if spec.id in seen:
            raise located.error(f"Duplicate workflow ID: '{spec.id}'", loc + ("id",))
        seen.add(spec.id)
    cycle = find_reference_cycle({spec.id: workflow_references(spec) for spec, _ in specs})
    if cycle is not None:
        where = {spec.id: loc for spec, loc in specs}
        raise located.error(
            f"Circular workflow reference detected: {' -> '.join(cycle)}", where[cycle[0]] + ("id",)
        )


def find_reference_cycle(graph: Mapping[str, Sequence[str]]) -> list[str] | None:
    """A cycle (``[a, b, a]``) in the ``type: workflow`` reference graph, or None. Ids outside ``graph``
    (workflows defined elsewhere) end a path."""
    done: set[str] = set()

    def visit(node: str, stack: list[str]) -> list[str] | None:
        if node in stack:
            return stack[stack.index(node) :] + [node]
        if node in done or node not in graph:
            return None
        stack.append(node)
        for ref in graph[node]:
            found = visit(ref, stack)
            if found is not None:
                return found
        stack.pop()
        done.add(node)
        return None

    for node in graph:
        found = visit(node, [])
        if found is not None:
            return found
    return None
