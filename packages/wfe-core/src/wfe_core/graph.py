"""A definition's graph: Graphviz DOT text and a self-contained SVG, optionally coloured by an instance.

Nodes are steps (labelled with their name, else their external id, else their body's class); edges are the
outcomes (solid, labelled with the outcome's label or value), the branches of containers (dashed, "branch"),
and compensation steps (dotted, "compensate").

The SVG is laid out here, without Graphviz: a definition is a sequence of steps whose containers open branches
and whose outcomes may loop back, so a layered drawing (each step one row below the deepest step that leads to
it, loops drawn as back edges) is enough, and it keeps ``pip install`` free of any system binary or native
module. Feed ``to_dot()`` to Graphviz for a richer layout.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from xml.sax.saxutils import escape

from wfe_core.models import PointerStatus, WorkflowInstance

if TYPE_CHECKING:
    from wfe_core.definition import WorkflowDefinition, WorkflowStep

STATUS_COLOURS: dict[str, str] = {
    PointerStatus.PENDING.value: "#e5e7eb",
    PointerStatus.PENDING_PREDECESSOR.value: "#e5e7eb",
    PointerStatus.RUNNING.value: "#93c5fd",
    PointerStatus.SLEEPING.value: "#c4b5fd",
    PointerStatus.WAITING_FOR_EVENT.value: "#fde68a",
    PointerStatus.COMPLETE.value: "#86efac",
    PointerStatus.SKIPPED.value: "#d1d5db",
    PointerStatus.FAILED.value: "#fca5a5",
    PointerStatus.COMPENSATED.value: "#fdba74",
    PointerStatus.CANCELLED.value: "#d1d5db",
}
"""The fill colour of a step per status of its latest execution pointer (steps never reached stay white)."""

# Which status shows when a step has several pointers (a loop, a foreach): the most telling one.
_PRECEDENCE = [
    PointerStatus.FAILED,
    PointerStatus.RUNNING,
    PointerStatus.WAITING_FOR_EVENT,
    PointerStatus.SLEEPING,
    PointerStatus.PENDING,
    PointerStatus.PENDING_PREDECESSOR,
    PointerStatus.COMPENSATED,
    PointerStatus.CANCELLED,
    PointerStatus.COMPLETE,
    PointerStatus.SKIPPED,
]


@dataclass(frozen=True, slots=True)
class Edge:
    """One arrow of the graph."""

    source: int
    target: int
    kind: str  # "next", "branch" or "compensate"
    label: str = ""


def step_label(step: WorkflowStep) -> str:
    """What a node shows: the step's name, else its external id, else its body's class name."""
    if step.name:
        return step.name
    if step.external_id:
        return step.external_id
    factory: Any = step.factory
    name = getattr(factory, "__name__", None) or type(factory).__name__
    return str(name)


def _value_label(value: Any) -> str:
    try:
        return json.dumps(value, default=str)
    except (TypeError, ValueError):  # pragma: no cover - default=str makes this rare
        return repr(value)


def edges(definition: WorkflowDefinition) -> list[Edge]:
    """Every edge of the definition, in step order."""
    from wfe_core.definition import NO_VALUE

    found: list[Edge] = []
    count = len(definition.steps)
    for step in definition.steps:
        for child in step.children:
            if 0 <= child < count:
                found.append(Edge(step.id, child, "branch", "branch"))
        for outcome in step.outcomes:
            if outcome.next_step is None or not 0 <= outcome.next_step < count:
                continue
            label = outcome.label or ("" if outcome.value is NO_VALUE else _value_label(outcome.value))
            found.append(Edge(step.id, outcome.next_step, "next", label))
        if step.compensation_step_id is not None and 0 <= step.compensation_step_id < count:
            found.append(Edge(step.id, step.compensation_step_id, "compensate", "compensate"))
    return found


def step_statuses(instance: WorkflowInstance) -> dict[int, str]:
    """The status to show for each step the instance has reached."""
    seen: dict[int, set[PointerStatus]] = {}
    for pointer in instance.execution_pointers:
        seen.setdefault(pointer.step_id, set()).add(pointer.status)
    result: dict[int, str] = {}
    for step_id, statuses in seen.items():
        for status in _PRECEDENCE:
            if status in statuses:
                result[step_id] = status.value
                break
    return result


def _dot_string(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") + '"'


def to_dot(definition: WorkflowDefinition, instance: WorkflowInstance | None = None) -> str:
    """The definition as a Graphviz ``digraph``; with ``instance``, each reached step filled with the colour
    of its status (:data:`STATUS_COLOURS`) and its status in the tooltip."""
    statuses = step_statuses(instance) if instance is not None else {}
    title = f"{definition.id} v{definition.version}"
    lines = [
        f"digraph {_dot_string(title)} {{",
        "  rankdir=TB;",
        f"  label={_dot_string(title)};",
        '  node [shape=box, style="rounded,filled", fillcolor="#ffffff", fontname="Helvetica"];',
        '  edge [fontname="Helvetica", fontsize=10];',
    ]
    for step in definition.steps:
        attributes = [f"label={_dot_string(step_label(step))}"]
        status = statuses.get(step.id)
        if status is not None:
            attributes.append(f"fillcolor={_dot_string(STATUS_COLOURS[status])}")
            attributes.append(f"tooltip={_dot_string(status)}")
        if step.is_compensation:
            attributes.append("shape=octagon")
        lines.append(f"  s{step.id} [{', '.join(attributes)}];")
    for edge in edges(definition):
        attributes = []
        if edge.label:
            attributes.append(f"label={_dot_string(edge.label)}")
        if edge.kind == "branch":
            attributes.append("style=dashed")
        elif edge.kind == "compensate":
            attributes.append("style=dotted")
        suffix = f" [{', '.join(attributes)}]" if attributes else ""
        lines.append(f"  s{edge.source} -> s{edge.target}{suffix};")
    lines.append("}")
    return "\n".join(lines) + "\n"


# -- SVG ---------------------------------------------------------------------------------------------------

_NODE_HEIGHT = 36
_ROW = 76
_GAP = 28
_MARGIN = 24
_CHAR = 7.2  # average glyph width of 12px sans-serif


def _forward_edges(count: int, all_edges: Iterable[Edge]) -> tuple[list[Edge], list[Edge]]:
    """The edges split into forward ones (a DAG) and back ones (loops), by a depth-first walk from step 0."""
    out: dict[int, list[Edge]] = {}
    for edge in all_edges:
        out.setdefault(edge.source, []).append(edge)
    state = [0] * count  # 0 new, 1 on the path, 2 done
    forward: list[Edge] = []
    back: list[Edge] = []
    for root in range(count):
        if state[root]:
            continue
        stack: list[tuple[int, int]] = [(root, 0)]
        state[root] = 1
        while stack:
            node, index = stack[-1]
            node_edges = out.get(node, [])
            if index >= len(node_edges):
                state[node] = 2
                stack.pop()
                continue
            stack[-1] = (node, index + 1)
            edge = node_edges[index]
            if state[edge.target] == 1:
                back.append(edge)
                continue
            forward.append(edge)
            if state[edge.target] == 0:
                state[edge.target] = 1
                stack.append((edge.target, 0))
    return forward, back


def _layers(count: int, forward: list[Edge]) -> list[int]:
    """Each step's row: one below the deepest step with a forward edge to it (longest path)."""
    incoming: dict[int, list[int]] = {}
    outdeg = [0] * count
    for edge in forward:
        incoming.setdefault(edge.target, []).append(edge.source)
        outdeg[edge.source] += 1
    indegree = [len(incoming.get(i, [])) for i in range(count)]
    successors: dict[int, list[int]] = {}
    for edge in forward:
        successors.setdefault(edge.source, []).append(edge.target)
    layer = [0] * count
    ready = [i for i in range(count) if indegree[i] == 0]
    while ready:
        node = ready.pop(0)
        for target in successors.get(node, []):
            layer[target] = max(layer[target], layer[node] + 1)
            indegree[target] -= 1
            if indegree[target] == 0:
                ready.append(target)
    return layer


def to_svg(definition: WorkflowDefinition, instance: WorkflowInstance | None = None) -> str:
    """The definition drawn as a standalone SVG document (layered, top to bottom); with ``instance``, coloured
    like :func:`to_dot`. Each step is a ``<g class="node" id="step-N">`` holding its title and label."""
    statuses = step_statuses(instance) if instance is not None else {}
    count = len(definition.steps)
    all_edges = edges(definition)
    forward, back = _forward_edges(count, all_edges)
    layer = _layers(count, forward)
    rows: dict[int, list[int]] = {}
    for step in definition.steps:
        rows.setdefault(layer[step.id], []).append(step.id)
    widths = {s.id: max(80.0, len(step_label(s)) * _CHAR + 24) for s in definition.steps}
    row_widths = {r: sum(widths[i] for i in ids) + _GAP * (len(ids) - 1) for r, ids in rows.items()}
    # room on the right for the edges drawn round the side: loops, and edges within a row
    loop_room = 60 if back or any(layer[e.target] <= layer[e.source] for e in all_edges) else 0
    total_width = max([*row_widths.values(), 160.0]) + 2 * _MARGIN + loop_room
    positions: dict[int, tuple[float, float]] = {}  # centre x, top y
    for r, ids in rows.items():
        x = _MARGIN + (total_width - 2 * _MARGIN - loop_room - row_widths[r]) / 2
        for step_id in ids:
            positions[step_id] = (x + widths[step_id] / 2, _MARGIN + 24 + r * _ROW)
            x += widths[step_id] + _GAP
    height = _MARGIN * 2 + 24 + (max(rows) * _ROW + _NODE_HEIGHT if rows else 0)
    title = f"{definition.id} v{definition.version}"
    parts = [
        '<?xml version="1.0" encoding="UTF-8"?>',
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{total_width:.0f}" height="{height:.0f}" '
        f'viewBox="0 0 {total_width:.0f} {height:.0f}" class="wfe-graph" font-family="Helvetica, Arial, '
        'sans-serif" font-size="12">',
        '<defs><marker id="arrow" viewBox="0 0 10 10" refX="10" refY="5" markerWidth="7" '
        'markerHeight="7" orient="auto-start-reverse"><path d="M 0 0 L 10 5 L 0 10 z" fill="#4b5563"/>'
        "</marker></defs>",
        f"<title>{escape(title)}</title>",
        f'<text x="{_MARGIN}" y="{_MARGIN}" font-weight="bold">{escape(title)}</text>',
    ]
    dash = {"next": "", "branch": ' stroke-dasharray="6 4"', "compensate": ' stroke-dasharray="2 3"'}
    back_set = {id(edge) for edge in back}
    for index, edge in enumerate(all_edges):
        sx, sy = positions[edge.source]
        tx, ty = positions[edge.target]
        style = f'stroke="#4b5563" fill="none" marker-end="url(#arrow)"{dash[edge.kind]}'
        if id(edge) in back_set or ty <= sy:
            # a loop or a same-row edge: out of the right side of the source, round, into the target's side
            right = total_width - _MARGIN - 20 - index % 3 * 8
            x1, y1 = sx + widths[edge.source] / 2, sy + _NODE_HEIGHT / 2
            x2, y2 = tx + widths[edge.target] / 2, ty + _NODE_HEIGHT / 2
            path = f"M {x1:.1f} {y1:.1f} L {right:.1f} {y1:.1f} L {right:.1f} {y2:.1f} L {x2:.1f} {y2:.1f}"
            lx, ly = right + 2, (y1 + y2) / 2
        else:
            x1, y1 = sx, sy + _NODE_HEIGHT
            x2, y2 = tx, ty
            mid = (y1 + y2) / 2
            path = f"M {x1:.1f} {y1:.1f} C {x1:.1f} {mid:.1f} {x2:.1f} {mid:.1f} {x2:.1f} {y2:.1f}"
            lx, ly = (x1 + x2) / 2 + 4, mid
        parts.append(
            f'<g class="edge {edge.kind}" data-source="{edge.source}" data-target="{edge.target}">'
            f'<path d="{path}" {style}/>'
            + (
                f'<text x="{lx:.1f}" y="{ly:.1f}" font-size="10" fill="#374151">{escape(edge.label)}</text>'
                if edge.label and edge.kind == "next"
                else ""
            )
            + "</g>"
        )
    for step in definition.steps:
        cx, top = positions[step.id]
        width = widths[step.id]
        status = statuses.get(step.id)
        fill = STATUS_COLOURS[status] if status is not None else "#ffffff"
        label = step_label(step)
        status_attr = f' data-status="{escape(status)}"' if status is not None else ""
        tooltip = f"{label} ({status})" if status is not None else label
        parts.append(
            f'<g class="node" id="step-{step.id}" data-step="{step.id}"{status_attr}>'
            f"<title>{escape(tooltip)}</title>"
            f'<rect x="{cx - width / 2:.1f}" y="{top:.1f}" width="{width:.1f}" height="{_NODE_HEIGHT}" '
            f'rx="8" fill="{fill}" stroke="#374151"/>'
            f'<text x="{cx:.1f}" y="{top + _NODE_HEIGHT / 2 + 4:.1f}" text-anchor="middle">{escape(label)}</text>'
            "</g>"
        )
    parts.append("</svg>")
    return "\n".join(parts) + "\n"
