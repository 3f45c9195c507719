"""``wfe fork ID --from STEP``: a new run of the pipeline the run started with, from STEP on."""

from __future__ import annotations

import json
from pathlib import Path

from click.testing import CliRunner

from wfe.cli import cli

FOUR = """
workflow:
  id: four
  version: 1
  steps:
    - name: one
      config: {run: echo one >> runs.log}
    - name: two
      config: {run: echo two >> runs.log}
    - name: three
      config: {run: echo three >> runs.log}
      ensure:
        name: cleanup
        config: {run: echo cleanup >> runs.log}
    - name: four
      config: {run: echo four >> runs.log}
"""


def test_fork_runs_the_steps_from_the_chosen_one(runner: CliRunner, tmp_path: Path) -> None:
    (tmp_path / "four.yaml").write_text(FOUR)
    ran = runner.invoke(cli, ["run", "four.yaml"])
    assert ran.exit_code == 0, ran.output
    log = tmp_path / "runs.log"
    assert log.read_text().split() == ["one", "two", "three", "cleanup", "four"]
    log.unlink()

    forked = runner.invoke(cli, ["fork", "four-1", "--from", "two"])
    assert forked.exit_code == 0, forked.output
    assert "forked four-2 from four-1 at step two" in forked.output
    assert log.read_text().split() == ["two", "three", "cleanup", "four"]
    shown = runner.invoke(cli, ["show", "four-2", "--json"])
    assert shown.exit_code == 0, shown.output
    first = json.loads(runner.invoke(cli, ["show", "four-1", "--json"]).output)
    assert json.loads(shown.output)["forked_from"] == first["id"]
    assert first["forked_from"] is None
    assert f"forked from: {first['id']}" in runner.invoke(cli, ["show", "four-2"]).output
    log.unlink()

    # a step with hooks runs inside a group of its own, which starts with it
    again = runner.invoke(cli, ["fork", "four-1", "--from", "three"])
    assert again.exit_code == 0, again.output
    assert log.read_text().split() == ["three", "cleanup", "four"]
    inner = runner.invoke(cli, ["fork", "four-1", "--from", "cleanup"])
    assert inner.exit_code == 2
    assert "inside container 'three:hooks'" in inner.output


def test_fork_from_an_unknown_step_names_the_steps(runner: CliRunner, tmp_path: Path) -> None:
    (tmp_path / "four.yaml").write_text(FOUR)
    assert runner.invoke(cli, ["run", "four.yaml"]).exit_code == 0
    forked = runner.invoke(cli, ["fork", "four-1", "--from", "five"])
    assert forked.exit_code == 2
    assert "has no step 'five'" in forked.output
