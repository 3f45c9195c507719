"""``wfe terminate``, ``wfe suspend``, ``wfe show --json`` and ``wfe logs``."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

from click.testing import CliRunner

from wfe.cli import cli

WFE = [sys.executable, "-c", "from wfe.cli import main; main()"]

HOOKED = """
workflow:
  id: hooked
  version: 1
  steps:
    - name: flaky
      error_behavior: {type: retry, interval: 10ms, max_retries: 2}
      config:
        run: |
          echo x >> tries
          if [ "$(wc -l < tries)" -lt 2 ]; then echo "first try fails" >&2; exit 1; fi
          echo "##wfe[output version=1.2.3]"
    - name: migrate
      config:
        run: |
          echo migrating
          echo "bad thing" >&2
          echo "worse thing" >&2
          exit 2
      on_failure:
        name: rollback
        config: {run: echo rolled back}
      ensure:
        name: notify
        config: {run: echo notified}
"""

WAITING = """
workflow:
  id: waiting
  version: 1
  steps:
    - name: wait
      config:
        run: |
          touch started
          i=0; while [ ! -e go ] && [ $i -lt 300 ]; do sleep 0.1; i=$((i+1)); done
          echo waited
    - name: after
      config: {run: echo after >> after.log}
"""


def test_show_json_has_steps_with_durations_outputs_and_errors(runner: CliRunner, tmp_path: Path) -> None:
    (tmp_path / "hooked.yaml").write_text(HOOKED)
    ran = runner.invoke(cli, ["run", "hooked.yaml"])
    assert ran.exit_code == 1, ran.output
    shown = runner.invoke(cli, ["show", "hooked-1", "--json"])
    assert shown.exit_code == 0, shown.output
    run = json.loads(shown.output)
    assert run["status"] == "Terminated"
    assert isinstance(run["duration_ms"], int)
    assert run["pipeline"]["path"] == str(tmp_path / "hooked.yaml")
    steps = {step["name"]: step for step in run["steps"]}
    assert [(s["name"], s["depth"]) for s in run["steps"]] == [
        ("flaky", 0),
        ("migrate", 0),
        ("rollback", 1),
        ("notify", 1),
    ]
    assert steps["flaky"]["status"] == "Complete" and steps["flaky"]["attempts"] == 2
    assert steps["migrate"]["status"] == "Failed"
    assert all(isinstance(step["duration_ms"], int) for step in run["steps"])
    assert run["outputs"] == {"version": "1.2.3"}
    errors = [(e["step"], e["attempt"], e["retried"]) for e in run["errors"]]
    assert errors == [("flaky", 1, True), ("migrate", 1, False)]
    assert "bad thing" in run["errors"][1]["message"]


def test_logs_prints_a_finished_steps_recorded_output(runner: CliRunner, tmp_path: Path) -> None:
    (tmp_path / "hooked.yaml").write_text(HOOKED)
    runner.invoke(cli, ["run", "hooked.yaml"])
    rollback = runner.invoke(cli, ["logs", "hooked-1", "rollback"])
    assert rollback.exit_code == 0, rollback.output
    assert rollback.output == "rolled back\n"
    migrate = runner.invoke(cli, ["logs", "hooked-1", "migrate"])
    assert migrate.exit_code == 0, migrate.output
    assert "migrating" in migrate.output and "worse thing" in migrate.output
    every = runner.invoke(cli, ["logs", "hooked-1"])
    assert "== rollback\nrolled back\n" in every.output
    unknown = runner.invoke(cli, ["logs", "hooked-1", "nope"])
    assert unknown.exit_code == 2
    assert "nope is not a step of hooked-1" in unknown.output


def _env() -> dict[str, str]:
    env = dict(os.environ)
    for name in ("COLUMNS", "GITHUB_ACTIONS", "GITLAB_CI"):
        env.pop(name, None)
    return env


def _start(tmp_path: Path, pipeline: str = WAITING) -> subprocess.Popen[str]:
    (tmp_path / "waiting.yaml").write_text(pipeline)
    process = subprocess.Popen(
        [*WFE, "run", "waiting.yaml"],
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env=_env(),
    )
    deadline = time.monotonic() + 30
    while not (tmp_path / "started").exists():
        if time.monotonic() > deadline or process.poll() is not None:
            process.kill()
            raise AssertionError(process.communicate()[0])
        time.sleep(0.05)
    return process


def wfe(cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*WFE, *args], cwd=cwd, capture_output=True, text=True, timeout=60, env=_env(), check=False
    )


def test_terminate_stops_a_run_another_process_is_running(tmp_path: Path) -> None:
    process = _start(tmp_path)
    terminated = wfe(tmp_path, "terminate", "waiting-1")
    assert terminated.returncode == 0, terminated.stdout + terminated.stderr
    assert "waiting-1 is Terminated" in terminated.stdout
    out, _ = process.communicate(timeout=30)
    assert process.returncode == 1, out
    assert "waiting-1 ended Terminated" in out
    assert not (tmp_path / "after.log").exists()
    again = wfe(tmp_path, "terminate", "waiting-1")
    assert again.returncode == 1
    assert "already Terminated" in again.stdout


RETRYING = """
workflow:
  id: waiting
  version: 1
  steps:
    - name: wait
      error_behavior: {type: retry, interval: 200ms, max_retries: 1000}
      config:
        run: |
          touch started
          test -e go
    - name: after
      config: {run: echo after >> after.log}
"""


def test_suspend_stops_a_run_another_process_is_running_and_resume_goes_on(tmp_path: Path) -> None:
    process = _start(tmp_path, RETRYING)
    suspended = wfe(tmp_path, "suspend", "waiting-1")
    assert suspended.returncode == 0, suspended.stdout + suspended.stderr
    assert "waiting-1 is Suspended" in suspended.stdout
    out, _ = process.communicate(timeout=30)
    assert process.returncode == 1, out
    assert "resume with: wfe resume waiting-1" in out
    assert not (tmp_path / "after.log").exists()

    (tmp_path / "go").touch()
    resumed = wfe(tmp_path, "resume", "waiting-1")
    assert resumed.returncode == 0, resumed.stdout + resumed.stderr
    assert (tmp_path / "after.log").read_text() == "after\n"
