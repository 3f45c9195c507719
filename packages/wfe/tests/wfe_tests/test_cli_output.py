"""What ``wfe run`` shows, plain (a pipe) and live (a terminal: a pty): errors by step and attempt, retried errors
apart, hooks under their step, no internal names, skipped steps, hidden directives, marked stderr, outputs and
the total duration at the end, Ctrl-C, and CI folding."""

from __future__ import annotations

import fcntl
import io
import os
import pty
import re
import select
import signal
import struct
import subprocess
import sys
import termios
import time
from pathlib import Path

import pytest
from rich.text import Text

from wfe.cli.ci import GITHUB, GITLAB, Folder, ci_from_env

WFE = [sys.executable, "-c", "from wfe.cli import main; main()"]
ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]|\x1b\][^\x07]*\x07|\r")

PIPELINE = """
workflow:
  id: show
  version: 1
  steps:
    - name: flaky
      error_behavior: {type: retry, interval: 10ms, max_retries: 2}
      config:
        run: |
          echo x >> tries
          if [ "$(wc -l < tries)" -lt 2 ]; then echo "first try fails" >&2; exit 1; fi
          echo "##wfe[output version=1.2.3]"
    - name: maybe
      when: {field: .outputs.version, equals: "9"}
      config: {run: echo never}
    - name: notify-prod
      config: {run: echo notifying}
      on_success:
        name: announce
        config: {run: echo announced}
    - name: migrate
      continue_on_error: true
      config:
        run: |
          echo migrating
          echo "the first problem" >&2
          echo "the last problem" >&2
          exit 2
      on_failure:
        name: undo
        config: {run: echo undone}
      ensure:
        name: cleanup
        config: {run: echo cleaned}
    - name: deploy
      config: {run: echo deployed}
"""

SLOW = """
workflow:
  id: slow
  version: 1
  steps:
    - name: slow
      config: {run: "touch started; sleep 30"}
"""


def _env(**extra: str) -> dict[str, str]:
    env = dict(os.environ)
    for name in ("COLUMNS", "LINES", "GITHUB_ACTIONS", "GITLAB_CI", "NO_COLOR"):
        env.pop(name, None)
    env.update(extra)
    return env


def run_plain(cwd: Path, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*WFE, *args], cwd=cwd, capture_output=True, text=True, timeout=60, env=_env(**env), check=False
    )


class Terminal:
    """``wfe`` on a pseudo-terminal 160 columns wide, so it shows its live view."""

    def __init__(self, cwd: Path, *args: str) -> None:
        master, slave = pty.openpty()
        fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 50, 160, 0, 0))
        self.process = subprocess.Popen(
            [*WFE, *args], cwd=cwd, stdin=slave, stdout=slave, stderr=slave, env=_env(TERM="xterm-256color")
        )
        os.close(slave)
        self.master = master
        self.raw = b""

    def read_until_exit(self, timeout: float = 60) -> str:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            ready, _, _ = select.select([self.master], [], [], 0.1)
            if ready:
                try:
                    chunk = os.read(self.master, 65536)
                except OSError:  # the child closed the terminal
                    break
                if not chunk:
                    break
                self.raw += chunk
            elif self.process.poll() is not None:
                break
        self.process.wait(timeout=30)
        os.close(self.master)
        return ANSI.sub("", self.raw.decode("utf-8", "replace"))


def _check_the_end(out: str) -> None:
    # a retry that succeeded: its error is shown as retried, not as the run's
    assert re.search(r"retried: step 'flaky' \(attempt 1\): ShellCommandError.*\n\s+first try fails", out), (
        out
    )
    assert "error: step 'flaky'" not in out
    # every error names its step and attempt, with the last lines of stderr, indented
    assert re.search(
        r"error: step 'migrate' \(attempt 1\): ShellCommandError: Shell command exited with code 2\n"
        r"\s+the first problem\n\s+the last problem",
        out,
    ), out
    # the end shows the outputs and the total duration
    assert re.search(r"outputs:\n\s+version = 1\.2\.3", out), out
    assert re.search(r"show-1 completed in \d+(\.\d+)?s", out), out


def _check_the_tree(out: str) -> None:
    tree = out[out.rindex("show-1  show  Complete") :]
    # hooks are children of their step, with their own names; the compiler's steps never show
    assert re.search(r"\n✓ notify-prod +Complete.*\n  ✓ announce +Complete", tree), tree
    assert re.search(
        r"\n✗ migrate +failed, continued.*\n  ✓ undo +Complete.*\n  ✓ cleanup +Complete", tree
    ), tree
    assert re.search(r"\n- maybe +skipped", tree), tree
    for internal in (":hooks", ":body", ":failure", ":fail", ":continue", "compensation"):
        assert internal not in out, internal


def test_plain_output(tmp_path: Path) -> None:
    (tmp_path / "show.yaml").write_text(PIPELINE)
    result = run_plain(tmp_path, "run", "show.yaml")
    assert result.returncode == 0, result.stdout + result.stderr
    out = result.stdout
    _check_the_end(out)
    _check_the_tree(out)
    # a when-false step says skipped, never started or done
    assert "- maybe skipped (its when is false)" in out
    assert "maybe started" not in out and "maybe done" not in out
    # directives are hidden; stderr is marked
    assert "##wfe[" not in out
    assert "[migrate] stderr| the last problem" in out
    assert "[migrate] migrating" in out
    assert "↷ migrate failed; the run goes on (continue_on_error)" in out


def test_plain_output_verbose_shows_directives(tmp_path: Path) -> None:
    (tmp_path / "show.yaml").write_text(PIPELINE)
    result = run_plain(tmp_path, "run", "show.yaml", "--verbose")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "[flaky] ##wfe[output version=1.2.3]" in result.stdout


def test_live_view(tmp_path: Path) -> None:
    (tmp_path / "show.yaml").write_text(PIPELINE)
    terminal = Terminal(tmp_path, "run", "show.yaml")
    out = terminal.read_until_exit()
    assert terminal.process.returncode == 0, out
    _check_the_end(out)
    _check_the_tree(out)
    assert "##wfe[" not in out
    assert "[migrate] stderr| the last problem" in out
    assert "maybe started" not in out


def test_live_view_verbose_shows_directives(tmp_path: Path) -> None:
    (tmp_path / "show.yaml").write_text(PIPELINE)
    terminal = Terminal(tmp_path, "run", "show.yaml", "-v")
    out = terminal.read_until_exit()
    assert terminal.process.returncode == 0, out
    assert "[flaky] ##wfe[output version=1.2.3]" in out


def _wait_for(path: Path) -> None:
    deadline = time.monotonic() + 30
    while not path.exists():
        assert time.monotonic() < deadline, f"{path} never appeared"
        time.sleep(0.05)


def test_ctrl_c_says_stopping_and_exits_130_plain(tmp_path: Path) -> None:
    (tmp_path / "slow.yaml").write_text(SLOW)
    process = subprocess.Popen(
        [*WFE, "run", "slow.yaml"],
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env=_env(),
    )
    _wait_for(tmp_path / "started")
    process.send_signal(signal.SIGINT)
    out, _ = process.communicate(timeout=30)
    assert process.returncode == 130, out
    assert "stopping… (Ctrl-C again to force)" in out
    assert "interrupted: slow-1 is Runnable" in out


def test_ctrl_c_says_stopping_and_exits_130_live(tmp_path: Path) -> None:
    (tmp_path / "slow.yaml").write_text(SLOW)
    terminal = Terminal(tmp_path, "run", "slow.yaml")
    _wait_for(tmp_path / "started")
    terminal.process.send_signal(signal.SIGINT)
    out = terminal.read_until_exit()
    assert terminal.process.returncode == 130, out
    assert "stopping… (Ctrl-C again to force)" in out
    assert "resume with: wfe resume slow-1" in out


def test_a_terminated_run_shows_no_running_step(tmp_path: Path) -> None:
    (tmp_path / "failing.yaml").write_text(
        "workflow:\n  id: failing\n  version: 1\n  steps:\n"
        "    - name: migrate\n      config: {run: 'exit 1'}\n"
        "      on_failure: {name: rollback, config: {run: echo rolled back}}\n"
        "    - name: never\n      config: {run: echo never}\n"
    )
    plain = run_plain(tmp_path, "run", "failing.yaml")
    assert plain.returncode == 1, plain.stdout
    terminal = Terminal(tmp_path, "run", "failing.yaml")
    live = terminal.read_until_exit()
    assert terminal.process.returncode == 1, live
    for out, label in ((plain.stdout, "failing-1"), (live, "failing-2")):
        tree = out[out.rindex(f"{label}  failing  Terminated") :]
        assert re.search(r"\n✗ migrate +Failed.*\n  ✓ rollback +Complete", tree), tree
        assert "running" not in tree and "⟳" not in tree
        assert "never" not in tree


PARALLEL = """
workflow:
  id: par
  version: 1
  steps:
    - name: jobs
      parallel:
        - name: left
          config: {run: "echo l1; sleep 0.3; echo l2"}
        - name: right
          config: {run: "echo r1; sleep 0.1; echo r2 >&2"}
    - name: after
      config: {run: echo after}
"""


def _groups(out: str, begin: str, end: str) -> list[list[str]]:
    groups: list[list[str]] = []
    current: list[str] | None = None
    for line in out.split("\n"):
        if re.match(begin, line):
            assert current is None, f"nested group at {line!r}"
            current = [line]
        elif re.match(end, line):
            assert current is not None, f"group ended without starting at {line!r}"
            groups.append(current)
            current = None
        elif current is not None:
            current.append(line)
    assert current is None
    return groups


def test_github_actions_folds_each_steps_lines(tmp_path: Path) -> None:
    (tmp_path / "par.yaml").write_text(PARALLEL)
    result = run_plain(tmp_path, "run", "par.yaml", GITHUB_ACTIONS="true")
    assert result.returncode == 0, result.stdout
    groups = _groups(result.stdout, r"::group::", r"::endgroup::")
    by_title = {group[0].removeprefix("::group::"): group[1:] for group in groups}
    assert set(by_title) == {"left", "right", "after"}
    assert by_title["left"] == ["▶ left started", "[left] l1", "[left] l2"]
    assert by_title["right"] == ["▶ right started", "[right] r1", "[right] stderr| r2"]
    assert "✓ left done in" in result.stdout.split("::endgroup::")[1].splitlines()[1]


def test_gitlab_ci_folds_each_steps_lines_in_sections(tmp_path: Path) -> None:
    (tmp_path / "par.yaml").write_text(PARALLEL)
    result = subprocess.run(
        [*WFE, "run", "par.yaml"],
        cwd=tmp_path,
        capture_output=True,
        timeout=60,
        env=_env(GITLAB_CI="true"),
        check=False,
    )
    assert result.returncode == 0, result.stdout
    out = result.stdout.decode()
    assert re.search(r"\x1b\[0Ksection_start:\d+:wfe_\d+_left\[collapsed=true\]\r\x1b\[0Kleft\n", out), out
    groups = _groups(out, r"\x1b\[0Ksection_start:", r"\x1b\[0Ksection_end:")
    assert [g[1:] for g in groups if g[0].endswith("left")] == [["▶ left started", "[left] l1", "[left] l2"]]


def test_ci_is_told_by_the_environment() -> None:
    assert ci_from_env({"GITHUB_ACTIONS": "true"}) == GITHUB
    assert ci_from_env({"GITLAB_CI": "true"}) == GITLAB
    assert ci_from_env({}) is None


@pytest.mark.parametrize("kind", [GITHUB, GITLAB])
def test_a_step_running_while_another_group_is_open_waits_for_it(kind: str) -> None:
    out = io.StringIO()
    folder = Folder(kind, lambda text: out.write(text.plain + "\n"), lambda raw: out.write("<marker>\n"))
    folder.start("a", "a")
    folder.start("b", "b")
    folder.line("b", Text("b1"))
    folder.line("a", Text("a1"))
    folder.finish("b", Text("b done"))
    folder.finish("a", Text("a done"))
    assert out.getvalue().splitlines() == [
        "<marker>",
        "a1",
        "<marker>",
        "a done",
        "<marker>",
        "b1",
        "<marker>",
        "b done",
    ]


def test_a_step_that_retries_names_each_attempt(tmp_path: Path) -> None:
    (tmp_path / "broken.yaml").write_text(
        "workflow:\n  id: broken\n  version: 1\n  steps:\n"
        "    - name: broken\n      error_behavior: {type: retry, interval: 10ms, max_retries: 1}\n"
        "      config: {run: 'echo nope >&2; exit 1'}\n"
    )
    out = run_plain(tmp_path, "run", "broken.yaml").stdout
    assert re.search(r"↻ broken failed after \S+, retrying in 10ms \(attempt 2 of 2\): Shell command", out), (
        out
    )
    assert "▶ broken started (attempt 2 of 2)" in out
    assert re.search(r"✗ broken failed after \S+ \(attempt 2 of 2\): Shell command", out), out
    assert re.search(
        r"error: step 'broken' \(attempt 1\): .*\n\s+nope\nerror: step 'broken' \(attempt 2\)", out
    ), out
    assert "broken-1 ended Terminated after" in out
