"""A throw-away PostgreSQL server of the test's own, for tests that stop and restart the server or need
password authentication.

The shared test server is never restarted (other tests, and other people's, use it), and it trusts every
connection, so a wrong password cannot be provoked on it.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote

import pytest

MISSING_BINARIES = "the PostgreSQL server binaries (initdb, pg_ctl) are not installed"


def _has_server(path: Path) -> bool:
    return (path / "initdb").exists() and (path / "pg_ctl").exists()


def _version(path: Path) -> tuple[int, ...]:
    try:
        return tuple(int(part) for part in path.parent.name.split("."))
    except ValueError:
        return ()


def _bindir() -> Path | None:
    pg_config = shutil.which("pg_config")
    if pg_config is not None:
        out = subprocess.run([pg_config, "--bindir"], capture_output=True, text=True, check=False)
        path = Path(out.stdout.strip())
        if out.stdout.strip() and _has_server(path):
            return path
    # Debian and Ubuntu keep the server binaries out of PATH, one directory per major version
    installed = [path for path in Path("/usr/lib/postgresql").glob("*/bin") if _has_server(path)]
    return max(installed, key=_version) if installed else None


def skip_or_fail_without_binaries() -> None:
    """Skip the test when the server binaries are missing, or fail it under CI, where every test must run."""
    if _bindir() is not None:
        return
    if os.environ.get("CI", "").strip().lower() not in ("", "0", "false", "no"):
        pytest.fail(f"{MISSING_BINARIES}: under CI every service test must run", pytrace=False)
    pytest.skip(MISSING_BINARIES)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class PrivateServer:
    """A PostgreSQL cluster in ``datadir`` listening on 127.0.0.1:``port`` as user postgres.

    Every connection is trusted unless the cluster was created with a ``password``: then every connection,
    over TCP or the socket, must give it (scram-sha-256)."""

    bindir: Path
    datadir: Path
    port: int
    password: str | None = None

    @property
    def url(self) -> str:
        """The URL of the ``postgres`` database, with the password if the cluster has one."""
        return self.url_with(self.password)

    def url_with(self, password: str | None) -> str:
        """The URL of the ``postgres`` database with ``password`` (percent-encoded), or without one."""
        user = "postgres" if password is None else f"postgres:{quote(password, safe='')}"
        return f"postgresql://{user}@127.0.0.1:{self.port}/postgres"

    def _run(self, *args: str) -> None:
        command = [str(self.bindir / args[0]), *args[1:]]
        if os.geteuid() == 0:  # initdb and postgres refuse to run as root
            command = ["runuser", "-u", "postgres", "--", *command]
        done = subprocess.run(command, capture_output=True, text=True, timeout=120, check=False)
        if done.returncode != 0:
            raise RuntimeError(
                f"{' '.join(command)} failed ({done.returncode}): {done.stderr or done.stdout}"
            )

    @classmethod
    def create(cls, root: Path, *, password: str | None = None) -> PrivateServer | None:
        """Initialise a cluster under ``root``; None when the PostgreSQL server binaries are not installed.

        With a ``password``, the cluster accepts only connections that give it (scram-sha-256); without
        one, it trusts every connection. ``root`` must be reachable by the ``postgres`` user when the tests
        run as root (not under pytest's private ``tmp_path``)."""
        bindir = _bindir()
        if bindir is None:
            return None
        root.mkdir(parents=True, exist_ok=True)
        if os.geteuid() == 0:
            shutil.chown(root, "postgres", "postgres")
        server = cls(bindir, root / "data", _free_port(), password)
        auth = ["--auth=trust"]
        if password is not None:
            pwfile = root / "pwfile"
            pwfile.write_text(password + "\n")
            pwfile.chmod(0o600)
            if os.geteuid() == 0:
                shutil.chown(pwfile, "postgres", "postgres")
            auth = ["--auth=scram-sha-256", f"--pwfile={pwfile}"]
        try:
            server._run(
                "initdb", "-D", str(server.datadir), "-U", "postgres", *auth, "--no-sync", "--no-instructions"
            )
        finally:
            if password is not None:
                (root / "pwfile").unlink(missing_ok=True)
        return server

    def start(self) -> None:
        options = f"-p {self.port} -k {self.datadir} -c listen_addresses=127.0.0.1 -c fsync=off"
        self._run(
            "pg_ctl", "-D", str(self.datadir), "-o", options, "-w", "-l", str(self.datadir / "log"), "start"
        )

    def stop(self, mode: str = "fast") -> None:
        self._run("pg_ctl", "-D", str(self.datadir), "-m", mode, "-w", "stop")
