"""The signature checks ``build()`` makes on the callables a definition runs as steps."""

from __future__ import annotations

import inspect
from collections.abc import Callable
from typing import Any, Literal

from wfe_core.definition import WorkflowStep
from wfe_core.errors import DefinitionError
from wfe_core.step import StepBody

CallableKind = Literal["inline", "factory"]
"""``inline``: a step function called as ``fn(ctx)`` (``then_fn``, ``compensate_with(fn)``); ``factory``: a
zero-argument callable that makes the step body (``then(factory)``)."""


def check_step_callable(definition_id: str, step: WorkflowStep, fn: Any, kind: CallableKind) -> None:
    """Raise DefinitionError, naming the step and the fix, when ``fn`` cannot be called the way the step calls
    it: ``fn(ctx)`` for an inline step, ``fn()`` for a factory."""
    where = f"step '{step.name}' (step {step.id}) of workflow '{definition_id}'"
    if not callable(fn):
        raise DefinitionError(f"{where} is {fn!r}, which is not callable: pass a function of the context")
    if kind == "inline" and isinstance(fn, type) and issubclass(fn, StepBody):
        raise DefinitionError(
            f"{where} is the step class {fn.__name__} given as a function: add it with then({fn.__name__})"
        )
    signature = _signature(fn)
    if signature is None:
        return  # no signature to check (some builtins): it is called as written
    arguments: tuple[Any, ...] = (None,) if kind == "inline" else ()
    try:
        signature.bind(*arguments)
    except TypeError:
        pass
    else:
        return
    shown = f"{getattr(fn, '__name__', type(fn).__name__)}{signature}"
    if kind == "inline":
        raise DefinitionError(
            f"{where} is {shown}, which cannot be called as fn(ctx): an inline step takes exactly one "
            f"argument, the step's context; write it as `def {_plain(fn)}(ctx): ...` or `lambda ctx: ...`"
        )
    if _takes_one(signature):
        raise DefinitionError(
            f"{where} is {shown}, a function of the context given where a step class or zero-argument "
            "factory belongs: add it with then_fn(...) instead of then(...)"
        )
    raise DefinitionError(
        f"{where} is {shown}, which cannot be called without arguments: then() takes a StepBody class, a "
        "StepBody instance or a zero-argument factory; to run a function of the context use then_fn(...)"
    )


def _signature(fn: Callable[..., Any]) -> inspect.Signature | None:
    try:
        return inspect.signature(fn)
    except (TypeError, ValueError):
        return None


def _takes_one(signature: inspect.Signature) -> bool:
    try:
        signature.bind(None)
    except TypeError:
        return False
    return True


def _plain(fn: Callable[..., Any]) -> str:
    name = getattr(fn, "__name__", "step")
    return name if name.isidentifier() else "step"
