"""Located errors: where in a parsed file a problem is, and how its message names it.

:class:`Located` turns a location (the keys and indices from the document's root) into an error at
``file:line:column``. Messages use the file's own names: ``step 'build': error_behavior.interval: ...``, with
the closest known key suggested for an unknown one; :func:`pydantic_error` words a pydantic error that way.
"""

from __future__ import annotations

import types
import typing
from collections.abc import Mapping, Sequence
from typing import Any

import pydantic
from pydantic import BaseModel

from wfe_yaml.document import Mark, locate
from wfe_yaml.errors import YamlValidationError

HOOK_KEYS = ("on_failure", "on_success", "ensure")
Loc = tuple[str | int, ...]


class Located:
    """Builds errors pointing into one parsed document."""

    def __init__(self, root: Any, source: str) -> None:
        self.root = root
        self.source = source
        self.hints: dict[Loc, str] = {}
        """Added to a step type's own error, by the location of the step (e.g. which ignored key was meant)."""

    def mark(self, loc: Sequence[Any], *, key: bool = False) -> Mark | None:
        return locate(self.root, loc, key=key)

    def error(self, message: str, loc: Sequence[Any], *, key: bool = False) -> YamlValidationError:
        mark = self.mark(loc, key=key)
        return YamlValidationError(
            message,
            path=self.source,
            line=None if mark is None else mark.line,
            column=None if mark is None else mark.column,
        )


def suggest(name: str, choices: Sequence[str], *, parent: str = "") -> str:
    """`` (did you mean 'x'?)`` for the closest of ``choices`` (written below ``parent.`` when given), or an
    empty string."""
    import difflib  # an error's hint: not imported by a file that loads cleanly

    close = difflib.get_close_matches(str(name), list(choices), n=2, cutoff=0.6)
    if not close:
        return ""
    where = f"{parent}." if parent else ""
    return " (did you mean " + " or ".join(f"'{where}{c}'" for c in close) + "?)"


def field_names(model: type[BaseModel]) -> list[str]:
    return [info.alias or name for name, info in model.model_fields.items()]


def _inner_model(annotation: Any) -> type[BaseModel] | None:
    """The pydantic model inside ``X``, ``X | None``, ``list[X]`` or ``dict[str, X]``, if any."""
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    origin = typing.get_origin(annotation)
    if origin in (typing.Union, types.UnionType, list, dict, typing.Annotated):
        for arg in typing.get_args(annotation):
            found = _inner_model(arg)
            if found is not None:
                return found
    return None


def _model_at(model: type[BaseModel], loc: Sequence[Any]) -> type[BaseModel] | None:
    """The model class whose fields are at ``loc`` below ``model`` (integer and mapping-key parts skipped)."""
    current: type[BaseModel] | None = model
    for part in loc:
        if current is None:
            return None
        by_alias = {info.alias or name: info for name, info in current.model_fields.items()}
        info = by_alias.get(str(part)) if isinstance(part, str) else None
        if info is None:
            continue  # a list index or a mapping key: stay on the container's item model
        current = _inner_model(info.annotation)
    return current


def _context(root: Any, loc: Sequence[Any]) -> tuple[str, int]:
    """``step 'x': `` for the innermost step that ``loc`` points into (else ``workflow 'id': ``, else an empty
    string), and how many parts of ``loc`` lead to that step or workflow."""
    node = root
    context, depth = "", 0
    previous: Any = None
    for index, part in enumerate(loc):
        if isinstance(node, Mapping) and part in node:
            node = node[part]
        elif isinstance(node, list) and isinstance(part, int) and 0 <= part < len(node):
            node = node[part]
        else:
            break
        is_step = previous in HOOK_KEYS or (isinstance(part, int) and previous in ("steps", "parallel"))
        is_workflow = (part == "workflow" and index == 0) or (
            isinstance(part, int) and previous == "workflows"
        )
        if isinstance(node, Mapping):
            if is_step and isinstance(node.get("name"), str):
                context, depth = f"step '{node['name']}': ", index + 1
            elif is_workflow and isinstance(node.get("id"), str):
                context, depth = f"workflow '{node['id']}': ", index + 1
        previous = part
    return context, depth


def dotted(loc: Sequence[Any]) -> str:
    """``error_behavior.interval`` or ``inputs[0].name``: a location as the file's own keys."""
    text = ""
    for part in loc:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
    return text


def _pydantic_message(err: Any) -> str:
    message = str(err["msg"])
    for prefix in ("Value error, ", "Assertion failed, "):
        message = message.removeprefix(prefix)
    return message


def _in_document(root: Any, loc: Sequence[Any], *, missing: bool = False) -> Loc:
    """``loc`` without the parts pydantic adds that name no key of the file (the member of a union tried,
    such as ``str`` in ``interval.str``); with ``missing``, the last part names a missing field and stays."""
    node, kept = root, []
    for index, part in enumerate(loc):
        if isinstance(node, Mapping) and (part in node or (missing and index == len(loc) - 1)):
            node = node.get(part)
        elif isinstance(node, list) and isinstance(part, int) and 0 <= part < len(node):
            node = node[part]
        elif isinstance(part, str):
            continue
        kept.append(part)
    return tuple(kept)


def _joined(messages: Sequence[str]) -> str:
    """``Input should be a valid string, a valid integer or a valid number`` from a union's messages."""
    unique = list(dict.fromkeys(messages))
    lead = "Input should be "
    if len(unique) < 2 or not all(m.startswith(lead) for m in unique):
        return unique[0]
    rest = [m.removeprefix(lead) for m in unique]
    return lead + ", ".join(rest[:-1]) + " or " + rest[-1]


def pydantic_error(
    exc: pydantic.ValidationError, model: type[BaseModel], located: Located, prefix: Loc = ()
) -> YamlValidationError:
    """The first of ``exc``'s errors (in document order) as a located :class:`YamlValidationError`."""

    def position(err: Any) -> tuple[int, int]:
        mark = located.mark(prefix + tuple(err["loc"]), key=err["type"] == "extra_forbidden")
        return (mark.line, mark.column) if mark else (0, 0)

    # An unknown key is usually the cause of a missing one beside it ('nme:' for 'name:'): report it first.
    errors = [e for e in exc.errors() if e["type"] == "extra_forbidden"] or exc.errors()
    err = min(errors, key=position)
    loc = tuple(err["loc"])
    full = _in_document(located.root, prefix + loc, missing=err["type"] == "missing")
    context, depth = _context(located.root, full)
    relative = full[depth:]
    path = dotted(relative)
    if err["type"] == "extra_forbidden":
        owner = _model_at(model, loc[:-1])
        choices = field_names(owner) if owner is not None else []
        hint = suggest(str(loc[-1]), choices, parent=dotted(relative[:-1]))
        message = f"{context}unknown field '{path}'{hint}"
        return located.error(message, prefix + loc, key=True)
    if err["type"] == "missing":
        return located.error(f"{context}missing required field '{path}'", prefix + loc)
    # A union reports each member it tried at the same place: say them together.
    same = [e for e in errors if _in_document(located.root, prefix + tuple(e["loc"])) == full]
    return located.error(f"{context}{path}: {_joined([_pydantic_message(e) for e in same])}", full)
