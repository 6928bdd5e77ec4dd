"""Start, stop and status of a node, managing only processes it can prove are its own."""

from __future__ import annotations

import contextlib
import json
import logging
import os
import signal
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from indexing.settings import get_settings
from warwatch.localnode import engines, proc, secure, user
from warwatch.localnode import probe as probe_mod
from warwatch.localnode.engines import (
    CLUSTER_NAME,
    ENGINES,
    HOST,
    LOG_TAIL_LINES,
    STATE_FILE,
    Cluster,
    EngineSpec,
    LocalNodeError,
    check_port,
    engine_spec,
    node_dir,
    url_of,
)  # fmt: skip
from warwatch.localnode.java import find_java
from warwatch.localnode.maven import fetch
from warwatch.localnode.nodeconfig import write_config
from warwatch.localnode.probe import claims_ours, health, port_in_use, probe

logger = logging.getLogger(__name__)

STOP_TIMEOUT = 60.0
KILL_TIMEOUT = 10.0


# --------------------------------------------------------------------------- state and proof
def read_state(ndir: Path) -> dict[str, Any]:
    try:
        data = json.loads(user.read_nofollow(ndir / STATE_FILE, 1 << 20) or b"{}")
    except ValueError:
        return {}
    return data if isinstance(data, dict) else {}


def write_state(ndir: Path, state: dict[str, Any]) -> None:
    tmp = ndir / f".{STATE_FILE}.{os.getpid()}"
    os.close(user.create_fresh(tmp, (json.dumps(state, indent=2) + "\n").encode()))
    os.replace(tmp, ndir / STATE_FILE)


def drop_state(ndir: Path) -> None:
    with contextlib.suppress(FileNotFoundError):
        os.unlink(ndir / STATE_FILE)


def proven_processes(state: dict[str, Any]) -> list[proc.Identity]:
    """The recorded processes (launcher, server) that are still exactly the ones recorded."""
    found: list[proc.Identity] = []
    for key in ("launcher", "server"):
        ident = proc.Identity.from_json(state.get(key))
        if ident is not None and proc.same_process(ident) and ident.pid not in {i.pid for i in found}:
            found.append(ident)
    return found


def _is_node_process(ident: proc.Identity, uid: int) -> bool:
    """A JVM of one of our engines, run by the node user from a distribution we unpacked."""
    homes = [a.split("=", 1)[1] for a in ident.cmdline if a.startswith(("-Dopensearch.path.home=", "-Des.path.home="))]
    roots = (engines.CACHE_DIR, engines.FALLBACK_ROOT / "dist")
    return (ident.uid == uid and any(s.main_class in ident.cmdline for s in ENGINES.values())
            and any(Path(h).is_relative_to(r) for h in homes for r in roots))  # fmt: skip


def socket_proof(port: int) -> proc.Identity | None:
    """The node process that holds the listening socket on the port, when the kernel says so and
    it is provably one of ours (for a node started from another data dir, or an older warwatch)."""
    uid = user.node_uid()
    if uid is None:
        return None
    for pid in proc.listener_pids(port):
        ident = proc.identify(pid)
        if ident is not None and _is_node_process(ident, uid):
            return ident
    return None


def _log_tail(rundir: Path) -> str:
    """The last lines of the node's server log (or its console output), indented, for errors."""
    best: list[str] = []
    logs = rundir / "logs"
    clustered = sorted(logs.glob(f"{CLUSTER_NAME}-[0-9]*.log")) if logs.is_dir() else []
    for cand in (logs / f"{CLUSTER_NAME}.log", *[c for c in clustered if "_" not in c.name], rundir / "console.log"):
        text = user.read_nofollow(cand, 64 * 1024, tail=True).decode("utf-8", errors="replace")
        lines = [ln for ln in text.splitlines() if ln.strip()][-LOG_TAIL_LINES:]
        if lines and (not best or any(("ERROR" in ln or "Exception" in ln) for ln in lines)):
            best = lines
    return "\n" + "\n".join(f"    | {ln[:400]}" for ln in best) if best else ""


# --------------------------------------------------------------------------- status
def running_engine(info: dict[str, Any], state: dict[str, Any]) -> str:
    """The engine (an ``ENGINES`` name) of the node that answers: the one recorded when it was
    started, if it is of the product that answers (``opensearch-knn`` answers as ``opensearch``),
    else the product itself."""
    recorded = state.get("engine")
    if isinstance(recorded, str) and recorded in ENGINES and ENGINES[recorded].product == info["engine"]:
        return recorded
    return str(info["engine"])


def status(port: int | None = None) -> dict[str, Any]:
    """What runs on the port: ``{"running", "url", "engine", "version", "health", "managed", "ours",
    "pid", "node_dir", "runtime_dir"}``. ``managed``: a node started from this data dir, proven
    alive by its recorded identity; ``ours``: what answers is provably a node started here."""
    p = check_port(port)
    ndir = node_dir(p)
    state = read_state(ndir)
    register_access(p, ndir, bool(state.get("secure")))
    info = probe(p)
    proven = proven_processes(state)
    server = proven[-1].pid if proven else None
    return {
        "running": info is not None,
        "url": url_of(p),
        "engine": running_engine(info, state) if info else state.get("engine"),
        "version": info["version"] if info else state.get("version"),
        "health": health(p) if info else None,
        "managed": bool(proven),
        "ours": claims_ours(info, p) and (bool(proven) or socket_proof(p) is not None),
        "pid": server,
        "node_dir": str(ndir),
        "runtime_dir": state.get("runtime_dir") if proven else None,
    }


# --------------------------------------------------------------------------- stop
def _terminate(family: list[proc.Identity], port: int) -> None:
    """SIGTERM, then SIGKILL, to every process of the family that is still the one identified."""
    for sig, wait in ((signal.SIGTERM, STOP_TIMEOUT), (signal.SIGKILL, KILL_TIMEOUT)):
        if sig == signal.SIGKILL:
            logger.warning("the node did not stop within %.0fs; killing it", STOP_TIMEOUT)
        for ident in family:
            proc.signal_if_same(ident, sig)
        deadline = time.monotonic() + wait
        while any(proc.same_process(i) for i in family) and time.monotonic() < deadline:
            time.sleep(0.2)
        if not any(proc.same_process(i) for i in family):
            return
    alive = [i.pid for i in family if proc.same_process(i)]
    raise LocalNodeError(f"could not stop the search node on port {port} (pids still alive: {alive})")


def _family(roots: list[proc.Identity]) -> list[proc.Identity]:
    """The proven processes and their descendants (the launcher's JVMs), identified now."""
    family = list(roots)
    for root in roots:
        for pid in proc.descendants(root.pid):
            ident = proc.identify(pid)
            if ident is not None and ident.pid not in {i.pid for i in family}:
                family.append(ident)
    return family


def stop_locked(port: int, ndir: Path) -> bool:
    roots = proven_processes(read_state(ndir))
    if not roots and claims_ours(probe(port), port):
        ident = socket_proof(port)
        if ident is None:
            raise LocalNodeError(
                f"the service on port {port} answers as {CLUSTER_NAME} but is not a process this tool "
                "started (its identity cannot be proven); not signalling it"
            )
        roots = [ident]
    if not roots:
        drop_state(ndir)  # stale (another boot, a reused PID): nothing of ours to stop
        return False
    family = _family(roots)
    logger.info("stopping the search node on port %d (pids %s)", port, [i.pid for i in family])
    _terminate(family, port)
    port_deadline = time.monotonic() + KILL_TIMEOUT
    while port_in_use(port) and time.monotonic() < port_deadline:
        time.sleep(0.1)
    drop_state(ndir)
    return True


def stop(port: int | None = None) -> bool:
    """Stop the node on the port (its whole process tree) and wait until it is gone.
    Returns True if a node was stopped, False if none of ours was running."""
    p = check_port(port)
    ndir = node_dir(p)
    register_access(p, ndir, bool(read_state(ndir).get("secure")))
    if not ndir.exists() and not claims_ours(probe(p), p):
        return False
    user.ensure_root_dir(ndir)
    with user.file_lock(ndir / ".lock"):
        stopped = stop_locked(p, ndir)
    if stopped:
        logger.info("stopped the search node on port %d", p)
    return stopped


# --------------------------------------------------------------------------- start
def _wait_ready(port: int, child: subprocess.Popen[bytes] | None, rundir: Path, deadline: float) -> None:
    last = "no answer"
    while True:
        if child is not None and child.poll() is not None:
            raise LocalNodeError(
                f"the search node on port {port} exited with code {child.returncode} while starting "
                f"(logs in {rundir / 'logs'}){_log_tail(rundir)}"
            )
        info = probe(port, timeout=2.0)
        if info is not None:
            if not claims_ours(info, port):
                raise LocalNodeError(f"port {port} was taken by another service while the node was starting")
            status_ = health(port, timeout=5.0)
            if status_ in ("yellow", "green"):
                return
            last = f"cluster health {status_}"
        if time.monotonic() > deadline:
            raise LocalNodeError(
                f"the search node on port {port} was not ready (at least yellow) in time ({last}; "
                f"logs in {rundir / 'logs'}){_log_tail(rundir)}"
            )
        time.sleep(0.5)


def _already_running(port: int, spec: EngineSpec, engine: str | None, ndir: Path) -> bool:
    """True when a node of ours already serves the port; raises when something else holds it."""
    info = probe(port)
    if info is None:
        if port_in_use(port):
            raise LocalNodeError(f"port {port} on {HOST} is already in use by another process; choose another port")
        return False
    if not claims_ours(info, port):
        raise LocalNodeError(
            f"port {port} on {HOST} is already taken by another HTTP service "
            f"({info.get('cluster_name', '?')}/{info.get('name', '?')}); choose another port with --port"
        )
    if not proven_processes(read_state(ndir)) and socket_proof(port) is None:
        raise LocalNodeError(
            f"port {port} on {HOST} answers as {CLUSTER_NAME} but is not a node this tool started "
            "(its process cannot be proven); choose another port with --port"
        )
    running = running_engine(info, read_state(ndir))
    if engine is not None and running != spec.name:
        raise LocalNodeError(
            f"a {running} node already runs on port {port}; stop it first (warwatch local-es stop --port {port})"
        )
    return True


def _prepare(port: int, spec: EngineSpec, ndir: Path, cluster: Cluster | None = None,
             secured: bool = False) -> tuple[Path, Path, Path, user.Ids | None]:
    """The distribution, the node's directories and its config, ready to start."""
    ids = user.ensure_user()
    home = user.reachable_install(fetch(spec.name), ids)
    rundir = user.runtime_dir(ndir, port, ids)
    for sub in user.NODE_SUBDIRS:
        user.ensure_node_subdir(rundir, sub, ids)
    with contextlib.suppress(FileNotFoundError):
        os.unlink(rundir / "run" / "node.pid")
    if not secured:
        return home, rundir, write_config(spec, home, rundir, port, ids, cluster), ids
    files = {**secure.ensure_material(ndir), "roles.yml": secure.roles_yml(get_settings().index_prefix)}
    conf = write_config(spec, home, rundir, port, ids, cluster, secure.YML_LINES, files)
    java = find_java(spec.min_java)
    secure.set_bootstrap_password(home, conf, java, ndir, ids)
    secure.add_file_user(home, conf, java, ndir, ids)
    return home, rundir, conf, ids


def _spawn(spec: EngineSpec, home: Path, rundir: Path, conf: Path, ids: user.Ids | None) -> subprocess.Popen[bytes]:
    java_home = find_java(spec.min_java)
    env = {
        "PATH": os.environ.get("PATH", "/usr/local/bin:/usr/bin:/bin"),
        "LANG": "C.UTF-8",
        "HOME": str(rundir / "tmp"),
        f"{spec.env_prefix}_JAVA_HOME": str(java_home),
        f"{spec.env_prefix}_PATH_CONF": str(conf),
        f"{spec.env_prefix}_TMPDIR": str(rundir / "tmp"),
    }
    cmd = [str(home / spec.launcher), "-p", str(rundir / "run" / "node.pid")]
    logger.info("starting %s %s (java %s, files in %s)", spec.name, spec.version, java_home, rundir)
    popen_kw: dict[str, Any] = {"user": ids[0], "group": ids[1], "extra_groups": []} if ids else {}
    console = user.create_fresh(rundir / "console.log")
    try:
        return subprocess.Popen(  # noqa: S603 - fixed command
            cmd, cwd=home, env=env, stdin=subprocess.DEVNULL, stdout=console, stderr=subprocess.STDOUT,
            start_new_session=True, close_fds=True, **popen_kw,
        )  # fmt: skip
    finally:
        os.close(console)


def _record_identities(ndir: Path, state: dict[str, Any], child: subprocess.Popen[bytes], rundir: Path) -> None:
    """Once the node is up (the launcher has exec'd): the launcher's full identity and the
    server's, whose PID (written by the node) counts only if it descends from the launcher."""
    launcher = proc.identify(child.pid)
    try:
        server_pid = int(user.read_nofollow(rundir / "run" / "node.pid", 32).strip() or 0)
    except ValueError:
        server_pid = 0
    server = proc.identify(server_pid) if server_pid and proc.descends_from(server_pid, child.pid) else None
    state["launcher"] = launcher.as_json() if launcher else state.get("launcher")
    state["server"] = server.as_json() if server else None
    known = server or launcher
    state["pid"] = known.pid if known else child.pid
    write_state(ndir, state)


@dataclass
class Launch:
    """A node spawned but not yet known to be ready."""

    port: int
    ndir: Path
    rundir: Path
    child: subprocess.Popen[bytes]
    launcher: proc.Identity | None
    state: dict[str, Any]


def _begin(port: int, spec: EngineSpec, ndir: Path, cluster: Cluster | None = None,
           secured: bool = False) -> Launch:
    """Spawn the node and record it (state file) without waiting for it."""
    home, rundir, conf, ids = _prepare(port, spec, ndir, cluster, secured)
    child = _spawn(spec, home, rundir, conf, ids)
    launcher = proc.identify(child.pid)
    state: dict[str, Any] = {
        "pid": child.pid, "engine": spec.name, "version": spec.version, "port": port, "url": url_of(port),
        "install_dir": str(home), "runtime_dir": str(rundir),
        "started_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        # the command line is recorded once the launcher has exec'd the JVM
        "launcher": {**launcher.as_json(), "cmdline": []} if launcher else None,
        "cluster": cluster.as_json() if cluster else None, "secure": secured,
    }  # fmt: skip
    write_state(ndir, state)
    return Launch(port, ndir, rundir, child, launcher, state)


def _finish(launch: Launch, deadline: float) -> None:
    """Wait until the spawned node is at least yellow; stop it (and raise) when it is not."""
    try:
        _wait_ready(launch.port, launch.child, launch.rundir, deadline)
    except LocalNodeError:
        abandon(launch)
        raise
    _record_identities(launch.ndir, launch.state, launch.child, launch.rundir)


def abandon(launch: Launch) -> None:
    """Stop a spawned node that will not be used, and forget it."""
    _terminate(_family([launch.launcher]) if launch.launcher else [], launch.port)
    drop_state(launch.ndir)


def _launch(port: int, spec: EngineSpec, ndir: Path, secured: bool = False) -> None:
    _finish(_begin(port, spec, ndir, None, secured), time.monotonic() + get_settings().local_es.start_timeout)


def register_access(port: int, ndir: Path, secured: bool | None = None) -> None:
    """How the probes ask the node on ``port``: over TLS as ``elastic`` when it is secured
    (``secured``, else what its state says), plain HTTP otherwise."""
    if secured is None:
        secured = bool(read_state(ndir).get("secure"))
    if secured:
        probe_mod.ACCESS[port] = (str(secure.secure_dir(ndir) / "ca.crt"), "elastic", secure.password(ndir))
    else:
        probe_mod.ACCESS.pop(port, None)


def prepare_port(port: int, spec: EngineSpec, engine: str | None, ndir: Path) -> bool:
    """Under the node's lock: True when a node of ours already serves the port; otherwise an
    unresponsive node of ours is stopped and its state dropped, ready for a launch."""
    if _already_running(port, spec, engine, ndir):
        return True
    if proven_processes(read_state(ndir)):  # ours, alive, but not answering: clean it up first
        logger.warning("stopping an unresponsive node on port %d", port)
        stop_locked(port, ndir)
    drop_state(ndir)
    return False


def start(port: int | None = None, engine: str | None = None, *, secured: bool = False) -> str:
    """Start the node on 127.0.0.1:port (idempotent) and wait until it is at least yellow.
    ``secured``: Elasticsearch with security on (secure.py: TLS, the elastic password, API keys).
    Returns its URL. Raises LocalNodeError with a clear message (and the log's last lines)."""
    p = check_port(port)
    spec = engine_spec(engine)
    if secured and spec.product != "elasticsearch":
        raise LocalNodeError("--secure needs --engine elasticsearch (its x-pack-security); OpenSearch's "
                             "integ-test-zip has no security plugin")
    ndir = node_dir(p)
    user.ensure_root_dir(ndir)
    with user.file_lock(ndir / ".lock"):
        if secured:
            secure.ensure_material(ndir)
        register_access(p, ndir, secured or bool(read_state(ndir).get("secure")))
        if prepare_port(p, spec, engine, ndir):
            _wait_ready(p, None, ndir, time.monotonic() + get_settings().local_es.start_timeout)
            logger.info("node already running at %s", url_of(p))
            return url_of(p)
        register_access(p, ndir, secured)
        _launch(p, spec, ndir, secured)
    logger.info("%s %s is up at %s", spec.name, spec.version, url_of(p))
    return url_of(p)
