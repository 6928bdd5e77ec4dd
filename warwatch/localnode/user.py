"""The unprivileged node user, the directories it may use, and root's careful file handling.

As root, the node runs as :data:`NODE_USER`. Layout of a node's directory (``node_dir``, or a
directory under :data:`FALLBACK_ROOT` when the node user cannot reach it):

* the directory itself, ``node.json``, ``.lock`` and ``console.log``: root's; the node user cannot
  rename or replace anything in it;
* ``config/``: generated afresh by root on every start, then handed to the node user;
* ``data/``, ``logs/``, ``tmp/``, ``run/``: the node user's. Root never writes into them and reads
  its logs without following symlinks.

Nothing outside the project's own directories and :data:`FALLBACK_ROOT` changes owner or mode:
an ancestor the node user cannot enter (a 0700 ``/root``) stays as it is, and the node's files
move to :data:`FALLBACK_ROOT` instead.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import logging
import os
import pwd
import shutil
import stat
import subprocess
from collections.abc import Iterator
from pathlib import Path

from warwatch.localnode import engines
from warwatch.localnode.engines import NODE_USER, LocalNodeError

logger = logging.getLogger(__name__)

Ids = tuple[int, int]
NODE_SUBDIRS = ("data", "logs", "tmp", "run")


def lookup_user() -> Ids | None:
    try:
        pw = pwd.getpwnam(NODE_USER)
    except KeyError:
        return None
    return pw.pw_uid, pw.pw_gid


def ensure_user() -> Ids | None:
    """Create the unprivileged node user if we are root (idempotent); returns (uid, gid), or
    None when we are not root (the node then runs as ourselves)."""
    if os.geteuid() != 0:
        return None
    ids = lookup_user()
    if ids is not None:
        return ids
    useradd = shutil.which("useradd") or "/usr/sbin/useradd"
    proc = subprocess.run(
        [useradd, "--system", "--user-group", "--no-create-home", "--home-dir", "/nonexistent",
         "--shell", "/usr/sbin/nologin", "--comment", "warwatch local search node", NODE_USER],
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    ids = lookup_user()
    if ids is None:  # useradd exits 9 when the user was created concurrently: then it exists
        raise LocalNodeError(
            f"could not create the system user {NODE_USER!r}: {proc.stderr.strip() or f'exit {proc.returncode}'}"
        )
    logger.info("created system user %s (uid %d)", NODE_USER, ids[0])
    return ids


def node_uid() -> int | None:
    """The uid a node started here runs as (None: as root, with no node user yet)."""
    if os.geteuid() != 0:
        return os.geteuid()
    ids = lookup_user()
    return ids[0] if ids else None


def _can_enter(st: os.stat_result, uid: int, gid: int) -> bool:
    if st.st_uid == uid:
        return bool(st.st_mode & stat.S_IXUSR)
    if st.st_gid == gid:
        return bool(st.st_mode & stat.S_IXGRP)
    return bool(st.st_mode & stat.S_IXOTH)


def can_reach(path: Path, ids: Ids) -> bool:
    """The user can enter every existing directory on the way to ``path`` (mode bits; the node
    runs without supplementary groups). Nothing is changed."""
    for anc in reversed([path, *path.parents]):
        try:
            st = anc.stat()
        except FileNotFoundError:
            continue
        except OSError:
            return False
        if stat.S_ISDIR(st.st_mode) and not _can_enter(st, *ids):
            return False
    return True


def ensure_root_dir(path: Path) -> None:
    """``path`` exists as a real directory (no symlink) owned by us, mode 0755. A directory an
    older warwatch handed to the node user is taken back (through an fd: no path is followed)."""
    path.mkdir(parents=True, exist_ok=True)
    try:
        fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW)
    except OSError as exc:
        raise LocalNodeError(f"{path} is not a plain directory (a symlink?): {exc.strerror}") from exc
    try:
        st = os.fstat(fd)
        if st.st_uid != os.geteuid():
            os.fchown(fd, os.geteuid(), os.getegid())
        if stat.S_IMODE(st.st_mode) != 0o755:
            os.fchmod(fd, 0o755)
    finally:
        os.close(fd)


def ensure_node_subdir(parent: Path, name: str, ids: Ids | None) -> Path:
    """``parent/name`` as a directory the node owns: created by us inside our own ``parent``,
    then handed over. An existing symlink or file there is an error, never followed."""
    path = parent / name
    with contextlib.suppress(FileExistsError):
        os.mkdir(path, 0o750)
    st = os.lstat(path)
    if not stat.S_ISDIR(st.st_mode):
        raise LocalNodeError(f"{path} is not a directory (a symlink or a file); remove it")
    if ids is not None and (st.st_uid, st.st_gid) != ids:
        os.lchown(path, *ids)
    return path


def create_fresh(path: Path, data: bytes = b"", mode: int = 0o644) -> int:
    """Replace ``path`` by a new, empty-or-``data`` file of ours and return an fd open for
    appending. The old entry is unlinked (a symlink is removed, not followed) and the new one is
    created exclusively, so nothing planted in between is written through."""
    with contextlib.suppress(FileNotFoundError):
        os.unlink(path)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_APPEND, mode)
    if data:
        os.write(fd, data)
    return fd


def read_nofollow(path: Path, max_bytes: int, tail: bool = False) -> bytes:
    """At most ``max_bytes`` of a regular file (the end of it with ``tail``) without following a
    symlink or blocking on a fifo the node user may have put there; b"" when it cannot be read."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
    except OSError:
        return b""
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            return b""
        if tail:
            os.lseek(fd, max(0, st.st_size - max_bytes), os.SEEK_SET)
        return os.read(fd, max_bytes)
    except OSError:
        return b""
    finally:
        os.close(fd)


@contextlib.contextmanager
def file_lock(path: Path) -> Iterator[None]:
    fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)  # releases the lock


def chown_tree(root: Path, ids: Ids) -> None:
    """Hand a tree we have just created (nobody else could write in it) to the node user."""
    for dirpath, dirnames, filenames in os.walk(root):
        for name in [*dirnames, *filenames]:
            os.lchown(os.path.join(dirpath, name), *ids)
    os.lchown(root, *ids)


def runtime_dir(ndir: Path, port: int, ids: Ids | None) -> Path:
    """Where the node's config, data and logs go: ``ndir`` when the node user can reach it,
    otherwise a directory of ours under FALLBACK_ROOT (a warning says so)."""
    if ids is None or can_reach(ndir, ids):
        return ndir
    key = hashlib.sha256(str(ndir).encode()).hexdigest()[:12]
    target = engines.FALLBACK_ROOT / "nodes" / f"{port}-{key}"
    for d in (engines.FALLBACK_ROOT, target.parent, target):
        ensure_root_dir(d)
    if not can_reach(target, ids):
        raise LocalNodeError(f"the node user {NODE_USER!r} can reach neither {ndir} nor {target}")
    logger.warning("the node user %s cannot reach %s; its files go to %s (no permission changed)",
                   NODE_USER, ndir, target)  # fmt: skip
    return target


def reachable_install(home: Path, ids: Ids | None) -> Path:
    """The distribution where the node user can run it: ``home`` (under the project), or a copy
    of it under FALLBACK_ROOT/dist when the node user cannot reach the project."""
    if ids is None or can_reach(home / "bin", ids):
        return home
    dist = engines.FALLBACK_ROOT / "dist"
    for d in (engines.FALLBACK_ROOT, dist):
        ensure_root_dir(d)
    target = dist / home.name
    marker = home / ".warwatch-fetched.json"
    if read_nofollow(target / marker.name, 1 << 16) != read_nofollow(marker, 1 << 16):
        staging = dist / f".{home.name}.copy"
        shutil.rmtree(staging, ignore_errors=True)
        shutil.copytree(home, staging, symlinks=True)
        shutil.rmtree(target, ignore_errors=True)
        os.replace(staging, target)
    logger.warning("the node user %s cannot reach %s; running the copy in %s (no permission changed)",
                   NODE_USER, home, target)  # fmt: skip
    return target
