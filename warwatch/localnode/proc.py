"""Process identity: a PID is ours only when the process behind it is provably the one we started.

A PID alone proves nothing: after a reboot (or enough forks) ``node.json`` names a stranger, and an
HTTP answer can name any PID. A process is identified by the boot it runs in
(``/proc/sys/kernel/random/boot_id``), its PID, its start time (``/proc/PID/stat`` field 22, clock
ticks since boot), its owner and its command line; a signal goes only to a process whose identity
matches the recorded one, through a pidfd opened before the check (so a PID reused between the
check and the signal cannot be hit).
"""

from __future__ import annotations

import contextlib
import os
import signal
from dataclasses import dataclass
from pathlib import Path
from typing import Any

PROC = Path("/proc")
#: bounds for walking process trees (a node is a launcher and one or two JVMs)
MAX_DEPTH = 32
MAX_PROCESSES = 256
_LISTEN = "0A"


def boot_id() -> str:
    try:
        return (PROC / "sys/kernel/random/boot_id").read_text().strip()
    except OSError:
        return ""


def _stat_fields(pid: int) -> list[str] | None:
    """Fields 3.. of /proc/PID/stat (after the parenthesised command name, which may hold spaces)."""
    try:
        text = (PROC / str(pid) / "stat").read_text()
    except OSError:
        return None
    tail = text.rsplit(")", 1)
    return tail[1].split() if len(tail) == 2 else None


@dataclass(frozen=True)
class Identity:
    pid: int
    start_ticks: int  # /proc/PID/stat field 22
    uid: int
    boot_id: str
    #: empty while the launcher may still exec (recorded once the node is up)
    cmdline: tuple[str, ...]

    def as_json(self) -> dict[str, Any]:
        return {"pid": self.pid, "start_ticks": self.start_ticks, "uid": self.uid,
                "boot_id": self.boot_id, "cmdline": list(self.cmdline)}  # fmt: skip

    @classmethod
    def from_json(cls, data: Any) -> Identity | None:
        """None unless every field is there with its type (an old or hand-written node.json)."""
        if not isinstance(data, dict):
            return None
        pid, ticks, uid, boot, cmd = (data.get(k) for k in ("pid", "start_ticks", "uid", "boot_id", "cmdline"))
        if not (isinstance(pid, int) and pid > 0 and isinstance(ticks, int) and isinstance(uid, int)
                and isinstance(boot, str) and boot and isinstance(cmd, list)
                and all(isinstance(a, str) for a in cmd)):  # fmt: skip
            return None
        return cls(pid, ticks, uid, boot, tuple(cmd))


def identify(pid: int) -> Identity | None:
    """The identity of the live process ``pid`` (None when there is none, or only a zombie)."""
    if pid <= 0:
        return None
    with contextlib.suppress(ChildProcessError, OSError):
        os.waitpid(pid, os.WNOHANG)  # reap our own zombie child, if it is one
    fields = _stat_fields(pid)
    if not fields or len(fields) < 20 or fields[0] in {"Z", "X"}:
        return None
    try:
        uid = (PROC / str(pid)).stat().st_uid
        raw = (PROC / str(pid) / "cmdline").read_bytes()
    except OSError:
        return None
    cmdline = tuple(a.decode("utf-8", "surrogateescape") for a in raw.split(b"\0") if a)
    return Identity(pid, int(fields[19]), uid, boot_id(), cmdline)


def same_process(recorded: Identity) -> bool:
    """The process ``recorded.pid`` is the one recorded: same boot, start time and owner, and the
    same command line when one was recorded."""
    cur = identify(recorded.pid)
    return (cur is not None and (cur.boot_id, cur.start_ticks, cur.uid) == (recorded.boot_id, recorded.start_ticks, recorded.uid)
            and (not recorded.cmdline or cur.cmdline == recorded.cmdline))  # fmt: skip


def alive(pid: int | None) -> bool:
    return bool(pid) and identify(int(pid or 0)) is not None


def parent_of(pid: int) -> int | None:
    fields = _stat_fields(pid)
    return int(fields[1]) if fields and len(fields) > 1 else None


def descends_from(pid: int, ancestor: int) -> bool:
    """``pid`` is ``ancestor`` or one of its descendants (a bounded walk up the parents)."""
    current: int | None = pid
    for _ in range(MAX_DEPTH):
        if current is None or current <= 1:
            return False
        if current == ancestor:
            return True
        current = parent_of(current)
    return False


def descendants(pid: int) -> list[int]:
    """Every live descendant of ``pid`` (breadth first, at most MAX_PROCESSES)."""
    found: list[int] = []
    queue = [pid]
    while queue and len(found) < MAX_PROCESSES:
        parent = queue.pop(0)
        with contextlib.suppress(OSError):
            for task in (PROC / str(parent) / "task").iterdir():
                with contextlib.suppress(OSError, ValueError):
                    for kid in (int(x) for x in (task / "children").read_text().split()):
                        if kid not in found:
                            found.append(kid)
                            queue.append(kid)
    return found[:MAX_PROCESSES]


def signal_if_same(ident: Identity, sig: int) -> bool:
    """Send ``sig`` to the process only if it is still the one ``ident`` describes. Returns True
    when the signal was sent."""
    try:
        pidfd = os.pidfd_open(ident.pid)
    except OSError:
        return False
    try:
        if not same_process(ident):
            return False
        signal.pidfd_send_signal(pidfd, sig)
        return True
    except OSError:
        return False
    finally:
        os.close(pidfd)


def _listening_inodes(port: int) -> set[str]:
    inodes: set[str] = set()
    for table in ("tcp", "tcp6"):
        with contextlib.suppress(OSError):
            for line in (PROC / "net" / table).read_text().splitlines()[1:]:
                cols = line.split()
                if len(cols) > 9 and cols[3] == _LISTEN and int(cols[1].rsplit(":", 1)[1], 16) == port:
                    inodes.add(cols[9])
    return inodes


def listener_pids(port: int) -> list[int]:
    """The processes holding a listening TCP socket on ``port`` (what the kernel says, unlike an
    HTTP answer). Needs to see other users' fds, i.e. root or the same user."""
    wanted = {f"socket:[{inode}]" for inode in _listening_inodes(port)}
    pids: list[int] = []
    if not wanted:
        return pids
    for entry in PROC.iterdir():
        if not entry.name.isdigit():
            continue
        with contextlib.suppress(OSError):
            if any(os.readlink(fd) in wanted for fd in (entry / "fd").iterdir()):
                pids.append(int(entry.name))
    return pids
