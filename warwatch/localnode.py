"""`warwatch local-es`: a real single-node search engine on 127.0.0.1, without Docker.

The distribution comes from Maven Central through ``mvn dependency:copy`` and is unpacked under
the repository's ``.local/search/`` (gitignored). What was found on Maven Central:

* Elastic's integration-test distribution
  (``org.elasticsearch.distribution.integ-test-zip:elasticsearch``, newest 9.x there: 9.2.4) is a
  genuine Elasticsearch but carries only the server, transport-netty4, apm and x-pack core/security:
  no ``analysis-common`` (language analyzers), no percolator, no reindex, and Elastic does not
  publish those modules to Maven Central (checked for 9.2.4 and 8.19.4). It still runs bare and is
  kept as ``engine="elasticsearch"`` so the Elasticsearch client path can be smoke-tested.
* OpenSearch's integration-test distribution
  (``org.opensearch.distribution.integ-test-zip:opensearch:3.8.0``) ships every module this
  product needs (analysis-common, percolator, reindex, lang-painless, mapper-extras, ...), so it
  is the default local engine. Production stays Elasticsearch (docker-compose).

The node runs as a dedicated unprivileged system user (Elasticsearch and OpenSearch refuse root);
its config, data, logs, temp files and state live under
``<data_dir>/search-node/<port>/``. It binds 127.0.0.1 only, ``discovery.type=single-node``,
heap from ``settings.local_es``, no security plugin.

CLI (used by the Makefile before the console script exists)::

    python -m warwatch.localnode fetch|start|stop|status [--port N] [--engine opensearch|elasticsearch]
"""

from __future__ import annotations

import argparse
import contextlib
import fcntl
import http.client
import json
import logging
import os
import pwd
import re
import shutil
import signal
import socket
import stat
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from indexing.settings import get_settings

logger = logging.getLogger(__name__)

#: The unprivileged system user that runs the node when we are root.
NODE_USER = "warwatch-search"
#: cluster.name of every node started here; used to recognise our own nodes on a port.
CLUSTER_NAME = "warwatch-local"
#: Where distributions are unpacked (gitignored).
CACHE_DIR = Path(__file__).resolve().parents[1] / ".local" / "search"  # the checkout's .local/ (make install)
HOST = "127.0.0.1"
STATE_FILE = "node.json"
LOG_TAIL_LINES = 12


class LocalNodeError(RuntimeError):
    """The local node cannot be fetched, started or stopped; the message is one clear line,
    optionally followed by the last lines of the node's log."""


@dataclass(frozen=True)
class EngineSpec:
    """One engine distribution on Maven Central."""

    name: str
    version: str
    group: str
    artifact: str
    launcher: str  # relative to the install dir
    env_prefix: str  # OPENSEARCH_ / ES_ (…_JAVA_HOME, …_PATH_CONF, …_TMPDIR)
    config_file: str
    min_java: int
    #: modules the product needs; fetch() fails if one is missing (empty: a bare engine)
    required_modules: tuple[str, ...] = ()
    #: extra lines for the node's yml
    extra_settings: tuple[tuple[str, str], ...] = ()

    @property
    def coordinates(self) -> str:
        return f"{self.group}:{self.artifact}:{self.version}:zip"

    @property
    def dirname(self) -> str:
        return f"{self.name}-{self.version}"


ENGINES: dict[str, EngineSpec] = {
    "opensearch": EngineSpec(
        name="opensearch",
        version="3.8.0",
        group="org.opensearch.distribution.integ-test-zip",
        artifact="opensearch",
        launcher="bin/opensearch",
        env_prefix="OPENSEARCH",
        config_file="opensearch.yml",
        min_java=21,
        required_modules=("analysis-common", "percolator", "reindex", "lang-painless", "mapper-extras"),
    ),
    "elasticsearch": EngineSpec(
        name="elasticsearch",
        version="9.2.4",
        group="org.elasticsearch.distribution.integ-test-zip",
        artifact="elasticsearch",
        launcher="bin/elasticsearch",
        env_prefix="ES",
        config_file="elasticsearch.yml",
        min_java=21,
        required_modules=(),
        extra_settings=(("xpack.security.enabled", "false"),),
    ),
}
DEFAULT_ENGINE = "opensearch"


# ---------------------------------------------------------------------------------------------
# small helpers
# ---------------------------------------------------------------------------------------------


def _engine_spec(engine: str | None) -> EngineSpec:
    name = (engine or getattr(get_settings().local_es, "engine", None) or DEFAULT_ENGINE).lower()
    try:
        return ENGINES[name]
    except KeyError:
        raise LocalNodeError(f"unknown engine {name!r}; choose one of {', '.join(sorted(ENGINES))}") from None


def _port(port: int | None) -> int:
    p = int(port if port is not None else get_settings().local_es.port)
    if not 1024 <= p <= 65535:
        raise LocalNodeError(f"port {p} is out of range (1024-65535)")
    return p


def node_dir(port: int | None = None) -> Path:
    """``<data_dir>/search-node/<port>``, absolute (data_dir is resolved against the cwd)."""
    return get_settings().data_dir.expanduser().resolve() / "search-node" / str(_port(port))


def _url(port: int) -> str:
    return f"http://{HOST}:{port}"


@contextlib.contextmanager
def _file_lock(path: Path) -> Iterator[None]:
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a+") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


def _tail(path: Path, lines: int = LOG_TAIL_LINES) -> list[str]:
    try:
        with open(path, "rb") as fh:
            fh.seek(0, os.SEEK_END)
            size = fh.tell()
            fh.seek(max(0, size - 64 * 1024))
            text = fh.read().decode("utf-8", errors="replace")
    except OSError:
        return []
    return [ln for ln in text.splitlines() if ln.strip()][-lines:]


def _log_tail(ndir: Path) -> str:
    """The last lines of the node's server log (or its console output), indented, for errors."""
    candidates = [ndir / "logs" / f"{CLUSTER_NAME}.log", ndir / "console.log"]
    best: list[str] = []
    for cand in candidates:
        lines = _tail(cand)
        # prefer the log that says the most about an error
        if lines and (not best or any(("ERROR" in ln or "Exception" in ln) for ln in lines)):
            best = lines
    if not best:
        return ""
    return "\n" + "\n".join(f"    | {ln[:400]}" for ln in best)


def _http_json(url: str, timeout: float = 3.0) -> Any:
    with urllib.request.urlopen(url, timeout=timeout) as resp:  # noqa: S310 - loopback only
        return json.load(resp)


def _probe(port: int, timeout: float = 3.0) -> dict[str, Any] | None:
    """Who answers on the port: ``{"name", "cluster_name", "engine", "version", "pid"}``, or None
    when no search node answers. Uses ``GET _nodes/_local`` because Elastic's integ-test
    distribution has no ``GET /`` (its rest-root module is not included)."""
    url = (
        _url(port) + "/_nodes/_local?filter_path=cluster_name,nodes.*.name,nodes.*.version,nodes.*.process.id"
    )
    try:
        with urllib.request.urlopen(url, timeout=timeout) as resp:  # noqa: S310 - loopback only
            body = json.load(resp)
            headers = resp.headers
    except (OSError, ValueError, urllib.error.URLError, http.client.HTTPException):
        return None
    if not isinstance(body, dict) or not isinstance(body.get("nodes"), dict) or len(body["nodes"]) != 1:
        return None
    node = next(iter(body["nodes"].values()))
    if headers.get("X-OpenSearch-Version") or "opensearch" in str(headers.get("Server", "")).lower():
        engine = "opensearch"
    elif headers.get("X-elastic-product"):
        engine = "elasticsearch"
    else:
        engine = "unknown"
    pid = node.get("process", {}).get("id")
    return {
        "name": node.get("name"),
        "cluster_name": body.get("cluster_name"),
        "engine": engine,
        "version": node.get("version"),
        "pid": int(pid) if isinstance(pid, int) else None,
    }


def _health(port: int, timeout: float = 3.0) -> str | None:
    try:
        body = _http_json(_url(port) + "/_cluster/health?timeout=1s", timeout)
    except (OSError, ValueError, urllib.error.URLError, http.client.HTTPException):
        return None
    return str(body.get("status")) if isinstance(body, dict) else None


def _port_in_use(port: int) -> bool:
    """True when something listens on the port (on 127.0.0.1 or on all addresses)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.settimeout(1.0)
        if s.connect_ex((HOST, port)) == 0:
            return True
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind((HOST, port))
        except OSError:
            return True
    return False


def _pid_alive(pid: int | None) -> bool:
    if not pid or pid <= 0:
        return False
    with contextlib.suppress(ChildProcessError, OSError):
        os.waitpid(pid, os.WNOHANG)  # reap our own zombie child, if it is one
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return False
    return state not in {"Z", "X"}


def _read_state(ndir: Path) -> dict[str, Any] | None:
    try:
        data = json.loads((ndir / STATE_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def _server_pid(ndir: Path) -> int | None:
    try:
        return int((ndir / "node.pid").read_text().strip())
    except (OSError, ValueError):
        return None


# ---------------------------------------------------------------------------------------------
# Java and Maven
# ---------------------------------------------------------------------------------------------


def _java_major(java_home: Path) -> int | None:
    release = java_home / "release"
    text = ""
    with contextlib.suppress(OSError):
        text = release.read_text(encoding="utf-8", errors="replace")
    m = re.search(r'^JAVA_VERSION="([^"]+)"', text, re.M)
    version = m.group(1) if m else None
    if version is None:
        java = java_home / "bin" / "java"
        if not os.access(java, os.X_OK):
            return None
        try:
            out = subprocess.run(
                [str(java), "-version"], capture_output=True, text=True, timeout=30, check=False
            ).stderr
        except (OSError, subprocess.SubprocessError):
            return None
        m = re.search(r'version "([^"]+)"', out)
        if not m:
            return None
        version = m.group(1)
    parts = version.split(".")
    try:
        major = int(parts[0])
        return int(parts[1]) if major == 1 and len(parts) > 1 else major
    except ValueError:
        return None


def find_java(min_major: int) -> Path:
    """A JDK home with Java >= min_major: $JAVA_HOME, `java` on PATH, then /usr/lib/jvm/*
    (the newest that fits wins, except that an explicit, suitable $JAVA_HOME is used as is)."""
    candidates: list[Path] = []
    env_home = os.environ.get("WARWATCH_JAVA_HOME") or os.environ.get("JAVA_HOME")
    if env_home:
        home = Path(env_home)
        major = _java_major(home)
        if major is not None and major >= min_major:
            return home
        candidates.append(home)
    on_path = shutil.which("java")
    if on_path:
        candidates.append(Path(os.path.realpath(on_path)).parent.parent)
    jvm_root = Path("/usr/lib/jvm")
    if jvm_root.is_dir():
        candidates.extend(p for p in sorted(jvm_root.iterdir()) if p.is_dir() and not p.is_symlink())
    best: tuple[int, Path] | None = None
    seen: set[Path] = set()
    found: list[str] = []
    for cand in candidates:
        real = cand.resolve()
        if real in seen:
            continue
        seen.add(real)
        major = _java_major(real)
        if major is None:
            continue
        found.append(f"{major} ({real})")
        if major >= min_major and (best is None or major > best[0]):
            best = (major, real)
    if best is None:
        have = ", ".join(found) or "none"
        raise LocalNodeError(
            f"Java {min_major}+ is required for the local search node but was not found "
            f"(found: {have}); install a JDK {min_major}+ or set JAVA_HOME"
        )
    return best[1]


def _mvn() -> str:
    mvn = shutil.which("mvn")
    if not mvn:
        raise LocalNodeError(
            "Maven (mvn) is required to fetch the local search node from Maven Central but is not on "
            "PATH; install it (e.g. apt-get install maven)"
        )
    return mvn


# ---------------------------------------------------------------------------------------------
# fetch
# ---------------------------------------------------------------------------------------------


def _unzip(archive: Path, dest: Path) -> None:
    """Unpack keeping the executable bits (zipfile drops them)."""
    with zipfile.ZipFile(archive) as zf:
        for info in zf.infolist():
            target = (dest / info.filename).resolve()
            if not str(target).startswith(str(dest.resolve()) + os.sep) and target != dest.resolve():
                raise LocalNodeError(f"refusing to unpack {info.filename!r} outside {dest}")
            zf.extract(info, dest)
            mode = (info.external_attr >> 16) & 0o777
            if mode and not info.is_dir():
                os.chmod(target, mode | 0o444)


def _make_world_readable(root: Path) -> None:
    for dirpath, dirnames, filenames in os.walk(root):
        for d in dirnames:
            p = Path(dirpath, d)
            p.chmod(p.stat().st_mode | 0o555)
        for f in filenames:
            p = Path(dirpath, f)
            if not p.is_symlink():
                p.chmod(p.stat().st_mode | 0o444)
    root.chmod(root.stat().st_mode | 0o555)


def install_dir(engine: str | None = None) -> Path:
    """Where the engine's distribution is (or will be) unpacked."""
    return CACHE_DIR / _engine_spec(engine).dirname


def fetch(engine: str | None = None) -> Path:
    """Download the engine's distribution from Maven Central (via ``mvn``, cached in ~/.m2) and
    unpack it under ``.local/search/``; idempotent. Returns the install dir."""
    spec = _engine_spec(engine)
    home = CACHE_DIR / spec.dirname
    marker = home / ".warwatch-fetched.json"
    if marker.exists():
        return home
    CACHE_DIR.mkdir(parents=True, exist_ok=True)
    with _file_lock(CACHE_DIR / ".fetch.lock"):
        if marker.exists():
            return home
        mvn = _mvn()
        with tempfile.TemporaryDirectory(prefix=".fetch-", dir=CACHE_DIR) as tmp:
            tmpdir = Path(tmp)
            cmd = [
                mvn, "-B", "-q", "-ntp",
                "org.apache.maven.plugins:maven-dependency-plugin:3.6.1:copy",
                f"-Dartifact={spec.coordinates}",
                f"-DoutputDirectory={tmpdir / 'dl'}",
            ]  # fmt: skip
            logger.info("fetching %s %s from Maven Central (%s)", spec.name, spec.version, spec.coordinates)
            try:
                proc = subprocess.run(
                    cmd, capture_output=True, text=True, timeout=1800, check=False, cwd=tmpdir
                )
            except subprocess.TimeoutExpired as exc:
                raise LocalNodeError(
                    f"mvn timed out after {exc.timeout:.0f}s fetching {spec.coordinates}"
                ) from exc
            if proc.returncode != 0:
                lines = [ln for ln in (proc.stdout + proc.stderr).splitlines() if ln.strip()][
                    -LOG_TAIL_LINES:
                ]
                tail = "\n" + "\n".join(f"    | {ln}" for ln in lines) if lines else ""
                raise LocalNodeError(
                    f"mvn could not fetch {spec.coordinates} from Maven Central (exit {proc.returncode}){tail}"
                )
            zips = list((tmpdir / "dl").glob("*.zip"))
            if len(zips) != 1:
                raise LocalNodeError(f"mvn fetched {len(zips)} archives for {spec.coordinates}, expected 1")
            unpack = tmpdir / "unpack"
            unpack.mkdir()
            _unzip(zips[0], unpack)
            roots = [p for p in unpack.iterdir() if p.is_dir()]
            if len(roots) != 1 or not (roots[0] / spec.launcher).is_file():
                raise LocalNodeError(f"{zips[0].name} does not look like a {spec.name} distribution")
            root = roots[0]
            modules = {p.name for p in (root / "modules").iterdir() if p.is_dir()}
            missing = [m for m in spec.required_modules if m not in modules]
            if missing:
                raise LocalNodeError(
                    f"{spec.name} {spec.version} lacks the modules {', '.join(missing)}; pick another version"
                )
            _make_world_readable(root)
            (root / marker.name).write_text(
                json.dumps(
                    {
                        "engine": spec.name,
                        "version": spec.version,
                        "artifact": spec.coordinates,
                        "modules": sorted(modules),
                        "fetched_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
                    },
                    indent=2,
                )
                + "\n",
                encoding="utf-8",
            )
            if home.exists():  # a half-unpacked tree from an interrupted run
                shutil.rmtree(home)
            os.replace(root, home)
        logger.info("unpacked %s %s into %s", spec.name, spec.version, home)
    return home


# ---------------------------------------------------------------------------------------------
# the node user and its directories
# ---------------------------------------------------------------------------------------------


def _lookup_user() -> tuple[int, int] | None:
    try:
        pw = pwd.getpwnam(NODE_USER)
    except KeyError:
        return None
    return pw.pw_uid, pw.pw_gid


def _ensure_user() -> tuple[int, int] | None:
    """Create the unprivileged node user if we are root (idempotent); returns (uid, gid), or
    None when we are not root (the node then runs as ourselves)."""
    if os.geteuid() != 0:
        return None
    ids = _lookup_user()
    if ids is not None:
        return ids
    useradd = shutil.which("useradd") or "/usr/sbin/useradd"
    proc = subprocess.run(
        [useradd, "--system", "--user-group", "--no-create-home", "--home-dir", "/nonexistent",
         "--shell", "/usr/sbin/nologin", "--comment", "warwatch local search node", NODE_USER],
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    ids = _lookup_user()
    if ids is None:  # useradd exits 9 when the user was created concurrently: then it exists
        raise LocalNodeError(
            f"could not create the system user {NODE_USER!r}: {proc.stderr.strip() or f'exit {proc.returncode}'}"
        )
    logger.info("created system user %s (uid %d)", NODE_USER, ids[0])
    return ids


def _can_enter(st: os.stat_result, uid: int, gid: int) -> bool:
    if st.st_uid == uid:
        return bool(st.st_mode & stat.S_IXUSR)
    if st.st_gid == gid:
        return bool(st.st_mode & stat.S_IXGRP)
    return bool(st.st_mode & stat.S_IXOTH)


def _ensure_traversable(path: Path, uid: int, gid: int) -> None:
    """The node user must be able to reach ``path``. An ancestor that it cannot enter (a checkout
    under a 0700 home, as root) gets the search-only bit for others (``o+x``: enter, not list),
    with a warning; if that fails, a clear error."""
    for anc in reversed([path, *path.parents]):
        try:
            st = anc.stat()
        except OSError:
            continue
        if _can_enter(st, uid, gid):
            continue
        try:
            anc.chmod(stat.S_IMODE(st.st_mode) | stat.S_IXOTH)
            logger.warning("gave others search access (o+x) to %s so the node user %s can reach %s",
                           anc, NODE_USER, path)  # fmt: skip
        except OSError as exc:
            raise LocalNodeError(
                f"the node user {NODE_USER!r} cannot enter {anc} (mode {stat.filemode(st.st_mode)}), "
                f"needed for {path}: {exc}; choose another data dir (WARWATCH_DATA_DIR)"
            ) from exc


def _chown_tree(root: Path, uid: int, gid: int) -> None:
    for dirpath, dirnames, filenames in os.walk(root):
        for name in [*dirnames, *filenames]:
            with contextlib.suppress(FileNotFoundError):
                os.lchown(os.path.join(dirpath, name), uid, gid)
    os.lchown(root, uid, gid)


def _write_config(spec: EngineSpec, home: Path, ndir: Path, port: int) -> Path:
    """Per-node config dir: the distribution's files, with paths made absolute, our heap, and a
    generated yml. An existing keystore is kept."""
    settings = get_settings().local_es
    conf = ndir / "config"
    conf.mkdir(parents=True, exist_ok=True)
    for src in (home / "config").rglob("*"):
        rel = src.relative_to(home / "config")
        dst = conf / rel
        if src.is_dir():
            dst.mkdir(parents=True, exist_ok=True)
        elif not dst.name.endswith(".keystore"):
            dst.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(src, dst)
    logs, data = ndir / "logs", ndir / "data"
    jvm = (home / "config" / "jvm.options").read_text(encoding="utf-8")
    jvm = re.sub(r"^-Xm[sx]\S*\s*$", "", jvm, flags=re.M)
    jvm = jvm.replace("file=logs/", f"file={logs}/").replace("ErrorFile=logs/", f"ErrorFile={logs}/")
    jvm = jvm.replace("file=gc.log", f"file={logs}/gc.log").replace(
        "ErrorFile=hs_err", f"ErrorFile={logs}/hs_err"
    )
    jvm = jvm.replace("HeapDumpPath=data", f"HeapDumpPath={data}")
    jvm = jvm.replace("-javaagent:agent/", f"-javaagent:{home}/agent/")
    jvm = jvm.replace("filecount=32,filesize=64m", "filecount=4,filesize=16m")
    (conf / "jvm.options").write_text(jvm, encoding="utf-8")
    (conf / "jvm.options.d").mkdir(exist_ok=True)
    (conf / "jvm.options.d" / "warwatch-heap.options").write_text(
        f"-Xms{settings.heap}\n-Xmx{settings.max_heap}\n", encoding="utf-8"
    )
    lines = [
        "# generated by warwatch (indexing/localnode.py) on every start; edits are overwritten",
        f"cluster.name: {CLUSTER_NAME}",
        f"node.name: warwatch-{port}",
        f"network.host: {HOST}",
        f"http.port: {port}",
        'transport.port: "9300-9399"',
        "discovery.type: single-node",
        f'path.data: "{data}"',
        f'path.logs: "{logs}"',
        "action.destructive_requires_name: false",
        "cluster.routing.allocation.disk.threshold_enabled: false",
        *(f"{k}: {v}" for k, v in spec.extra_settings),
    ]
    (conf / spec.config_file).write_text("\n".join(lines) + "\n", encoding="utf-8")
    return conf


# ---------------------------------------------------------------------------------------------
# start / stop / status
# ---------------------------------------------------------------------------------------------


def _ours(info: dict[str, Any] | None, port: int) -> bool:
    return bool(info) and info.get("cluster_name") == CLUSTER_NAME and info.get("name") == f"warwatch-{port}"  # type: ignore[union-attr]


def status(port: int | None = None) -> dict[str, Any]:
    """What runs on the port: ``{"running", "url", "engine", "version", "health", "managed", "pid",
    "node_dir"}``. ``managed`` is True when the node was started from this data dir."""
    p = _port(port)
    ndir = node_dir(p)
    state = _read_state(ndir) or {}
    info = _probe(p)
    pid = _server_pid(ndir)
    managed = bool(state) and (_pid_alive(state.get("pid")) or _pid_alive(pid))
    result: dict[str, Any] = {
        "running": info is not None,
        "url": _url(p),
        "engine": info["engine"] if info else state.get("engine"),
        "version": info["version"] if info else state.get("version"),
        "health": _health(p) if info else None,
        "managed": managed,
        "ours": _ours(info, p),
        "pid": pid if managed else None,
        "node_dir": str(ndir),
    }
    return result


def start(port: int | None = None, engine: str | None = None) -> str:
    """Start the node on 127.0.0.1:port (idempotent) and wait until it is at least yellow.
    Returns its URL. Raises LocalNodeError with a clear message (and the log's last lines)."""
    p = _port(port)
    spec = _engine_spec(engine)
    url = _url(p)
    ndir = node_dir(p)
    ndir.mkdir(parents=True, exist_ok=True)
    with _file_lock(ndir / ".lock"):
        info = _probe(p)
        if info is not None:
            if not _ours(info, p):
                raise LocalNodeError(
                    f"port {p} on {HOST} is already taken by another HTTP service "
                    f"({info.get('cluster_name', '?')}/{info.get('name', '?')}); choose another port with --port"
                )
            running = info["engine"]
            if engine is not None and running != spec.name:
                raise LocalNodeError(
                    f"a {running} node already runs on port {p}; stop it first (warwatch local-es stop --port {p})"
                )
            _wait_ready(p, None, ndir, time.monotonic() + get_settings().local_es.start_timeout)
            logger.info("%s node already running at %s", running, url)
            return url
        if _port_in_use(p):
            raise LocalNodeError(
                f"port {p} on {HOST} is already in use by another process; choose another port"
            )
        old = _read_state(ndir)
        if old and _pid_alive(old.get("pid")):
            # a previous start of ours is still alive but not answering: clean it up first
            logger.warning("stopping an unresponsive node (pid %s) on port %d", old.get("pid"), p)
            _stop_locked(p, ndir)

        home = fetch(spec.name)
        java_home = find_java(spec.min_java)
        ids = _ensure_user()
        for sub in ("data", "logs", "tmp"):
            (ndir / sub).mkdir(exist_ok=True)
        conf = _write_config(spec, home, ndir, p)
        with contextlib.suppress(FileNotFoundError):
            (ndir / "node.pid").unlink()
        console = ndir / "console.log"
        console.write_bytes(b"")
        if ids is not None:
            uid, gid = ids
            _ensure_traversable(home / spec.launcher, uid, gid)
            _ensure_traversable(ndir, uid, gid)
            _chown_tree(ndir, uid, gid)
        env = {
            "PATH": os.environ.get("PATH", "/usr/local/bin:/usr/bin:/bin"),
            "LANG": "C.UTF-8",
            "HOME": str(ndir),
            f"{spec.env_prefix}_JAVA_HOME": str(java_home),
            f"{spec.env_prefix}_PATH_CONF": str(conf),
            f"{spec.env_prefix}_TMPDIR": str(ndir / "tmp"),
        }
        cmd = [str(home / spec.launcher), "-p", str(ndir / "node.pid")]
        logger.info("starting %s %s on %s (java %s, data %s)", spec.name, spec.version, url, java_home, ndir)
        with open(console, "ab") as out:
            popen_kw: dict[str, Any] = {}
            if ids is not None:
                popen_kw = {"user": ids[0], "group": ids[1], "extra_groups": []}
            proc = subprocess.Popen(  # noqa: S603 - fixed command
                cmd,
                cwd=home,
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
                close_fds=True,
                **popen_kw,
            )
        state = {
            "pid": proc.pid,
            "engine": spec.name,
            "version": spec.version,
            "port": p,
            "url": url,
            "install_dir": str(home),
            "java_home": str(java_home),
            "started_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        }
        (ndir / STATE_FILE).write_text(json.dumps(state, indent=2) + "\n", encoding="utf-8")
        try:
            _wait_ready(p, proc, ndir, time.monotonic() + get_settings().local_es.start_timeout)
        except LocalNodeError:
            _stop_locked(p, ndir)
            raise
        logger.info("%s %s is up at %s", spec.name, spec.version, url)
        return url


def _wait_ready(port: int, proc: subprocess.Popen[bytes] | None, ndir: Path, deadline: float) -> None:
    last = "no answer"
    while True:
        if proc is not None and proc.poll() is not None:
            raise LocalNodeError(
                f"the search node on port {port} exited with code {proc.returncode} while starting "
                f"(logs in {ndir / 'logs'}){_log_tail(ndir)}"
            )
        info = _probe(port, timeout=2.0)
        if info is not None:
            if not _ours(info, port):
                raise LocalNodeError(f"port {port} was taken by another service while the node was starting")
            health = _health(port, timeout=5.0)
            if health in ("yellow", "green"):
                return
            last = f"cluster health {health}"
        if time.monotonic() > deadline:
            raise LocalNodeError(
                f"the search node on port {port} was not ready (at least yellow) in time ({last}; "
                f"logs in {ndir / 'logs'}){_log_tail(ndir)}"
            )
        time.sleep(0.5)


def _signal_all(pids: list[int], pgid: int | None, sig: int) -> None:
    if pgid and _pid_alive(pgid):
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(pgid, sig)
    for pid in pids:
        if _pid_alive(pid):
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.kill(pid, sig)


def _children(pid: int) -> list[int]:
    kids: list[int] = []
    with contextlib.suppress(OSError):
        for task in Path(f"/proc/{pid}/task").iterdir():
            with contextlib.suppress(OSError, ValueError):
                kids.extend(int(x) for x in (task / "children").read_text().split())
    return kids


def _stop_locked(port: int, ndir: Path, timeout: float = 60.0) -> bool:
    state = _read_state(ndir) or {}
    pgid = state.get("pid")
    pids = [pid for pid in (pgid, _server_pid(ndir)) if isinstance(pid, int) and pid > 0]
    if not any(_pid_alive(pid) for pid in pids):
        # not started from this data dir: a node of ours may still answer on the port (another
        # cwd or data dir); ask it for its process id
        info = _probe(port)
        if _ours(info, port):
            if not info or not info.get("pid"):  # type: ignore[union-attr]
                raise LocalNodeError(f"cannot find the process id of the node on port {port}")
            pids = [int(info["pid"])]  # type: ignore[index]
            pgid = None
        else:
            with contextlib.suppress(FileNotFoundError):
                (ndir / STATE_FILE).unlink()
            return False
    # include every descendant (the launcher's server JVM) in case it left the process group
    for pid in list(pids):
        pids.extend(_children(pid))
    logger.info("stopping the search node on port %d (pids %s)", port, pids)
    _signal_all(pids, pgid, signal.SIGTERM)
    deadline = time.monotonic() + timeout
    while any(_pid_alive(pid) for pid in pids) and time.monotonic() < deadline:
        time.sleep(0.2)
    if any(_pid_alive(pid) for pid in pids):
        logger.warning("the node did not stop within %.0fs; killing it", timeout)
        _signal_all(pids, pgid, signal.SIGKILL)
        kill_deadline = time.monotonic() + 10
        while any(_pid_alive(pid) for pid in pids) and time.monotonic() < kill_deadline:
            time.sleep(0.1)
    alive = [pid for pid in pids if _pid_alive(pid)]
    if alive:
        raise LocalNodeError(f"could not stop the search node on port {port} (pids still alive: {alive})")
    port_deadline = time.monotonic() + 10
    while _port_in_use(port) and time.monotonic() < port_deadline:
        time.sleep(0.1)
    for name in (STATE_FILE, "node.pid"):
        with contextlib.suppress(FileNotFoundError):
            (ndir / name).unlink()
    return True


def stop(port: int | None = None) -> bool:
    """Stop the node on the port (its whole process tree) and wait until it is gone.
    Returns True if a node was stopped, False if none was running."""
    p = _port(port)
    ndir = node_dir(p)
    if not ndir.exists() and not _ours(_probe(p), p):
        return False
    ndir.mkdir(parents=True, exist_ok=True)
    with _file_lock(ndir / ".lock"):
        stopped = _stop_locked(p, ndir)
    if stopped:
        logger.info("stopped the search node on port %d", p)
    return stopped


# ---------------------------------------------------------------------------------------------
# python -m warwatch.localnode
# ---------------------------------------------------------------------------------------------


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m warwatch.localnode", description=__doc__.split("\n")[0])
    parser.add_argument("action", choices=["fetch", "start", "stop", "status"])
    parser.add_argument("--port", type=int, default=None, help="HTTP port (default: settings.local_es.port)")
    parser.add_argument("--engine", choices=sorted(ENGINES), default=None, help=f"default: {DEFAULT_ENGINE}")
    parser.add_argument("-q", "--quiet", action="store_true")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING if args.quiet else logging.INFO, format="%(message)s")
    try:
        if args.action == "fetch":
            print(fetch(args.engine))
        elif args.action == "start":
            print(start(args.port, args.engine))
        elif args.action == "stop":
            print("stopped" if stop(args.port) else "not running")
        else:
            st = status(args.port)
            print(json.dumps(st, indent=2))
            return 0 if st["running"] else 3
    except LocalNodeError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
