"""Host processes running ``fleet_host.py``: starting them, reading their JSON lines, killing and stopping them."""

from __future__ import annotations

import asyncio
import json
import signal
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

HOST_SCRIPT = Path(__file__).with_name("fleet_host.py")


@dataclass
class HostProcess:
    """One host process; its stderr (the host's log) goes to ``log`` so a failing test can show it."""

    name: str
    process: asyncio.subprocess.Process
    log: Path
    started: list[str] = field(default_factory=list)
    killed: bool = False
    """Set by ``kill()``: the test crashed it on purpose."""

    async def read(self, timeout: float) -> dict[str, Any]:
        """The next JSON line the process wrote."""
        assert self.process.stdout is not None
        line = await asyncio.wait_for(self.process.stdout.readline(), timeout)
        if not line:
            await self.process.wait()
            raise AssertionError(
                f"host {self.name} exited with {self.process.returncode}:\n{self.log_tail()}"
            )
        value: dict[str, Any] = json.loads(line)
        return value

    async def wait_ready(self, timeout: float = 60.0) -> None:
        """Wait for the ``ready`` line, collecting the ids of the workflows the process started."""
        async with asyncio.timeout(timeout):
            while True:
                line = await self.read(timeout)
                if "started" in line:
                    self.started.append(line["started"])
                if "ready" in line:
                    return

    def kill(self) -> None:
        """SIGKILL: the host gets no chance to finish, release or ack anything."""
        if self.process.returncode is None:
            self.killed = True
            self.process.send_signal(signal.SIGKILL)

    async def stop(self, timeout: float = 20.0) -> bool:
        """SIGTERM (a clean ``host.stop()``), SIGKILL if it does not exit in time. True when the host stopped
        by itself and exited with 0."""
        if self.process.returncode is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                await asyncio.wait_for(self.process.wait(), timeout)
            except TimeoutError:
                self.process.send_signal(signal.SIGKILL)
                await self.process.wait()
                return False
        else:
            await self.process.wait()
        return self.process.returncode == 0

    def log_tail(self, lines: int = 40) -> str:
        text = self.log.read_text(errors="replace").splitlines()
        return "\n".join(text[-lines:])


async def launch(config: dict[str, Any], log_dir: Path) -> HostProcess:
    """Start ``fleet_host.py`` with ``config`` (see that module); does not wait for it to be ready."""
    log = log_dir / f"{config['name']}.log"
    with log.open("wb") as stderr:
        process = await asyncio.create_subprocess_exec(
            sys.executable,
            str(HOST_SCRIPT),
            json.dumps(config),
            stdout=asyncio.subprocess.PIPE,
            stderr=stderr,
        )
    return HostProcess(name=config["name"], process=process, log=log)
