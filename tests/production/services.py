"""The production shape's services, started natively on 127.0.0.1 for the `production` tests:
Postgres (Airflow's metadata database and Celery's result backend), Redis (Celery's broker) and
Airflow as deployed (CeleryExecutor: api-server, scheduler, dag-processor and Celery workers, each
a process of its own). README "Production shape" lists the same commands for running it by hand.

Every process is started in a session of its own and recorded (pid and start time) in
``RUN_DIR/processes.json``; :func:`cleanup` stops whatever a record names that still runs (what
`make test-production` calls after pytest, however pytest ended). Nothing is killed by name.
"""

from __future__ import annotations

import json
import os
import pwd
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

REPO_ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent

#: Not the standard ports: the shared machine runs other things on those.
POSTGRES_PORT = 55432
REDIS_PORT = 56379
API_PORT = 28080

DB_USER = "airflow"
DB_NAME = "airflow"
ADMIN = "admin"


class ServiceError(RuntimeError):
    """A service did not start or answer in time (its log's tail is in the message)."""


def tail(path: Path, chars: int = 3000) -> str:
    try:
        return path.read_text(errors="replace")[-chars:]
    except OSError as exc:
        return f"({path}: {exc})"


def port_free(port: int) -> bool:
    with socket.socket() as s:
        # as the servers bind: connections of a previous run in TIME_WAIT do not make it busy
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def require_free(port: int, what: str) -> None:
    if not port_free(port):
        raise ServiceError(f"{what}: 127.0.0.1:{port} is in use (another run, or something else on this machine)")


def wait_until(check: Callable[[], bool], timeout: float, what: str, log: Path | None = None,
               alive: Callable[[], bool] | None = None, interval: float = 0.5) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return
        if alive is not None and not alive():
            raise ServiceError(f"{what} exited while starting:\n{tail(log) if log else ''}")
        time.sleep(interval)
    raise ServiceError(f"{what} not ready in {timeout:.0f} s:\n{tail(log) if log else ''}")


# --- process records ---------------------------------------------------------------------------

def _start_time(pid: int) -> str | None:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[19]
    except (OSError, IndexError):
        return None


@dataclass
class Proc:
    name: str
    proc: subprocess.Popen[bytes]
    log: Path

    @property
    def pid(self) -> int:
        return self.proc.pid

    def alive(self) -> bool:
        return self.proc.poll() is None


@dataclass
class Registry:
    """The processes a run started (a file, so a later `cleanup` finds them too)."""

    path: Path
    records: dict[str, dict[str, object]] = field(default_factory=dict)

    def add(self, name: str, pid: int) -> None:
        self.records[name] = {"pid": pid, "start": _start_time(pid)}
        self._save()

    def remove(self, name: str) -> None:
        self.records.pop(name, None)
        self._save()

    def _save(self) -> None:
        tmp = self.path.with_suffix(".tmp")
        tmp.write_text(json.dumps(self.records, indent=1))
        tmp.replace(self.path)


def spawn(registry: Registry, name: str, argv: list[str], env: Mapping[str, str], log: Path,
          user: str | None = None, cwd: Path = REPO_ROOT) -> Proc:
    """Start ``argv`` in a session of its own (its process group is the whole service)."""
    fh = log.open("ab")
    try:
        proc = subprocess.Popen(argv, env=dict(env), cwd=cwd, stdout=fh, stderr=subprocess.STDOUT,
                                stdin=subprocess.DEVNULL, start_new_session=True, user=user)
    finally:
        fh.close()
    registry.add(name, proc.pid)
    return Proc(name, proc, log)


def stop(registry: Registry, p: Proc, sig: signal.Signals = signal.SIGTERM, timeout: float = 60) -> int:
    """Signal the process group, wait, SIGKILL it past ``timeout``; returns the exit status."""
    if p.alive():
        try:
            os.killpg(p.pid, sig)
        except ProcessLookupError:
            pass
        try:
            p.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            os.killpg(p.pid, signal.SIGKILL)
            p.proc.wait(timeout=30)
    _reap_group(p.pid)
    registry.remove(p.name)
    return int(p.proc.returncode)


def _reap_group(pgid: int) -> None:
    """Members of a stopped service's group that outlived its leader (task processes) go too."""
    try:
        os.killpg(pgid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass


def cleanup(run_dir: Path) -> list[str]:
    """Stop every recorded process group still running (the same pid *and* start time, so a
    recycled pid is left alone) and the Postgres cluster of ``run_dir``; returns what it stopped."""
    stopped: list[str] = []
    records: dict[str, Any] = {}
    for records_file in sorted(run_dir.glob("*processes.json")):  # processes.json, s3proxy-processes.json
        try:
            records.update(json.loads(records_file.read_text()))
        except (OSError, ValueError):
            continue
    for name, rec in records.items():
        pid = int(rec["pid"])
        if rec.get("start") is None or _start_time(pid) != rec["start"]:
            continue
        try:
            os.killpg(pid, signal.SIGTERM)
            time.sleep(2)
            os.killpg(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        stopped.append(name)
    pgdata = run_dir / "postgres" / "data"
    if (pgdata / "postmaster.pid").exists():
        _pg_ctl(pgdata, "stop", "-m", "fast")
        stopped.append("postgres")
    return stopped


# --- Postgres ---------------------------------------------------------------------------------

def _service_user(name: str) -> str | None:
    """As root, the unprivileged system user a service runs as (Debian's packages create
    ``postgres`` and ``redis``; Postgres refuses to run as root); otherwise ourselves (None)."""
    if os.geteuid() != 0:
        return None
    try:
        pwd.getpwnam(name)
    except KeyError as exc:
        raise ServiceError(f"the system user {name!r} is missing: install the Debian package "
                           f"(make test-production does)") from exc
    return name


def _chown(path: Path, user: str | None) -> None:
    if user is not None:
        pw = pwd.getpwnam(user)
        os.chown(path, pw.pw_uid, pw.pw_gid)


def pg_bin(tool: str) -> str:
    found = shutil.which(tool)
    if found:
        return found
    for candidate in sorted(Path("/usr/lib/postgresql").glob(f"*/bin/{tool}"), reverse=True):
        return str(candidate)
    raise ServiceError(f"{tool} not found: install Debian's postgresql (make test-production does)")


def _pg_ctl(pgdata: Path, *args: str) -> subprocess.CompletedProcess[str]:
    user = _service_user("postgres")
    return subprocess.run([pg_bin("pg_ctl"), "-D", str(pgdata), *args], user=user, capture_output=True,
                          text=True, timeout=120, check=False)


@dataclass
class Postgres:
    pgdata: Path
    password: str
    log: Path
    port: int = POSTGRES_PORT

    @property
    def sqlalchemy_url(self) -> str:
        return f"postgresql+psycopg2://{DB_USER}:{self.password}@127.0.0.1:{self.port}/{DB_NAME}"

    @property
    def dsn(self) -> str:
        """The libpq URL (what ``WARWATCH_STATE__DSN`` takes)."""
        return f"postgresql://{DB_USER}:{self.password}@127.0.0.1:{self.port}/{DB_NAME}"

    def stop(self) -> None:
        _pg_ctl(self.pgdata, "stop", "-m", "fast")


def start_postgres(run_dir: Path, port: int = POSTGRES_PORT) -> Postgres:
    """initdb a cluster in ``run_dir/postgres`` (password auth, superuser ``airflow``), start it on
    127.0.0.1:``port`` with ``pg_ctl`` and create the database."""
    require_free(port, "postgres")
    user = _service_user("postgres")
    home = run_dir / "postgres"
    home.mkdir()
    _chown(home, user)
    password = secrets.token_urlsafe(18)
    pwfile = home / "pwfile"
    pwfile.write_text(password + "\n")
    pwfile.chmod(0o600)
    _chown(pwfile, user)
    pgdata = home / "data"
    log = home / "postgres.log"
    init = subprocess.run([pg_bin("initdb"), "-D", str(pgdata), "-U", DB_USER, "--auth=scram-sha-256",
                           f"--pwfile={pwfile}", "-E", "UTF8", "--no-sync"],
                          user=user, capture_output=True, text=True, timeout=180, check=False)
    pwfile.unlink()
    if init.returncode != 0:
        raise ServiceError(f"initdb failed: {init.stdout[-1500:]}{init.stderr[-1500:]}")
    opts = (f"-c listen_addresses=127.0.0.1 -p {port} -c unix_socket_directories={home} "
            f"-c max_connections=300")
    started = _pg_ctl(pgdata, "start", "-w", "-t", "120", "-l", str(log), "-o", opts)
    if started.returncode != 0:
        raise ServiceError(f"pg_ctl start failed: {started.stderr[-1500:]}\n{tail(log)}")
    pg = Postgres(pgdata, password, log, port)
    created = subprocess.run([pg_bin("createdb"), "-h", "127.0.0.1", "-p", str(port), "-U", DB_USER,
                              DB_NAME], env={**os.environ, "PGPASSWORD": password}, capture_output=True,
                             text=True, timeout=60, check=False)
    if created.returncode != 0:
        pg.stop()
        raise ServiceError(f"createdb failed: {created.stderr[-1500:]}")
    return pg


# --- Redis ------------------------------------------------------------------------------------

@dataclass
class Redis:
    proc: Proc
    password: str

    @property
    def url(self) -> str:
        return f"redis://:{self.password}@127.0.0.1:{REDIS_PORT}/0"


def _redis_answers(password: str) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", REDIS_PORT), timeout=2) as s:
            s.sendall(f"AUTH {password}\r\nPING\r\n".encode())
            reply = b""
            deadline = time.monotonic() + 2
            while b"PONG" not in reply and time.monotonic() < deadline:
                chunk = s.recv(64)
                if not chunk:
                    break
                reply += chunk
            return b"PONG" in reply
    except OSError:
        return False


def start_redis(run_dir: Path, registry: Registry) -> Redis:
    """redis-server on 127.0.0.1:REDIS_PORT with a password (in its config file, never on the
    command line) and its files in ``run_dir/redis``."""
    require_free(REDIS_PORT, "redis")
    server = shutil.which("redis-server")
    if server is None:
        raise ServiceError("redis-server not found: install Debian's redis-server (make test-production does)")
    user = _service_user("redis")
    home = run_dir / "redis"
    home.mkdir()
    _chown(home, user)
    password = secrets.token_urlsafe(18)
    conf = home / "redis.conf"
    conf.write_text(f"bind 127.0.0.1\nport {REDIS_PORT}\nprotected-mode yes\nrequirepass {password}\n"
                    f"dir {home}\ndaemonize no\nappendonly yes\nsave \"\"\n")
    conf.chmod(0o600)
    _chown(conf, user)
    log = home / "redis.log"
    proc = spawn(registry, "redis", [server, str(conf)], os.environ, log, user=user, cwd=home)
    wait_until(lambda: _redis_answers(password), 60, "redis-server", log, proc.alive)
    return Redis(proc, password)


# --- Airflow ----------------------------------------------------------------------------------

def airflow_env(home: Path, pg: Postgres, redis: Redis, extra: Mapping[str, str]) -> dict[str, str]:
    """Airflow as deployed: Postgres metadata DB, CeleryExecutor, Redis broker, Postgres result
    backend; one JWT secret and Fernet key shared by every process (they check each other's tokens)."""
    from cryptography.fernet import Fernet

    env = dict(os.environ)
    env.pop("AIRFLOW__CORE__UNIT_TEST_MODE", None)
    env.update(
        PATH=f"{BIN}{os.pathsep}{env.get('PATH', '')}",
        AIRFLOW_HOME=str(home),
        AIRFLOW__CORE__DAGS_FOLDER=str(REPO_ROOT / "dags"),
        AIRFLOW__CORE__LOAD_EXAMPLES="False",
        AIRFLOW__CORE__EXECUTOR="CeleryExecutor",
        AIRFLOW__CORE__PARALLELISM="8",
        AIRFLOW__CORE__FERNET_KEY=Fernet.generate_key().decode(),
        AIRFLOW__DATABASE__SQL_ALCHEMY_CONN=pg.sqlalchemy_url,
        AIRFLOW__CELERY__BROKER_URL=redis.url,
        # The driver named: SQLAlchemy 2.1's default for postgresql:// is psycopg 3, not installed.
        AIRFLOW__CELERY__RESULT_BACKEND="db+" + pg.sqlalchemy_url,
        # A task the broker handed out and nobody acknowledged goes out again after this long
        # (acks_late): longer than any task may run (warwatch_backfill's 6 h execution_timeout).
        AIRFLOW__CELERY_BROKER_TRANSPORT_OPTIONS__VISIBILITY_TIMEOUT="86400",
        AIRFLOW__API__HOST="127.0.0.1",
        AIRFLOW__API__PORT=str(API_PORT),
        AIRFLOW__API__WORKERS="1",
        AIRFLOW__API__SECRET_KEY=secrets.token_urlsafe(32),
        AIRFLOW__API_AUTH__JWT_SECRET=secrets.token_urlsafe(32),
        AIRFLOW__CORE__EXECUTION_API_SERVER_URL=f"http://127.0.0.1:{API_PORT}/execution/",
        AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS=f"{ADMIN}:admin",
        AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE=str(home / "passwords.json"),
        # Several workers on one machine: each reports its own name as the tasks' hostname.
        AIRFLOW__CORE__HOSTNAME_CALLABLE="warwatch.workername.worker_hostname",
        AIRFLOW__DAG_PROCESSOR__REFRESH_INTERVAL="5",
        AIRFLOW__SCHEDULER__MIN_FILE_PROCESS_INTERVAL="5",
    )
    env.update(extra)
    return env


@dataclass
class Airflow:
    env: dict[str, str]
    home: Path
    logs: Path
    registry: Registry
    procs: dict[str, Proc] = field(default_factory=dict)
    workers: dict[str, tuple[str, int]] = field(default_factory=dict)  # name -> (queue, concurrency)

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{API_PORT}"

    def password(self) -> str:
        return str(json.loads((self.home / "passwords.json").read_text())[ADMIN])

    def start(self, name: str, argv: list[str], env: Mapping[str, str] | None = None) -> Proc:
        p = spawn(self.registry, name, [str(BIN / "airflow"), *argv], env or self.env, self.logs / f"{name}.log")
        self.procs[name] = p
        return p

    def start_worker(self, name: str) -> Proc:
        """``airflow celery worker`` named ``name`` (Celery ``name@host``, tasks' hostname ``name``).
        Serving logs is off: three workers on one machine would want one port; the api-server
        reads the task logs from the shared log folder."""
        queue, concurrency = self.workers[name]
        p = self.start(name, ["celery", "worker", "--queues", queue, "--concurrency", str(concurrency),
                              "--celery-hostname", f"{name}@%h", "--skip-serve-logs"],
                       env={**self.env, "WARWATCH_WORKER_NAME": name})
        log = p.log
        size = log.stat().st_size if log.exists() else 0
        wait_until(lambda: b" ready." in log.read_bytes()[size:], 240, f"celery worker {name}", log, p.alive)
        return p

    def stop_all(self) -> None:
        for p in reversed(list(self.procs.values())):
            stop(self.registry, p, timeout=60)
        self.procs.clear()

    def log_tails(self, chars: int = 4000) -> str:
        return "\n".join(f"----- {p.name} ({p.log}) -----\n{tail(p.log, chars)}" for p in self.procs.values())


def call(method: str, url: str, body: object = None, token: str | None = None, timeout: float = 60) -> object:
    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request(url, data=data, method=method)
    req.add_header("Content-Type", "application/json")
    if token:
        req.add_header("Authorization", f"Bearer {token}")
    with urllib.request.urlopen(req, timeout=timeout) as resp:  # noqa: S310 - loopback server
        raw = resp.read()
        return json.loads(raw) if raw and resp.headers.get_content_type() == "application/json" else raw


def _healthy(base: str, *components: str) -> bool:
    try:
        health = call("GET", f"{base}/api/v2/monitor/health", timeout=10)
    except (urllib.error.URLError, OSError, ValueError):
        return False
    return isinstance(health, dict) and all(
        (health.get(c) or {}).get("status") == "healthy" for c in components)


def create_airflow(run_dir: Path, pg: Postgres, redis: Redis, registry: Registry, extra: Mapping[str, str],
                   workers: Mapping[str, tuple[str, int]]) -> Airflow:
    """AIRFLOW_HOME, the admin's password file and the environment every process shares."""
    home = run_dir / "airflow-home"
    logs = run_dir / "logs"
    home.mkdir()
    logs.mkdir()
    (home / "passwords.json").write_text(json.dumps({ADMIN: secrets.token_urlsafe(18)}))
    (home / "passwords.json").chmod(0o600)
    return Airflow(airflow_env(home, pg, redis, extra), home, logs, registry, workers=dict(workers))


def boot_airflow(af: Airflow) -> None:
    """Migrate the metadata DB, then start api-server, scheduler, dag-processor and the workers."""
    require_free(API_PORT, "airflow api-server")
    migrate_log = af.logs / "db-migrate.log"
    with migrate_log.open("wb") as fh:
        migrated = subprocess.run([str(BIN / "airflow"), "db", "migrate"], env=af.env, cwd=REPO_ROOT, stdout=fh,
                                  stderr=subprocess.STDOUT, timeout=600, check=False)
    if migrated.returncode != 0:
        raise ServiceError(f"airflow db migrate failed:\n{tail(migrate_log)}")
    api = af.start("api-server", ["api-server", "--host", "127.0.0.1", "--port", str(API_PORT)])
    wait_until(lambda: _healthy(af.base, "metadatabase"), 300, "airflow api-server", api.log, api.alive, 2)
    scheduler = af.start("scheduler", ["scheduler"])
    processor = af.start("dag-processor", ["dag-processor"])
    wait_until(lambda: _healthy(af.base, "scheduler", "dag_processor"), 300, "scheduler and dag-processor",
               scheduler.log, lambda: scheduler.alive() and processor.alive(), 2)
    for name in af.workers:
        af.start_worker(name)


if __name__ == "__main__":  # `python -m tests.production.services cleanup RUN_DIR`
    if len(sys.argv) != 3 or sys.argv[1] != "cleanup":
        sys.exit("usage: python -m tests.production.services cleanup RUN_DIR")
    done = cleanup(Path(sys.argv[2]))
    print("stopped left-over services: " + ", ".join(done) if done else "no left-over services")  # noqa: T201
