"""Every process a command started, found through Linux's ``/proc``: the command's descendants, the members of
its process group, any process that holds its output pipes (which finds a ``setsid`` grandchild whose parent
has exited), and, when asked, any process of the same user whose environment carries the command's tracking
marker (which finds a daemon that also closed the pipes). Elsewhere only the process group is known.

The marker is ``WFE_PROCESS_TRACKING_ID=<random token>``, set in the command's environment when it starts; every
descendant inherits it, however it detached, unless it scrubs its environment. It is only looked for when
processes are ended (the ``/proc/PID/environ`` of each process), never while the command runs.
"""

from __future__ import annotations

import contextlib
import os
import secrets
from collections.abc import Iterable
from dataclasses import dataclass

PROC = "/proc"
TRACKING_VARIABLE = "WFE_PROCESS_TRACKING_ID"


def new_tracking_id() -> str:
    """A fresh, unguessable value for :data:`TRACKING_VARIABLE` (128 random bits as hex)."""
    return secrets.token_hex(16)


@dataclass(frozen=True, slots=True)
class _Stat:
    ppid: int
    pgrp: int
    zombie: bool
    start: int  # start time in clock ticks: tells a pid from a later process reusing it


def _stat(pid: int) -> _Stat | None:
    try:
        with open(f"{PROC}/{pid}/stat", "rb") as file:
            text = file.read()
    except OSError:
        return None
    fields = text[text.rfind(b")") + 2 :].split()
    # fields[0] is field 3 of proc(5): state; then ppid (4), pgrp (5), ... starttime (22)
    return _Stat(int(fields[1]), int(fields[2]), fields[0] in (b"Z", b"X"), int(fields[19]))


def _holds(pid: int, pipes: frozenset[str]) -> bool:
    try:
        names = os.listdir(f"{PROC}/{pid}/fd")
    except OSError:
        return False
    for name in names:
        with contextlib.suppress(OSError):
            if os.readlink(f"{PROC}/{pid}/fd/{name}") in pipes:
                return True
    return False


def _carries(pid: int, entry: bytes, uid: int) -> bool:
    """Whether ``pid`` runs as ``uid`` and its environment holds exactly the entry ``entry`` (``NAME=value``;
    entries are NUL-separated, so a longer value or name does not match). An unreadable environment (another
    user's, a process gone meanwhile) does not."""
    try:
        with open(f"{PROC}/{pid}/environ", "rb") as file:
            if os.fstat(file.fileno()).st_uid != uid:
                return False
            environ = file.read()
    except OSError:
        return False
    return entry in environ and entry in environ.split(b"\0")


class ProcessTree:
    """The processes of one command, gathered again on each :meth:`collect` (they may fork meanwhile)."""

    def __init__(self, leader: int, pipe_inodes: Iterable[int], tracking_id: str) -> None:
        """``leader`` is the command (its pid is also its group's id), ``pipe_inodes`` its stdout and stderr
        pipes, ``tracking_id`` the value of :data:`TRACKING_VARIABLE` it was started with."""
        self.leader = leader  # also the process group id (the command starts a new session)
        self._pipes = frozenset(f"pipe:[{inode}]" for inode in pipe_inodes)
        self._marker = f"{TRACKING_VARIABLE}={tracking_id}".encode()
        self._known: dict[int, int] = {}  # pid -> start time
        self.tracked = os.path.isdir(f"{PROC}/self")
        leader_stat = _stat(leader) if self.tracked else None
        if leader_stat is not None:
            self._known[leader] = leader_stat.start

    def collect(self, *, detached: bool) -> None:
        """Add every live descendant of the leader and of the processes already known, every member of the
        leader's group, every process holding the command's output pipes, and, when ``detached``, every
        process of this user whose environment carries the command's tracking marker (a daemon that left
        the group and closed the pipes is found only that way); then the descendants of all of these.
        ``detached=False`` leaves such daemons alone (and reads no environment)."""
        if not self.tracked:
            return
        me = os.getpid()
        uid = os.geteuid()
        stats: dict[int, _Stat] = {}
        for entry in os.listdir(PROC):
            if entry.isdigit():
                stat = _stat(int(entry))
                if stat is not None and not stat.zombie:
                    stats[int(entry)] = stat
        found: set[int] = set()
        for pid, stat in stats.items():
            if self._known.get(pid) == stat.start:
                found.add(pid)
            elif pid == me or stat.ppid == me:
                continue  # the host, and its other children (one may be between fork and exec)
            elif (
                stat.pgrp == self.leader
                or (self._pipes and _holds(pid, self._pipes))
                or (detached and _carries(pid, self._marker, uid))
            ):
                found.add(pid)
        children: dict[int, list[int]] = {}
        for pid, stat in stats.items():
            children.setdefault(stat.ppid, []).append(pid)
        pending = list(found)
        while pending:
            for child in children.get(pending.pop(), ()):
                if child not in found and child != me:
                    found.add(child)
                    pending.append(child)
        for pid in found:
            self._known[pid] = stats[pid].start

    def alive(self) -> list[int]:
        """The known processes still running (zombies count as ended; a reused pid is not ours)."""
        live = []
        for pid, start in list(self._known.items()):
            stat = _stat(pid)
            if stat is None or stat.zombie or stat.start != start:
                del self._known[pid]
            else:
                live.append(pid)
        return live

    def signal(self, sig: int) -> None:
        """Send ``sig`` to every known process still running."""
        for pid in self.alive():
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.kill(pid, sig)
