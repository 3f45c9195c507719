"""``wfe run`` and ``wfe resume`` as real processes: parallel jobs, streamed output, exit codes, crash recovery."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

WFE = [sys.executable, "-c", "from wfe.cli import main; main()"]

PARALLEL = """
workflow:
  id: parallel-jobs
  version: 1
  error_behavior:
    type: terminate
  steps:
    - name: jobs
      parallel:
        - name: left
          type: shell
          config:
            run: |
              echo "start left $(date +%s.%N)" >> times.log
              sleep 1
              echo "left says hi"
              echo "end left $(date +%s.%N)" >> times.log
        - name: right
          type: shell
          config:
            run: |
              echo "start right $(date +%s.%N)" >> times.log
              sleep 1
              echo "right says hi"
              echo "##wfe[output right_result=7]"
              echo "end right $(date +%s.%N)" >> times.log
    - name: after
      type: shell
      config:
        run: echo "after sees $RIGHT_RESULT"
"""

FAILING = """
workflow:
  id: failing
  version: 1
  error_behavior:
    type: terminate
  steps:
    - name: fine
      type: shell
      config:
        run: echo fine
    - name: broken
      type: shell
      config:
        run: |
          echo "about to fail" >&2
          exit 3
    - name: never
      type: shell
      config:
        run: echo never
"""

# `slow` records its shell's pid so the test can kill what a SIGKILLed `wfe run` leaves behind (shell steps run
# in their own process group), and sleeps only on its first run so the resumed run finishes quickly.
RESUMABLE = """
workflow:
  id: resumable
  version: 1
  error_behavior:
    type: terminate
  steps:
    - name: first
      type: shell
      config:
        run: echo first >> steps.log
    - name: slow
      type: shell
      config:
        run: |
          echo $$ >> slow.pids
          echo slow >> steps.log
          if [ ! -e slept ]; then touch slept; sleep 60; fi
          echo "slow finished"
    - name: last
      type: shell
      config:
        run: echo last >> steps.log
"""


def _env() -> dict[str, str]:
    env = dict(os.environ)
    env.pop("COLUMNS", None)
    return env


def wfe(cwd: Path, *args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*WFE, *args], cwd=cwd, capture_output=True, text=True, timeout=timeout, env=_env(), check=False
    )


@pytest.fixture
def workdir(tmp_path: Path) -> Iterator[Path]:
    yield tmp_path
    # Kill shells a killed `wfe run` left running.
    pids = tmp_path / "slow.pids"
    if pids.exists():
        for line in pids.read_text().split():
            try:
                os.killpg(int(line), signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                pass


def _wait_for(path: Path, text: str, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if path.exists() and text in path.read_text():
            return
        time.sleep(0.05)
    raise AssertionError(
        f"{text!r} never appeared in {path}: {path.read_text() if path.exists() else '(none)'}"
    )


def _lines(path: Path) -> list[str]:
    return path.read_text().split()


def test_parallel_jobs_run_concurrently_and_stream_their_output(workdir: Path) -> None:
    (workdir / "ci.yaml").write_text(PARALLEL)
    result = wfe(workdir, "run", "ci.yaml")
    assert result.returncode == 0, result.stdout + result.stderr
    out = result.stdout
    assert "[left] left says hi" in out
    assert "[right] right says hi" in out
    assert "[after] after sees 7" in out
    assert "parallel-jobs-1 completed" in out
    times: dict[str, float] = {}
    for line in (workdir / "times.log").read_text().splitlines():
        kind, name, at = line.split()
        times[f"{kind} {name}"] = float(at)
    # Each job sleeps 1s: run one after the other, one would start after the other ended.
    assert max(times["start left"], times["start right"]) < min(times["end left"], times["end right"])
    assert abs(times["start left"] - times["start right"]) < 0.8
    # The store and the run record are under .wfe/ in the current directory.
    assert (workdir / ".wfe" / "wfe.db").exists()
    assert len(list((workdir / ".wfe" / "runs").glob("*.json"))) == 1


def test_a_failing_step_ends_the_run_with_a_non_zero_status(workdir: Path) -> None:
    (workdir / "failing.yaml").write_text(FAILING)
    result = wfe(workdir, "run", "failing.yaml")
    assert result.returncode == 1, result.stdout + result.stderr
    assert "[fine] fine" in result.stdout
    assert "[broken] stderr| about to fail" in result.stdout
    assert "never" not in result.stdout.replace("failing", "")
    assert "failing-1 ended Terminated" in result.stdout
    assert re.search(r"error: .*exit", result.stdout, re.IGNORECASE), result.stdout


def test_an_invalid_pipeline_exits_2_with_its_location(workdir: Path) -> None:
    (workdir / "bad.yaml").write_text(
        "workflow:\n  id: bad\n  version: 1\n  steps:\n    - name: x\n      type: shell\n"
    )
    result = wfe(workdir, "run", "bad.yaml")
    assert result.returncode == 2
    assert re.search(r"bad\.yaml:\d+:\d+: ", result.stderr), result.stderr
    assert not (workdir / ".wfe").exists()


def _start_and_wait_for_slow(workdir: Path) -> subprocess.Popen[str]:
    (workdir / "pipeline.yaml").write_text(RESUMABLE)
    output = (workdir / "run.out").open("w")
    process = subprocess.Popen(
        [*WFE, "run", "pipeline.yaml"],
        cwd=workdir,
        stdout=output,
        stderr=subprocess.STDOUT,
        text=True,
        env=_env(),
    )
    output.close()
    try:
        _wait_for(workdir / "steps.log", "slow")
    except AssertionError:
        process.kill()
        process.wait()
        raise
    return process


@pytest.mark.slow
def test_killed_run_resumes_without_rerunning_completed_steps(workdir: Path) -> None:
    process = _start_and_wait_for_slow(workdir)
    process.send_signal(signal.SIGKILL)
    assert process.wait(timeout=10) == -signal.SIGKILL
    started = (workdir / "run.out").read_text()
    assert "started resumable-1" in started

    result = wfe(workdir, "resume", "resumable-1", timeout=90)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "[slow] slow finished" in result.stdout
    assert "resumable-1 completed" in result.stdout
    # `first` completed before the kill and ran once; `slow` was cut short and ran again; `last` ran once.
    assert _lines(workdir / "steps.log") == ["first", "slow", "slow", "last"]

    shown = wfe(workdir, "show", "resumable-1")
    assert shown.returncode == 0
    assert "Complete" in shown.stdout


@pytest.mark.slow
def test_interrupted_run_exits_130_and_resumes_by_id(workdir: Path) -> None:
    process = _start_and_wait_for_slow(workdir)
    process.send_signal(signal.SIGINT)
    assert process.wait(timeout=30) == 130
    out = (workdir / "run.out").read_text()
    assert "resume with: wfe resume resumable-1" in out
    record = next((workdir / ".wfe" / "runs").glob("*.json"))

    result = wfe(workdir, "resume", record.stem, timeout=90)
    assert result.returncode == 0, result.stdout + result.stderr
    assert _lines(workdir / "steps.log") == ["first", "slow", "slow", "last"]

    again = wfe(workdir, "resume", "resumable-1")
    assert again.returncode == 0
    assert "already ended: Complete" in again.stdout


SUSPENDING = """
workflow:
  id: gated
  version: 1
  steps:
    - name: gate
      type: shell
      error_behavior:
        type: suspend
      config:
        run: |
          echo gate >> steps.log
          test -e approved || { echo "not approved yet" >&2; exit 1; }
    - name: ship
      type: shell
      config:
        run: echo ship >> steps.log
"""


def test_a_suspended_run_says_how_to_resume_and_resumes(workdir: Path) -> None:
    (workdir / "gated.yaml").write_text(SUSPENDING)
    result = wfe(workdir, "run", "gated.yaml")
    assert result.returncode == 1, result.stdout + result.stderr
    assert "gated-1 ended Suspended" in result.stdout
    assert "resume with: wfe resume gated-1" in result.stdout

    (workdir / "approved").touch()
    resumed = wfe(workdir, "resume", "gated-1")
    assert resumed.returncode == 0, resumed.stdout + resumed.stderr
    assert "resuming gated-1 (Suspended)" in resumed.stdout
    assert _lines(workdir / "steps.log") == ["gate", "gate", "ship"]


HOOKED = """
workflow:
  id: hooked
  version: 1
  error_behavior: {type: terminate}
  steps:
    - name: migrate
      config:
        run: |
          echo migrating
          exit 2
      on_failure:
        name: rollback
        config: {run: echo rolled back}
      ensure:
        name: notify
        config: {run: echo notified}
    - name: deploy
      config: {run: echo deployed}
"""


def test_a_step_failing_for_good_runs_its_hooks_then_fails_the_run(workdir: Path) -> None:
    (workdir / "hooked.yaml").write_text(HOOKED)
    result = wfe(workdir, "run", "hooked.yaml")
    assert result.returncode == 1, result.stdout + result.stderr
    out = result.stdout
    assert out.index("[rollback] rolled back") < out.index("[notify] notified")
    assert "[deploy] deployed" not in out
    assert "hooked-1 ended Terminated" in out


def test_continue_on_error_lets_the_run_go_on(workdir: Path) -> None:
    (workdir / "hooked.yaml").write_text(
        HOOKED.replace("      on_failure:", "      continue_on_error: true\n      on_failure:")
    )
    result = wfe(workdir, "run", "hooked.yaml")
    assert result.returncode == 0, result.stdout + result.stderr
    out = result.stdout
    assert (
        out.index("[rollback] rolled back") < out.index("[notify] notified") < out.index("[deploy] deployed")
    )
    assert "hooked-1 completed" in out


def test_without_error_behavior_the_first_failure_fails_the_run_with_no_retry(workdir: Path) -> None:
    (workdir / "plain.yaml").write_text(
        "workflow:\n  id: plain\n  version: 1\n  steps:\n"
        "    - name: broken\n      config: {run: 'echo try >> tries.log; exit 1'}\n"
        "    - name: never\n      config: {run: echo never}\n"
    )
    result = wfe(workdir, "run", "plain.yaml")
    assert result.returncode == 1, result.stdout + result.stderr
    assert "plain-1 ended Terminated" in result.stdout
    assert "retrying" not in result.stdout
    assert _lines(workdir / "tries.log") == ["try"]
