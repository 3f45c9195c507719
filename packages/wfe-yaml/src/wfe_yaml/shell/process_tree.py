"""Every process a command started, found through Linux's ``/proc``: the command's descendants, the members of
its process group, and any process that holds its output pipes (which finds a ``setsid`` grandchild whose
parent has exited). Elsewhere only the process group is known.

The command runs as a child subreaper (``PR_SET_CHILD_SUBREAPER``), so an orphan of any of its descendants
is re-parented to the command rather than to init and stays in its tree while the command lives.
"""

from __future__ import annotations

import contextlib
import ctypes
import ctypes.util
import os
import sys
from collections.abc import Callable, Iterable
from dataclasses import dataclass

PROC = "/proc"
_PR_SET_CHILD_SUBREAPER = 36


def _subreaper_hook() -> Callable[[], None] | None:
    """A ``preexec_fn`` making the child a subreaper (kept across ``exec``), or None off Linux. The libc
    function is looked up here, before any fork, so the child only makes the call."""
    if not sys.platform.startswith("linux"):
        return None
    try:
        prctl = ctypes.CDLL(ctypes.util.find_library("c"), use_errno=True).prctl
    except (OSError, AttributeError):
        return None
    prctl.argtypes = [ctypes.c_int, ctypes.c_ulong, ctypes.c_ulong, ctypes.c_ulong, ctypes.c_ulong]
    prctl.restype = ctypes.c_int

    def become_subreaper() -> None:
        prctl(_PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0)

    return become_subreaper


SUBREAPER_HOOK = _subreaper_hook()


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


class ProcessTree:
    """The processes of one command, gathered again on each :meth:`collect` (they may fork meanwhile)."""

    def __init__(self, leader: int, pipe_inodes: Iterable[int]) -> None:
        self.leader = leader  # also the process group id (the command starts a new session)
        self._pipes = frozenset(f"pipe:[{inode}]" for inode in pipe_inodes)
        self._known: dict[int, int] = {}  # pid -> start time
        self.tracked = os.path.isdir(f"{PROC}/self")
        leader_stat = _stat(leader) if self.tracked else None
        if leader_stat is not None:
            self._known[leader] = leader_stat.start

    def collect(self) -> None:
        """Add every live descendant of the leader and of the processes already known, every member of the
        leader's group, and every process holding the command's output pipes."""
        if not self.tracked:
            return
        me = os.getpid()
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
            elif stat.pgrp == self.leader or (self._pipes and _holds(pid, self._pipes)):
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
