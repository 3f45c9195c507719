"""The console script pauses the garbage collector while a command starts, collects again (with what start-up
made frozen) once a command runs on the event loop, and freezes everything at exit; ``cli`` called in-process
leaves the caller's collector alone."""

from __future__ import annotations

import gc
import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner

from wfe.cli import cli, collector
from wfe.cli.common import run_async

EXAMPLE = Path(__file__).resolve().parents[4] / "examples" / "pipelines" / "ci.yaml"


@pytest.fixture(autouse=True)
def collector_restored() -> Iterator[None]:
    was_enabled = gc.isenabled()
    yield
    collector._paused = False
    gc.unfreeze()
    if was_enabled:
        gc.enable()
    else:
        gc.disable()


def test_pause_then_resume_collects_again_with_start_up_frozen() -> None:
    gc.enable()
    collector.pause()
    assert not gc.isenabled()
    start_up = ["made while the command started"]
    collector.resume()
    assert gc.isenabled()
    assert gc.get_freeze_count() > 0
    assert not any(o is start_up for o in gc.get_objects())  # out of every collection from now on
    collector.resume()  # twice: nothing more happens
    assert gc.isenabled()


def test_resume_without_pause_leaves_the_collector_as_it_was() -> None:
    gc.disable()
    collector.resume()
    assert not gc.isenabled()
    assert gc.get_freeze_count() == 0
    gc.enable()
    collector.resume()
    assert gc.isenabled()
    assert gc.get_freeze_count() == 0


def test_pause_leaves_a_disabled_collector_disabled_for_good() -> None:
    gc.disable()
    collector.pause()
    collector.resume()
    assert not gc.isenabled()  # the caller had turned it off: wfe does not turn it on


def test_a_command_on_the_event_loop_runs_with_the_collector_on() -> None:
    gc.enable()
    collector.pause()

    async def enabled() -> bool:
        return gc.isenabled()

    assert run_async(enabled) is True


def test_cli_in_process_leaves_the_collector_alone(tmp_path: Path) -> None:
    gc.enable()
    result = CliRunner().invoke(cli, ["list", "--db", f"sqlite:///{tmp_path}/wfe.db"])
    assert result.exit_code == 0, result.output
    assert gc.isenabled()
    assert gc.get_freeze_count() == 0


PROBE = """
import gc, json, sys
sys.argv = ['wfe', *sys.argv[1:]]
from wfe.cli import main
try:
    main()
except SystemExit as exc:
    code = exc.code
print(json.dumps({"code": code, "enabled": gc.isenabled(), "frozen": gc.get_freeze_count()}), file=sys.stderr)
"""


def probe(*args: str) -> dict[str, object]:
    done = subprocess.run(
        [sys.executable, "-c", PROBE, *args],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=EXAMPLE.parents[2],
    )
    result: dict[str, object] = json.loads(done.stderr.strip().splitlines()[-1])
    return result


def test_the_console_script_freezes_everything_at_exit() -> None:
    found = probe("validate", str(EXAMPLE), "--var", "project=demo")
    assert found["code"] == 0
    assert not found["enabled"]  # a short command never collected
    assert isinstance(found["frozen"], int) and found["frozen"] > 10_000


def test_the_console_script_collects_while_a_command_runs_on_the_event_loop(tmp_path: Path) -> None:
    found = probe("list", "--db", f"sqlite:///{tmp_path}/wfe.db")
    assert found["code"] == 0
    assert found["enabled"]
    assert isinstance(found["frozen"], int) and found["frozen"] > 10_000
