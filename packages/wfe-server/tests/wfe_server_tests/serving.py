"""A real ``wfe serve --http`` process for the tests: its folder of workflows, its store, its token."""

from __future__ import annotations

import hashlib
import hmac
import os
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from wfe_core.testing.services import service_url

WFE = str(Path(sys.executable).parent / "wfe")
TOKEN = "test-token-" + uuid.uuid4().hex
GITHUB_SECRET = "github-secret"
GITEA_SECRET = "gitea-secret"

FLOWS = {
    "slow.yaml": """
workflow:
  id: slow
  version: 1
  name: Slow counter
  steps:
    - name: count
      type: shell
      config:
        run: |
          for i in $(seq 1 400); do echo "tick $i"; sleep 0.2; done
""",
    "nested.yaml": """
workflow:
  id: nested
  version: 1
  name: Nested checks
  steps:
    - name: prepare
      type: shell
      config:
        run: echo ready
    - name: checks
      parallel:
        - name: lint
          type: shell
          config:
            run: echo "lint ok"
        - name: watch
          type: shell
          config:
            run: |
              for i in $(seq 1 400); do echo "tick $i"; sleep 0.2; done
""",
    "quick.yaml": """
workflow:
  id: quick
  version: 1
  name: Quick hello
  description: says hello
  on:
    push: {branches: [main]}
    tag: {tags: ["v*"]}
  steps:
    - name: hello
      type: shell
      config:
        run: |
          echo "hello from quick"
          echo "##wfe[output greeting=hi]"
""",
    "retrying.yaml": """
workflow:
  id: retrying
  version: 1
  error_behavior:
    type: retry
    interval: 60s
    max_retries: 5
  steps:
    - name: flaky
      type: shell
      config:
        run: exit 1
""",
    "fails.yaml": """
workflow:
  id: fails
  version: 1
  error_behavior:
    type: terminate
  steps:
    - name: boom
      type: shell
      config:
        run: |
          echo "about to fail" >&2
          exit 3
""",
}


@dataclass
class Served:
    """A running server and what the tests need to talk to it."""

    base: str
    process: subprocess.Popen[str]
    output: list[str] = field(default_factory=list)

    def client(self, token: str | None = TOKEN) -> httpx.Client:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        return httpx.Client(base_url=self.base, headers=headers, timeout=30)

    def wait_status(self, client: httpx.Client, workflow_id: str, *statuses: str, timeout: float = 60) -> Any:
        deadline = time.monotonic() + timeout
        while True:
            body = client.get(f"/api/v1/workflows/{workflow_id}").json()
            if body["status"] in statuses:
                return body
            assert time.monotonic() < deadline, f"{workflow_id} still {body['status']}, wanted {statuses}"
            time.sleep(0.1)


def signature(secret: str, body: bytes) -> str:
    return hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def store_url(kind: str, tmp: Path) -> tuple[str, str | None]:
    """The store URL, and the PostgreSQL schema to drop afterwards."""
    if kind == "sqlite":
        return f"sqlite:///{tmp}/server.db", None
    url = service_url("WFE_TEST_POSTGRES_URL")
    schema = f"wfe_srv_{uuid.uuid4().hex[:10]}"
    joiner = "&" if "?" in url else "?"
    return f"{url}{joiner}schema={schema}", schema


def drop_schema(schema: str) -> None:
    import psycopg

    with psycopg.connect(service_url("WFE_TEST_POSTGRES_URL"), autocommit=True) as conn:
        conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')


def serve(tmp: Path, store: str, *extra: str, env: dict[str, str] | None = None) -> Iterator[Served]:
    """Start ``wfe serve --http 127.0.0.1:0`` on ``store``; yield it once it listens; stop it with SIGTERM."""
    folder = tmp / "flows"
    folder.mkdir(exist_ok=True)
    for name, text in FLOWS.items():
        (folder / name).write_text(text)
    environment = {
        **os.environ,
        "WFE_SERVER_TOKENS": TOKEN,
        "WFE_GITHUB_SECRET": GITHUB_SECRET,
        "WFE_GITEA_SECRET": GITEA_SECRET,
        **(env or {}),
    }
    process = subprocess.Popen(
        [WFE, "serve", "--dir", str(folder), "--db", store, "--http", "127.0.0.1:0", *extra],
        cwd=tmp,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env=environment,
    )
    served = Served("", process)
    listening = threading.Event()

    def read() -> None:
        assert process.stdout is not None
        for line in process.stdout:
            served.output.append(line)
            if line.startswith("http: listening on "):
                served.base = line.split("listening on ", 1)[1].strip()
                listening.set()
        listening.set()

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    try:
        assert listening.wait(60), "".join(served.output)
        assert served.base, "".join(served.output)
        yield served
    finally:
        process.terminate()
        try:
            process.wait(30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(10)
        reader.join(10)
        if process.stdout is not None:
            process.stdout.close()
