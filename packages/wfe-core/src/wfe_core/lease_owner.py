"""Who holds a lease: the holder's identity, carried in the lease token, so a successor can prove it gone.

A lease token is ``<random id>@<owner>``. The owner names the host identity it was given (``host_id``, empty
when none) and the process: hostname, kernel boot id, pid namespace, pid and the process's start time. A host
that starts takes over the leases of a holder proven gone (``LeaseOwner.supersedes``): one with its own host
identity (its predecessor), or a process on this machine that no longer exists. A token without an owner (an
older release's) is never taken over; it lapses after its ttl.
"""

from __future__ import annotations

import functools
import os
import socket
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote, unquote

from wfe_core.models import new_id

_SEPARATOR = "@"
_FIELDS = 6


def _read(path: str) -> str:
    try:
        return Path(path).read_text().strip()
    except OSError:
        return ""


def _pid_namespace() -> str:
    try:
        return os.readlink("/proc/self/ns/pid")
    except OSError:
        return ""


def process_start_time(pid: int) -> str:
    """The process's start time in clock ticks since boot (Linux ``/proc``); "" when unknown or gone."""
    stat = _read(f"/proc/{pid}/stat")
    _, _, rest = stat.rpartition(")")  # the command name may hold spaces and parentheses
    fields = rest.split()
    return fields[19] if len(fields) > 19 else ""


def _exists(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:  # PermissionError: it exists, it belongs to someone else
        return True
    return True


@dataclass(frozen=True, slots=True)
class LeaseOwner:
    """The holder a lock provider writes into the tokens of the leases it takes."""

    host_id: str
    """The stable identity the host was given (``HostOptions.host_id``), "" when none."""
    hostname: str
    boot_id: str
    pid_namespace: str
    pid: int
    started: str
    """The process's start time (clock ticks since boot), so a reused pid is not taken for its holder."""

    @staticmethod
    def of_this_process(host_id: str | None = None) -> LeaseOwner:
        """This process as a lease holder, with the host identity ``host_id`` (None: none)."""
        return _this_process(os.getpid(), host_id or "")

    def token(self) -> str:
        """A fresh lease token that names this owner."""
        return f"{new_id()}{_SEPARATOR}{self.encode()}"

    def encode(self) -> str:
        return _encode(self)  # every lease a host takes names it: quoted once, not at every acquire

    @staticmethod
    def from_token(token: str) -> LeaseOwner | None:
        """The owner a token names; None for a token that names none (or not in this form)."""
        _, separator, encoded = token.partition(_SEPARATOR)
        fields = encoded.split("|")
        if not separator or len(fields) != _FIELDS or not fields[4].isdigit():
            return None
        host_id, hostname, boot_id, pid_namespace, pid, started = (unquote(field) for field in fields)
        return LeaseOwner(host_id, hostname, boot_id, pid_namespace, int(pid), started)

    def supersedes(self, holder: LeaseOwner) -> bool:
        """Whether this owner may take ``holder``'s leases at once: the holder is proven gone.

        * ``holder`` has this owner's host identity (a non-empty ``host_id``) and is another process or
          incarnation: the host identity is unique among live hosts, so the holder is this host's predecessor.
        * ``holder`` ran on this machine (same hostname, boot and pid namespace) and its process no longer
          exists, or its pid now belongs to a process started at another time.

        Never a live process on this machine, nor a holder of another host identity on another machine."""
        if holder == self:
            return False
        if self.host_id and holder.host_id == self.host_id:
            return True
        same_machine = (holder.hostname, holder.boot_id, holder.pid_namespace) == (
            self.hostname,
            self.boot_id,
            self.pid_namespace,
        )
        if not same_machine:
            return False
        if holder.pid == self.pid:  # this pid: the holder was an earlier process that had it, or this one
            started = self.started
        elif not _exists(holder.pid):
            return True
        else:
            started = process_start_time(holder.pid)
        return bool(holder.started and started and started != holder.started)


@functools.cache
def _encode(owner: LeaseOwner) -> str:
    fields = (
        owner.host_id,
        owner.hostname,
        owner.boot_id,
        owner.pid_namespace,
        str(owner.pid),
        owner.started,
    )
    return "|".join(quote(field, safe="") for field in fields)


@functools.cache
def _this_process(pid: int, host_id: str) -> LeaseOwner:
    return LeaseOwner(
        host_id=host_id,
        hostname=socket.gethostname(),
        boot_id=_read("/proc/sys/kernel/random/boot_id"),
        pid_namespace=_pid_namespace(),
        pid=pid,
        started=process_start_time(pid),
    )


class TakeoverCheck:
    """``owner.supersedes`` for many tokens, asking the system once per holder."""

    def __init__(self, owner: LeaseOwner) -> None:
        self.owner = owner
        self._seen: dict[str, bool] = {}

    def gone(self, token: str) -> bool:
        """Whether the holder named in ``token`` is proven gone (False for a token naming none)."""
        _, _, encoded = token.partition(_SEPARATOR)
        if encoded not in self._seen:
            holder = LeaseOwner.from_token(token)
            self._seen[encoded] = holder is not None and self.owner.supersedes(holder)
        return self._seen[encoded]
