"""Folding each step's lines in CI logs: ``::group::`` in GitHub Actions, collapsible sections in GitLab CI.

Groups cannot nest and parallel steps write at the same time, so one step's group is open at a time: the lines
of a step that runs meanwhile wait in a buffer, and its group is written once the open one closes.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

from rich.text import Text

GITHUB = "github"
GITLAB = "gitlab"


def ci_from_env(env: Mapping[str, str]) -> str | None:
    """``github`` inside GitHub Actions, ``gitlab`` inside GitLab CI, else None."""
    if env.get("GITHUB_ACTIONS") == "true":
        return GITHUB
    if env.get("GITLAB_CI") == "true":
        return GITLAB
    return None


@dataclass(slots=True)
class _Group:
    title: str
    lines: list[Text] = field(default_factory=list)
    ended: list[Text] | None = None
    """The lines after the group (its result line), once the step ended."""


class Folder:
    """Writes each step's lines inside a fold of the CI's log, through ``emit``."""

    def __init__(
        self,
        kind: str,
        emit: Callable[[Text], None],
        marker: Callable[[str], None],
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.kind = kind
        self._emit = emit
        self._marker = marker
        """Writes a fold's marker line as it is (a console would drop its carriage return)."""
        self._clock = clock
        self._open: str | None = None
        self._waiting: dict[str, _Group] = {}
        self._sections = 0
        self._section: str = ""

    def start(self, key: str, title: str) -> None:
        """A step starts: open its group now, or once the open one closes."""
        if self._open is None:
            self._begin(key, title)
        else:
            self._waiting[key] = _Group(title)

    def line(self, key: str, text: Text) -> None:
        waiting = self._waiting.get(key)
        if waiting is not None:
            waiting.lines.append(text)
        else:
            self._emit(text)

    def finish(self, key: str, result: Text) -> None:
        """A step ended with ``result`` (its line after the fold)."""
        waiting = self._waiting.get(key)
        if waiting is not None:
            waiting.ended = [result]
            return
        if key == self._open:
            self._end()
            self._emit(result)
            self._drain()
        else:
            self._emit(result)

    def close(self) -> None:
        """Write whatever is still buffered (the run ended or was interrupted)."""
        if self._open is not None:
            self._end()
        for key in list(self._waiting):
            group = self._waiting.pop(key)
            self._begin(key, group.title)
            for text in group.lines:
                self._emit(text)
            self._end()
            for text in group.ended or []:
                self._emit(text)

    def _drain(self) -> None:
        for key in list(self._waiting):
            group = self._waiting.pop(key)
            self._begin(key, group.title)
            for text in group.lines:
                self._emit(text)
            if group.ended is None:
                return  # still running: its lines go on streaming in its group
            self._end()
            for text in group.ended:
                self._emit(text)

    def _begin(self, key: str, title: str) -> None:
        self._open = key
        if self.kind == GITHUB:
            self._marker(f"::group::{title}")
            return
        self._sections += 1
        slug = re.sub(r"[^A-Za-z0-9_.-]", "_", title)[:40]
        self._section = f"wfe_{self._sections}_{slug}"
        start = f"\x1b[0Ksection_start:{int(self._clock())}:{self._section}[collapsed=true]\r\x1b[0K{title}"
        self._marker(start)

    def _end(self) -> None:
        self._open = None
        if self.kind == GITHUB:
            self._marker("::endgroup::")
        else:
            self._marker(f"\x1b[0Ksection_end:{int(self._clock())}:{self._section}\r\x1b[0K")
