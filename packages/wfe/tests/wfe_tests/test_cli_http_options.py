"""``wfe serve --http``'s checks before anything starts: the missing extra, a bad address, no tokens beyond
loopback."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from wfe.cli import cli

FLOW = """
workflow:
  id: flow
  version: 1
  steps:
    - name: a
      type: shell
      config:
        run: echo hi
"""


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    (tmp_path / "flows").mkdir()
    (tmp_path / "flows" / "flow.yaml").write_text(FLOW)
    return tmp_path / "flows"


def _serve(folder: Path, *args: str) -> tuple[int, str]:
    store = f"sqlite:///{folder.parent}/wfe.db"
    result = CliRunner().invoke(
        cli, ["serve", "--dir", str(folder), "--db", store, *args], env={"WFE_SERVER_TOKENS": ""}
    )
    return result.exit_code, result.output


def test_without_the_server_package_the_message_names_the_extra(
    folder: Path, monkeypatch: pytest.MonkeyPatch
):
    monkeypatch.setitem(sys.modules, "wfe_server", None)  # as if wfe-server were not installed
    code, output = _serve(folder, "--http", "127.0.0.1:0")
    assert code == 2 and 'pip install "wfe[server]"' in output


def test_a_non_loopback_address_needs_tokens_or_insecure(folder: Path):
    pytest.importorskip("wfe_server")
    code, output = _serve(folder, "--http", "0.0.0.0:0")
    assert code == 2 and "--token-file" in output and "--insecure" in output


def test_a_malformed_address_is_refused(folder: Path):
    pytest.importorskip("wfe_server")
    code, output = _serve(folder, "--http", "8080")
    assert code == 2 and "HOST:PORT" in output
