"""A run is bound to the pipeline it started with: its files and its variables, kept in the store with it."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

WFE = [sys.executable, "-c", "from wfe.cli import main; main()"]

DEPLOY = """
workflow:
  id: deploy
  version: 1
  steps:
    - name: build
      config:
        run: |
          echo "building for ((env))"
          if [ "((env))" = staging ] && [ ! -e go ]; then touch waiting; sleep 30; fi
    - name: ship
      config:
        run: echo "DEPLOYING TO ((env))"
"""


def _env() -> dict[str, str]:
    env = dict(os.environ)
    env.pop("COLUMNS", None)
    env.pop("GITHUB_ACTIONS", None)
    env.pop("GITLAB_CI", None)
    return env


def wfe(cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*WFE, *args], cwd=cwd, capture_output=True, text=True, timeout=60, env=_env(), check=False
    )


def _interrupted_staging_run(tmp_path: Path) -> str:
    (tmp_path / "deploy.yaml").write_text(DEPLOY)
    process = subprocess.Popen(
        [*WFE, "run", "deploy.yaml", "--var", "env=staging"],
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env=_env(),
    )
    deadline = time.monotonic() + 30
    while not (tmp_path / "waiting").exists():
        assert time.monotonic() < deadline, "the staging build never started"
        time.sleep(0.05)
    process.send_signal(signal.SIGINT)
    out, _ = process.communicate(timeout=30)
    assert process.returncode == 130, out
    return out


def test_a_run_with_other_variables_leaves_an_interrupted_run_alone_and_lists_it(tmp_path: Path) -> None:
    _interrupted_staging_run(tmp_path)

    production = wfe(tmp_path, "run", "deploy.yaml", "--var", "env=production")
    assert production.returncode == 0, production.stdout + production.stderr
    assert (
        "deploy-1 is an unfinished run of this pipeline (Runnable --var env=staging), left as it is: "
        "wfe resume deploy-1" in production.stdout
    )
    assert "DEPLOYING TO production" in production.stdout

    shown = wfe(tmp_path, "show", "deploy-1", "--json")
    assert shown.returncode == 0, shown.stderr
    run = json.loads(shown.stdout)
    assert run["status"] == "Runnable"
    assert run["pipeline"]["vars"] == {"env": "staging"}
    assert run["errors"] == []  # no other host wrote into it
    assert "production" not in shown.stdout


def test_resume_runs_the_recorded_pipeline_and_says_the_file_changed(tmp_path: Path) -> None:
    _interrupted_staging_run(tmp_path)
    (tmp_path / "deploy.yaml").write_text(DEPLOY.replace("DEPLOYING TO", "NEW TEXT FOR"))
    (tmp_path / "go").touch()

    resumed = wfe(tmp_path, "resume", "deploy-1")
    assert resumed.returncode == 0, resumed.stdout + resumed.stderr
    assert "resuming deploy-1 (Runnable) from" in resumed.stdout
    assert "--var env=staging" in resumed.stdout
    assert "deploy.yaml changed since deploy-1 started: it runs with the pipeline it started with" in (
        resumed.stdout
    )
    assert "DEPLOYING TO staging" in resumed.stdout
    assert "NEW TEXT" not in resumed.stdout

    # From another directory, with the store named: the pipeline comes from the store, not a local record.
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    again = wfe(elsewhere, "resume", "deploy-1", "--db", f"sqlite:///{tmp_path}/.wfe/wfe.db")
    assert again.returncode == 0, again.stdout + again.stderr
    assert "deploy-1 already ended: Complete" in again.stdout
