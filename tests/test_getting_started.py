"""docs/getting-started.md's expense workflow runs as its transcript shows: two processes, one after the other.

The ``python`` block is saved as ``expenses.py`` and run as the ``console`` block says; each ``$`` line's output
must match the transcript's, where ``...`` stands for any text and ``0ec26a99-...`` for any id.
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
GUIDE = ROOT / "docs" / "getting-started.md"
ID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")


def _blocks() -> tuple[str, list[tuple[list[str], list[str]]]]:
    doc = GUIDE.read_text(encoding="utf-8")
    script = re.search(r"^```python\n(# expenses\.py\n.*?)^```\n", doc, re.M | re.S)
    console = re.search(r"^```console\n(\$ python expenses\.py\n.*?)^```\n", doc, re.M | re.S)
    assert script is not None and console is not None, "the guide's expenses.py and its transcript"
    commands: list[tuple[list[str], list[str]]] = []
    for line in console.group(1).splitlines():
        if line.startswith("$ "):
            commands.append((line[2:].split(), []))
        else:
            commands[-1][1].append(line)
    return script.group(1), commands


def _pattern(expected: str) -> re.Pattern[str]:
    """``expected`` as a pattern: ``...`` is any text, and an abbreviated id (``0ec26a99-...``) any id."""
    expected = re.sub(r"\b[0-9a-f]{8}-\.\.\.", "...", expected)
    return re.compile(
        "".join(".+?" if part == "..." else re.escape(part) for part in re.split(r"(\.\.\.)", expected))
    )


def test_the_expense_transcript_happens_as_shown(tmp_path: Path) -> None:
    script, commands = _blocks()
    (tmp_path / "expenses.py").write_text(script, encoding="utf-8")
    assert [command[:2] for command, _ in commands] == [["python", "expenses.py"]] * 2
    workflow_id = ""
    for number, (command, expected) in enumerate(commands):
        arguments = [workflow_id] if len(command) > 2 else []
        done = subprocess.run(
            [sys.executable, "expenses.py", *arguments],
            cwd=tmp_path,
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert done.returncode == 0, done.stderr
        lines = done.stdout.splitlines()
        assert len(lines) == len(expected), f"run {number + 1} printed {lines}, the guide shows {expected}"
        for line, shown in zip(lines, expected, strict=True):
            assert _pattern(shown).fullmatch(line), (
                f"run {number + 1} printed {line!r}, the guide shows {shown!r}"
            )
        if number == 0:
            found = ID.search(lines[0])
            assert found is not None
            workflow_id = found.group(0)
