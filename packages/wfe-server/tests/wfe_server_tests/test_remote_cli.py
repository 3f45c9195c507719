"""``wfe --server URL``: the remote verbs against a real server."""

from __future__ import annotations

import json
import os
import subprocess

import pytest

pytest.importorskip("httpx")  # a test tool, not a dependency of the server

from .serving import TOKEN, WFE, Served  # noqa: E402

pytestmark = pytest.mark.slow


def _wfe(
    served: Served, *args: str, token: str | None = TOKEN, timeout: float = 90
) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "WFE_SERVER": served.base}
    env.pop("WFE_TOKEN", None)
    if token is not None:
        env["WFE_TOKEN"] = token
    return subprocess.run([WFE, *args], capture_output=True, text=True, timeout=timeout, env=env)


def test_run_follows_to_the_end_then_list_show_logs(served: Served):
    ran = _wfe(served, "run", "quick", '{"who": "cli"}', "--reference", "remote-1")
    assert ran.returncode == 0, ran.stdout + ran.stderr
    assert "hello from quick" in ran.stdout and ran.stdout.rstrip().endswith(": Complete")
    name = ran.stdout.split()[1]
    listed = _wfe(served, "list", "--definition", "quick")
    assert name in listed.stdout
    shown = _wfe(served, "show", name, "--json")
    run = json.loads(shown.stdout)
    assert run["data"]["who"] == "cli" and run["reference"] == "remote-1"
    logs = _wfe(served, "logs", name, "hello")
    assert "hello from quick" in logs.stdout


def test_controls_publish_and_watch(served: Served):
    started = _wfe(served, "run", "slow", "--detach")
    assert started.returncode == 0, started.stderr
    workflow_id = started.stdout.split("(")[1].rstrip(")\n")
    with subprocess.Popen(
        [WFE, "--server", served.base, "--token", TOKEN, "watch", workflow_id],
        stdout=subprocess.PIPE,
        text=True,
    ) as watcher:
        assert watcher.stdout is not None
        first = watcher.stdout.readline()
        assert "tick" in first or "Step" in first or "Workflow" in first, first
        terminated = _wfe(served, "terminate", workflow_id)
        assert terminated.returncode == 0 and "accepted" in terminated.stdout
        rest = watcher.communicate(timeout=60)[0]
        assert "WorkflowTerminated" in rest and watcher.returncode == 0
    again = _wfe(served, "terminate", workflow_id)
    assert again.returncode == 2 and "409" in again.stderr
    published = _wfe(served, "publish", "approved", "k-1", '{"ok": true}')
    assert published.returncode == 0 and "published approved k-1" in published.stdout


def test_errors_name_the_problem(served: Served):
    unknown = _wfe(served, "show", "no-such-run")
    assert unknown.returncode == 2 and "404" in unknown.stderr
    refused = _wfe(served, "list", token="wrong")
    assert refused.returncode == 2 and "401" in refused.stderr and "wrong" not in refused.stderr
