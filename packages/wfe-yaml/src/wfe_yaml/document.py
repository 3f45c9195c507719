"""Parsing YAML text into plain Python values that remember where each node came from.

Mappings become :class:`LocatedDict` and sequences :class:`LocatedList`: ordinary ``dict``/``list``
objects that also hold the 1-based line and column of themselves, of each key and of each value, so every
later error can point at ``file:line:column``. Merge keys (``<<: *anchor``), anchors and aliases behave as in
YAML 1.1; dates stay strings (workflow data is JSON).

Aliases are bounded: a document whose aliases would add more than :data:`MAX_ALIAS_NODES` nodes once expanded
(the "billion laughs" of nested anchors) is refused before anything is built from it.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import yaml

from wfe_yaml.errors import YamlParseError

MAX_ALIAS_NODES = 100_000
"""How many nodes aliases (``*name``, merge keys included) may add to a document once expanded. Real files
add hundreds; a few nested anchors can add billions, which would take minutes and gigabytes to build."""

# The constructs whose error is best reported where they open (an unclosed quote or bracket is found only at
# the end of the stream or many lines later).
_OPENERS = {
    "while scanning a quoted scalar": "quoted string",
    "while parsing a flow sequence": "'[' list",
    "while parsing a flow mapping": "'{' mapping",
    "while scanning a block scalar": "block scalar",
}

# The C parser is much faster; the constructor (where marks are recorded) is Python in both cases.
if TYPE_CHECKING:
    from yaml import SafeLoader as _BaseLoader
else:
    _BaseLoader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


@dataclass(frozen=True, slots=True)
class Mark:
    """A 1-based position in a source file."""

    line: int
    column: int
    style: str | None = None
    """A scalar's style: None (plain), ``'`` or ``"`` (quoted), ``|`` or ``>`` (block: the text starts on
    the next line)."""


def _mark(node: yaml.Node) -> Mark:
    style = node.style if isinstance(node, yaml.ScalarNode) else None
    return Mark(node.start_mark.line + 1, node.start_mark.column + 1, style)


class LocatedDict(dict[Any, Any]):
    """A mapping that knows its own position and those of its keys and values."""

    mark: Mark
    key_marks: dict[Any, Mark]
    value_marks: dict[Any, Mark]

    def __init__(self, mark: Mark) -> None:
        super().__init__()
        self.mark = mark
        self.key_marks = {}
        self.value_marks = {}


class LocatedList(list[Any]):
    """A sequence that knows its own position and those of its items."""

    mark: Mark
    item_marks: list[Mark]

    def __init__(self, mark: Mark) -> None:
        super().__init__()
        self.mark = mark
        self.item_marks = []


def _is_on_key(node: yaml.Node) -> bool:
    """A plain ``on`` mapping key: read as the text ``on`` (YAML 1.1 makes it the boolean True)."""
    return isinstance(node, yaml.ScalarNode) and not node.style and node.value == "on"


class _LocatingLoader(_BaseLoader):
    """A safe loader whose mappings and sequences record their marks."""

    def construct_located_map(self, node: yaml.MappingNode) -> Iterator[LocatedDict]:
        data = LocatedDict(_mark(node))
        yield data
        seen: dict[Any, Mark] = {}
        for key_node, _ in node.value:
            if isinstance(key_node, yaml.ScalarNode) and key_node.tag != "tag:yaml.org,2002:merge":
                key = key_node.value
                if key in seen:
                    raise yaml.constructor.ConstructorError(
                        "while constructing a mapping",
                        node.start_mark,
                        f"found duplicate key '{key}' (first at line {seen[key].line})",
                        key_node.start_mark,
                    )
                seen[key] = _mark(key_node)
        self.flatten_mapping(node)
        for key_node, value_node in node.value:
            if _is_on_key(key_node):
                key = "on"  # a workflow's trigger block, as in GitHub Actions; YAML 1.1 would read True
            else:
                key = self.construct_object(key_node, deep=False)
            try:
                hash(key)
            except TypeError:
                raise yaml.constructor.ConstructorError(
                    "while constructing a mapping",
                    node.start_mark,
                    "found an unhashable key",
                    key_node.start_mark,
                ) from None
            data[key] = self.construct_object(value_node, deep=False)
            data.key_marks[key] = _mark(key_node)
            data.value_marks[key] = _mark(value_node)

    def construct_located_seq(self, node: yaml.SequenceNode) -> Iterator[LocatedList]:
        data = LocatedList(_mark(node))
        yield data
        for child in node.value:
            data.append(self.construct_object(child, deep=False))
            data.item_marks.append(_mark(child))

    def construct_timestamp_as_text(self, node: yaml.ScalarNode) -> str:
        return str(node.value)


_LocatingLoader.add_constructor("tag:yaml.org,2002:map", _LocatingLoader.construct_located_map)
_LocatingLoader.add_constructor("tag:yaml.org,2002:seq", _LocatingLoader.construct_located_seq)
_LocatingLoader.add_constructor("tag:yaml.org,2002:timestamp", _LocatingLoader.construct_timestamp_as_text)


def parse_yaml(text: str, *, source: str = "<string>") -> Any:
    """The single document in ``text`` as located Python values (None for an empty document).

    Raises:
        YamlParseError: the text is not valid YAML, holds several documents, or repeats a key in a mapping.
    """
    loader = _LocatingLoader(text)
    try:
        if not loader.check_node():
            return None
        node = loader.get_node()
        if node is not None:
            check_alias_expansion(node, source=source)
        if loader.check_node():
            extra = loader.get_node()
            where = None if extra is None else _mark(extra)
            raise YamlParseError(
                "YAML parse error: expected a single document, found several (split them into files, or "
                "list the workflows under 'workflows:')",
                path=source,
                line=None if where is None else where.line,
                column=None if where is None else where.column,
            )
        return None if node is None else loader.construct_document(node)
    except yaml.MarkedYAMLError as exc:
        raise _syntax_error(exc, source) from exc
    except yaml.YAMLError as exc:
        raise YamlParseError(f"YAML parse error: {exc}", path=source) from exc
    except RecursionError as exc:
        raise YamlParseError("YAML parse error: the document is nested too deeply", path=source) from exc
    finally:
        loader.dispose()


def _syntax_error(exc: yaml.MarkedYAMLError, source: str) -> YamlParseError:
    """The parser's error at the line where the faulty construct opened (an unclosed quote or bracket), or
    where the parser stopped."""
    opener = _OPENERS.get(exc.context or "")
    mark: yaml.Mark | None
    if opener is not None and exc.context_mark is not None:
        mark = exc.context_mark
        found = exc.problem_mark
        at = "" if found is None else f" at line {found.line + 1}, column {found.column + 1}"
        message = f"YAML parse error: unclosed {opener} that opens here ({exc.problem or 'not closed'}{at})"
    else:
        mark = exc.problem_mark or exc.context_mark
        message = "YAML parse error: " + (" ".join(p for p in (exc.context, exc.problem) if p) or str(exc))
    return YamlParseError(
        message,
        path=source,
        line=None if mark is None else mark.line + 1,
        column=None if mark is None else mark.column + 1,
    )


def check_alias_expansion(root: yaml.Node, *, source: str, limit: int = MAX_ALIAS_NODES) -> None:
    """Refuse a node graph whose aliases would add more than ``limit`` nodes once expanded.

    An alias is a second reference to a node already composed; its cost is the expanded size of that node.
    Sizes are computed once per node (depth first, without recursion), so the check is linear in the size of
    the text whatever the expansion.

    Raises:
        YamlParseError: at the first collection (in document order of completion) whose aliases push the
            total over ``limit``, or at a node that contains itself through an alias.
    """
    sizes: dict[int, int] = {}  # expanded size of each node done, by id
    on_stack: set[int] = set()
    stack: list[tuple[yaml.Node, bool]] = [(root, False)]
    while stack:
        node, children_done = stack.pop()
        key = id(node)
        if not children_done:
            if key in sizes:
                continue
            children = _children(node)
            if not children:
                sizes[key] = 1
                continue
            on_stack.add(key)
            stack.append((node, True))
            for child in reversed(children):
                if id(child) in on_stack:
                    raise _alias_error(
                        "an alias refers to a node that contains it (a recursive document cannot be loaded)",
                        node,
                        source,
                    )
                stack.append((child, False))
            continue
        on_stack.discard(key)
        sizes[key] = 1 + sum(sizes[id(child)] for child in _children(node))
        # Every node of this one's subtree is done, so its expanded size less the distinct nodes seen so far
        # never exceeds what aliases add to the whole document (and equals it at the root).
        if sizes[key] - len(sizes) > limit:
            raise _alias_error(
                f"aliases expand the document beyond {limit:,} added nodes (anchors nested inside anchors, "
                "the 'billion laughs'); write the values out or nest fewer aliases",
                node,
                source,
            )


def _children(node: yaml.Node) -> list[yaml.Node]:
    if isinstance(node, yaml.SequenceNode):
        return list(node.value)
    if isinstance(node, yaml.MappingNode):
        return [part for pair in node.value for part in pair]
    return []


def _alias_error(message: str, node: yaml.Node, source: str) -> YamlParseError:
    return YamlParseError(
        f"YAML parse error: {message}",
        path=source,
        line=node.start_mark.line + 1,
        column=node.start_mark.column + 1,
    )


def locate(root: Any, loc: Sequence[Any], *, key: bool = False) -> Mark | None:
    """The position of the node at ``loc`` (keys and indices from ``root``), or of its deepest parent.

    With ``key=True`` and a mapping key at the end of ``loc``, the position of the key rather than its value.
    """
    node = root
    best: Mark | None = getattr(root, "mark", None)
    for index, part in enumerate(loc):
        last = index == len(loc) - 1
        if isinstance(node, LocatedDict) and part in node:
            marks = node.key_marks if (key and last) else node.value_marks
            best = marks.get(part, best)
            node = node[part]
        elif isinstance(node, LocatedList) and isinstance(part, int) and 0 <= part < len(node):
            best = node.item_marks[part]
            node = node[part]
        else:
            break
    return best
