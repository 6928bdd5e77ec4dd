"""docker-compose.yml, Dockerfile and .env.example: the production stack cannot be started here
(no Docker engine), so its shape is checked statically."""

from __future__ import annotations

import os
import re
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

ROOT = Path(__file__).resolve().parent.parent
COMPOSE: dict[str, Any] = yaml.safe_load((ROOT / "docker-compose.yml").read_text(encoding="utf-8"))  # PyYAML resolves the << merge keys
SERVICES: dict[str, dict[str, Any]] = COMPOSE["services"]
# ${VAR}, ${VAR:-default}, ${VAR-default}, ${VAR:?err}, ${VAR?err} and $VAR; $$ escapes a literal $.
VAR_RE = re.compile(r"(?<!\$)\$(?:\{([A-Za-z_][A-Za-z0-9_]*)(?:(:?[-?+])[^}]*)?\}|([A-Za-z_][A-Za-z0-9_]*))")
ONE_SHOT = {"secrets-check", "kibana-setup", "airflow-init", "warwatch-setup"}
SECRETS = ("ELASTIC_PASSWORD", "KIBANA_PASSWORD", "KIBANA_ENCRYPTION_KEY", "POSTGRES_PASSWORD",
           "AIRFLOW_ADMIN_PASSWORD", "AIRFLOW_FERNET_KEY", "AIRFLOW_API_SECRET_KEY", "AIRFLOW_JWT_SECRET", "REDIS_PASSWORD",
           "WARWATCH_ES_PASSWORD")
CHECK = ROOT / "scripts" / "check-secrets.sh"


def required(name: str) -> str:
    """How compose must reference a secret: refused when unset or empty."""
    return f"${{{name}:?set {name} in .env (see .env.example)}}"
AIRFLOW = {"airflow-apiserver", "airflow-scheduler", "airflow-dag-processor", "airflow-triggerer"}
CELERY_WORKERS = {"airflow-worker", "airflow-worker-crawl"}


def env_example() -> dict[str, str]:
    values: dict[str, str] = {}
    for n, line in enumerate((ROOT / ".env.example").read_text(encoding="utf-8").splitlines(), 1):
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        key, sep, value = line.partition("=")
        assert sep and re.fullmatch(r"[A-Z_][A-Z0-9_]*", key), f".env.example:{n}: not KEY=VALUE: {line!r}"
        assert key not in values, f".env.example:{n}: {key} defined twice"
        values[key] = value
    return values


def _env(service: dict[str, Any]) -> dict[str, str]:
    env = service.get("environment", {})
    if isinstance(env, list):
        env = dict(item.split("=", 1) for item in env)
    return {k: str(v) for k, v in env.items()}


def _strip_escapes(text: str) -> str:
    return text.replace("$$", "")


def _strings(node: Any) -> list[str]:
    """Every string scalar of the loaded file (keys too): what Compose interpolates, comments excluded."""
    if isinstance(node, dict):
        return [s for k, v in node.items() for s in _strings(k) + _strings(v)]
    if isinstance(node, list):
        return [s for item in node for s in _strings(item)]
    return [node] if isinstance(node, str) else []


def test_every_variable_is_defined_in_env_example() -> None:
    defined = env_example()
    used = {m.group(1) or m.group(3) for s in _strings(COMPOSE) for m in VAR_RE.finditer(_strip_escapes(s))}
    assert used, "the compose file uses no variables at all?"
    assert not used - defined.keys(), f"undefined in .env.example: {sorted(used - defined.keys())}"
    unused = defined.keys() - used
    assert not unused, f".env.example defines variables compose never uses: {sorted(unused)}"


def test_var_regex_understands_compose_syntax() -> None:
    sample = "a ${A} b ${B:-x} c ${C?err} d $D e $${NOT_ME} f $$NOR_ME"
    found = {m.group(1) or m.group(3) for m in VAR_RE.finditer(_strip_escapes(sample))}
    assert found == {"A", "B", "C", "D"}


def test_env_example_has_no_real_secrets() -> None:
    values = env_example()
    secret_keys = [k for k in values if re.search(r"PASSWORD|SECRET|_KEY$", k)]
    assert set(SECRETS) <= set(secret_keys)
    for key in secret_keys:
        assert values[key] == "", f"{key}: .env.example must not carry a usable (or placeholder) secret"
    ignored = (ROOT / ".gitignore").read_text(encoding="utf-8").split()
    assert ".env" in ignored


def _interpolate(text: str, env: dict[str, str]) -> str:
    """Compose's interpolation, enough to tell whether it refuses: ${VAR:?err} fails when VAR is
    unset or empty, ${VAR?err} when unset."""
    def sub(m: re.Match[str]) -> str:
        name, op = m.group(1) or m.group(3), m.group(2) or ""
        value = env.get(name)
        if op == ":?" and not value or op == "?" and value is None:
            raise ValueError(f"required variable {name} is missing a value")
        default = m.group(0)[len(name) + 2 + len(op):-1] if op in {":-", "-"} else ""
        return value if value or (op == "-" and value is not None) else default if op else value or ""

    return VAR_RE.sub(sub, _strip_escapes(text))


def test_every_secret_is_required_by_compose() -> None:
    refs = [(m.group(1) or m.group(3), m.group(2), m.group(0)) for s in _strings(COMPOSE)
            for m in VAR_RE.finditer(_strip_escapes(s))]  # fmt: skip
    for name in SECRETS:
        uses = [full for var, _op, full in refs if var == name]
        assert uses, f"{name} is never used"
        assert all(full == required(name) for full in uses), (name, uses)


def test_compose_refuses_the_unedited_env_example() -> None:
    env = env_example()
    for name in SECRETS:
        with pytest.raises(ValueError, match=f"required variable {name} is missing"):
            _interpolate(required(name), env)
    with pytest.raises(ValueError, match="is missing a value"):
        for text in _strings(COMPOSE):
            _interpolate(text, env)
    good = {**env, **{name: "Zq7-" + name.lower().replace("_", "-") + "-9xK2vLm" for name in SECRETS}}
    assert [_interpolate(text, good) for text in _strings(COMPOSE)]  # filled in, nothing refused


def _check(args: list[str], env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if k not in SECRETS}
    return subprocess.run(["sh", str(CHECK), *args], capture_output=True, text=True, timeout=30,
                          env={**clean, **env}, check=False)  # fmt: skip


GOOD = {
    "ELASTIC_PASSWORD": "q8Zr-Lm2vX_w9Tn", "KIBANA_PASSWORD": "u4Kc.Rb7yPq2Hs",
    "KIBANA_ENCRYPTION_KEY": "N3v8Qf2LkR7wZc1XbT5mYh9JdG4sPa6E",
    "POSTGRES_PASSWORD": "p9Wx-Ek3Rm7Tz", "AIRFLOW_ADMIN_PASSWORD": "h2Nd~Vq8Bw4Ly",
    "AIRFLOW_FERNET_KEY": "ZmDfcTF7_60GrrY167zsiPd67pEvs0aGOv2oasOM1Pg=",
    "AIRFLOW_API_SECRET_KEY": "r5Tg_Yh8Uj2Ik9Ol", "AIRFLOW_JWT_SECRET": "c3Vb+Nm6Qw1Ez7Rt",
    "REDIS_PASSWORD": "h7Jd-Pq3Wz8Lm2Xk", "WARWATCH_ES_PASSWORD": "w4Rt-Gy7Ui1Op5As",
}  # fmt: skip


def test_check_script_refuses_the_unedited_env_example() -> None:
    result = _check([str(ROOT / ".env.example")], {})
    assert result.returncode == 1
    for name in SECRETS:
        assert f"refused: {name} is empty" in result.stderr
    assert _check([], {}).returncode == 1  # nothing in the environment either


@pytest.mark.parametrize(
    ("name", "value", "reason"),
    [
        ("ELASTIC_PASSWORD", "changeme", "placeholder"),
        ("POSTGRES_PASSWORD", "changeme-changeme", "placeholder"),
        ("KIBANA_PASSWORD", "Password12345", "well-known"),
        ("AIRFLOW_ADMIN_PASSWORD", "short", "shorter than 12"),
        ("ELASTIC_PASSWORD", "aaaaaaaaaaaa", "too little entropy: 1 distinct"),
        ("REDIS_PASSWORD", "abababababababab", "too little entropy: 2 distinct"),
        ("AIRFLOW_API_SECRET_KEY", "Aa1-Aa1-Aa1-Aa1-", "too little entropy: 4 distinct"),
        ("KIBANA_ENCRYPTION_KEY", "0123456789" * 4, "10 distinct characters in 40 (at least 13"),
        ("AIRFLOW_JWT_SECRET", 'abc"def$ghi jkl', "may contain only"),
        ("KIBANA_ENCRYPTION_KEY", "N3v8Qf2LkR7wZc1", "at least 32"),
        ("AIRFLOW_FERNET_KEY", "N3v8Qf2LkR7wZc1XbT5mYh9JdG4sPa6E", "not a Fernet key"),
    ],
)
def test_check_script_refuses_bad_values(name: str, value: str, reason: str, tmp_path: Path) -> None:
    assert _check([], GOOD).returncode == 0
    result = _check([], {**GOOD, name: value})
    assert result.returncode == 1 and f"refused: {name}" in result.stderr and reason in result.stderr
    env_file = tmp_path / ".env"
    env_file.write_text("".join(f"{k}={v}\n" for k, v in {**GOOD, name: value}.items()))
    assert _check([str(env_file)], {}).returncode == 1
    env_file.write_text("".join(f"{k}={v}\n" for k, v in GOOD.items()))
    assert _check([str(env_file)], {}).returncode == 0


def test_every_service_waits_for_the_secrets_check() -> None:
    check = SERVICES["secrets-check"]
    assert check["command"] == ["sh", "/usr/local/bin/check-secrets.sh"]
    assert check["configs"] == [{"source": "check-secrets", "target": "/usr/local/bin/check-secrets.sh"}]
    assert COMPOSE["configs"]["check-secrets"]["file"] == "./scripts/check-secrets.sh" and CHECK.is_file()
    assert _env(check) == {name: required(name) for name in SECRETS}

    def reaches(name: str, seen: frozenset[str] = frozenset()) -> bool:
        deps = set(SERVICES[name].get("depends_on", {}))
        return "secrets-check" in deps or any(reaches(d, seen | {name}) for d in deps - seen)

    for name in set(SERVICES) - {"secrets-check"}:
        assert reaches(name), f"{name} may start before the secrets are checked"


def test_no_secret_on_a_command_line() -> None:
    """A password in a process's argv is visible to everyone in `ps`: secrets reach commands
    through printf (a shell builtin) into a pipe or a file, never as arguments."""
    texts = []
    for svc in SERVICES.values():
        texts += [" ".join(svc.get("command", []))] if isinstance(svc.get("command"), list) else []
        texts += [" ".join(svc.get("healthcheck", {}).get("test", [])[1:])]
    joined = "\n".join(texts)
    assert "printf" in joined
    for text in texts:
        assert not re.search(r"curl[^|;\n]*\s(-u|--user)\s", text), text
        for segment in re.split(r"\||;|&&|\n|\$\(|<\(", text):
            for name in SECRETS:
                if re.search(rf"\$\$\{{?{name}\b", segment):
                    assert segment.strip().startswith(("printf", "auth() { printf")), segment


def test_services_and_images() -> None:
    expected = {"elasticsearch", "kibana", "kibana-setup", "postgres", "warwatch-setup", *AIRFLOW, "airflow-init"}
    assert expected <= SERVICES.keys()
    version = env_example()["ELASTIC_VERSION"]
    assert re.fullmatch(r"(8\.19|9\.\d+)\.\d+", version), version
    assert SERVICES["elasticsearch"]["image"] == "docker.elastic.co/elasticsearch/elasticsearch:${ELASTIC_VERSION}"
    assert SERVICES["kibana"]["image"] == "docker.elastic.co/kibana/kibana:${ELASTIC_VERSION}"
    assert SERVICES["postgres"]["image"].startswith("postgres:")
    for name in AIRFLOW | {"airflow-init", "warwatch-setup"}:
        svc = SERVICES[name]
        assert svc["build"]["context"] == "." and svc["build"]["dockerfile"] == "Dockerfile", name
        assert svc["image"] == "warwatch:${WARWATCH_IMAGE_TAG}", name
    commands = {name: " ".join(SERVICES[name]["command"]) for name in AIRFLOW | ONE_SHOT}
    assert "api-server" in commands["airflow-apiserver"]
    assert commands["airflow-scheduler"] == "airflow scheduler"
    assert commands["airflow-dag-processor"] == "airflow dag-processor"
    assert commands["airflow-triggerer"] == "airflow triggerer"
    assert commands["airflow-init"] == "airflow db migrate"
    assert "warwatch es setup" in commands["warwatch-setup"]
    assert "warwatch kibana import --url http://kibana:5601" in commands["warwatch-setup"]
    assert "kibana_system/_password" in commands["kibana-setup"]


def test_elasticsearch_security_on_and_kibana_uses_kibana_system() -> None:
    es = _env(SERVICES["elasticsearch"])
    assert es["xpack.security.enabled"] == "true"
    assert es["ELASTIC_PASSWORD"] == required("ELASTIC_PASSWORD")
    assert es["discovery.type"] == "single-node"
    kb = _env(SERVICES["kibana"])
    assert kb["ELASTICSEARCH_USERNAME"] == "kibana_system"
    assert kb["ELASTICSEARCH_PASSWORD"] == required("KIBANA_PASSWORD")
    assert _env(SERVICES["kibana-setup"])["KIBANA_PASSWORD"] == required("KIBANA_PASSWORD")


def test_warwatch_containers_get_engine_settings() -> None:
    for name in AIRFLOW | CELERY_WORKERS | {"warwatch-setup", "airflow-init"}:
        env = _env(SERVICES[name])
        assert env["WARWATCH_ES_URL"] == "http://elasticsearch:9200", name
        # the pipeline's own user, not the elastic superuser (whose password it never gets)
        assert env["WARWATCH_ES_USER"] == required("WARWATCH_ES_USER"), name
        assert env["WARWATCH_ES_PASSWORD"] == required("WARWATCH_ES_PASSWORD"), name
        assert "ELASTIC_PASSWORD" not in "".join(env.values()), name
        assert "WARWATCH_ES_API_KEY" in env and "WARWATCH_INDEX_PREFIX" in env, name
    for name in AIRFLOW | CELERY_WORKERS | {"airflow-init"}:
        env = _env(SERVICES[name])
        assert env["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"].startswith("postgresql+psycopg2://"), name
        assert "@postgres:5432/" in env["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"]
        assert env["AIRFLOW__CORE__EXECUTION_API_SERVER_URL"] == "http://airflow-apiserver:8080/execution/"
        assert env["AIRFLOW__API_AUTH__JWT_SECRET"] == required("AIRFLOW_JWT_SECRET")  # shared by all components
        assert env["AIRFLOW__CORE__LOAD_EXAMPLES"] == "false"


def _setup_script_json(script: str, marker: str) -> dict[str, Any]:
    """The JSON document a heredoc of the setup script writes (``cat > FILE <<MARKER``)."""
    import json

    body = script.split(f"<<{marker}\n", 1)[1].split(f"\n{marker}\n", 1)[0]
    return dict(json.loads(body.replace("$${WARWATCH_INDEX_PREFIX}", "warwatch-")))


def test_the_pipeline_user_has_a_role_limited_to_its_indices() -> None:
    assert env_example()["WARWATCH_ES_USER"] not in ("", "elastic")
    setup = SERVICES["kibana-setup"]
    script = setup["command"][-1]
    for name in ("WARWATCH_ES_USER", "WARWATCH_ES_PASSWORD", "WARWATCH_INDEX_PREFIX"):
        assert _env(setup)[name] == required(name)
    role = _setup_script_json(script, "ROLE")
    assert set(role["cluster"]) <= {"monitor", "manage_index_templates", "manage_ilm"}
    (indices,) = role["indices"]
    assert indices["names"] == ["warwatch-*"]
    assert {"create_index", "index", "read", "write", "manage"} <= set(indices["privileges"])
    assert "all" not in indices["privileges"] and not role.get("run_as")
    assert all(not p.startswith("all") for app in role["applications"] for p in app["privileges"])
    assert "/_security/role/warwatch_pipeline" in script
    assert '"roles":["warwatch_pipeline"]' in script and "/_security/user/$${WARWATCH_ES_USER}" in script
    # the pipeline services wait for it
    assert "kibana" in SERVICES["warwatch-setup"]["depends_on"] and "kibana-setup" in SERVICES["kibana"]["depends_on"]


@pytest.mark.parametrize("name", sorted(set(SERVICES) - ONE_SHOT))
def test_long_running_services_have_healthchecks(name: str) -> None:
    hc = SERVICES[name].get("healthcheck")
    assert hc and not hc.get("disable"), f"{name} has no healthcheck"
    test = hc["test"]
    assert isinstance(test, list) and test[0] in {"CMD", "CMD-SHELL"} and len(test) >= 2
    for key in ("interval", "timeout", "retries"):
        assert key in hc, f"{name}: healthcheck lacks {key}"
    assert SERVICES[name].get("restart") == "unless-stopped"


def test_one_shot_services_do_not_restart() -> None:
    for name in ONE_SHOT:
        assert SERVICES[name]["restart"] == "no", name


def test_depends_on_uses_conditions_on_existing_services() -> None:
    allowed = {"service_healthy", "service_completed_successfully", "service_started"}
    for name, svc in SERVICES.items():
        deps = svc.get("depends_on", {})
        assert isinstance(deps, dict), f"{name}: depends_on must be the long form with conditions"
        for dep, spec in deps.items():
            assert dep in SERVICES and dep != name, f"{name} depends on unknown {dep}"
            assert spec["condition"] in allowed, (name, dep)
            if dep in ONE_SHOT:
                assert spec["condition"] == "service_completed_successfully", (name, dep)
            elif dep in {"elasticsearch", "postgres", "kibana", "airflow-apiserver"}:
                assert spec["condition"] == "service_healthy", (name, dep)


def test_startup_order() -> None:
    def deps(name: str) -> set[str]:
        return set(SERVICES[name].get("depends_on", {}))

    assert deps("kibana") >= {"elasticsearch", "kibana-setup"}
    assert deps("warwatch-setup") >= {"elasticsearch", "kibana"}
    assert deps("airflow-init") == {"postgres"}
    for name in AIRFLOW:
        assert deps(name) >= {"postgres", "airflow-init"}, name
    assert "warwatch-setup" in deps("airflow-scheduler")
    # no cycles
    seen: dict[str, int] = {}

    def visit(name: str) -> None:
        assert seen.get(name) != 1, f"dependency cycle through {name}"
        if seen.get(name) == 2:
            return
        seen[name] = 1
        for dep in deps(name):
            visit(dep)
        seen[name] = 2

    for name in SERVICES:
        visit(name)


def test_named_volumes_are_declared_and_used() -> None:
    declared = set(COMPOSE["volumes"])
    used: set[str] = set()
    for name, svc in SERVICES.items():
        for vol in svc.get("volumes", []):
            source = vol.split(":", 1)[0] if isinstance(vol, str) else vol["source"]
            assert not source.startswith(("/", ".")), f"{name}: bind mount {source}; use a named volume"
            used.add(source)
    assert used == declared
    mounts = {name: {v.split(":")[1] for v in svc.get("volumes", [])} for name, svc in SERVICES.items()}
    assert "/usr/share/elasticsearch/data" in mounts["elasticsearch"]
    assert "/var/lib/postgresql/data" in mounts["postgres"]
    assert "/opt/warwatch/data" in mounts["airflow-scheduler"]  # LocalExecutor runs tasks here


def test_published_ports_are_bound_to_loopback() -> None:
    published = 0
    for name, svc in SERVICES.items():
        for port in svc.get("ports", []):
            assert isinstance(port, str) and port.startswith("127.0.0.1:"), f"{name}: {port} not on 127.0.0.1"
            published += 1
    assert published >= 3
    assert "ports" not in SERVICES["postgres"]


def test_dockerfile_installs_project_as_non_root() -> None:
    text = (ROOT / "Dockerfile").read_text(encoding="utf-8")
    instructions = [line.split()[0] for line in text.splitlines() if line and not line.startswith((" ", "#"))]
    assert instructions[0] == "FROM" and "python:3.11-slim" in text.splitlines()[
        next(i for i, line in enumerate(text.splitlines()) if line.startswith("FROM"))]
    assert re.search(r'pip install "\.\[airflow,production\]"', text)
    user_lines = [line for line in text.splitlines() if line.startswith("USER ")]
    assert user_lines and user_lines[-1].split()[1] not in {"root", "0"}
    for path in ("dags", "config", "indexing", "crawlers", "scrapy.cfg"):
        assert re.search(rf"^COPY .*\b{re.escape(path)}\b", text, re.M), f"{path} not copied into the image"
    ignore = (ROOT / ".dockerignore").read_text(encoding="utf-8").split()
    for entry in (".venv", ".env", "data", ".git"):
        assert entry in ignore, f".dockerignore lacks {entry}"
    assert "!.env.example" in ignore or ".env.*" not in ignore


# --------------------------------------------------------------------------- profile "celery"
def _profiles(name: str) -> list[str]:
    return list(SERVICES[name].get("profiles", []))


def test_one_machine_by_default_celery_only_in_its_profile() -> None:
    celery_side = {"redis", *CELERY_WORKERS}
    assert {name for name in SERVICES if _profiles(name)} == celery_side
    for name in celery_side:
        assert _profiles(name) == ["celery"], name
    # every service without a profile starts with a plain `docker compose up` and must not need
    # one that only the profile starts
    for name, svc in SERVICES.items():
        if not _profiles(name):
            assert not set(svc.get("depends_on", {})) & celery_side, name
    # the executor comes from .env: LocalExecutor unless the user switches (one knob, checked by the workers)
    assert env_example()["AIRFLOW_EXECUTOR"] == "LocalExecutor"
    for name in AIRFLOW | CELERY_WORKERS:
        assert _env(SERVICES[name])["AIRFLOW__CORE__EXECUTOR"] == "${AIRFLOW_EXECUTOR:-LocalExecutor}", name


def test_celery_broker_and_result_backend_shared_by_scheduler_and_workers() -> None:
    for name in CELERY_WORKERS | {"airflow-scheduler", "airflow-apiserver"}:
        env = _env(SERVICES[name])
        assert env["AIRFLOW__CELERY__BROKER_URL"] == f"redis://:{required('REDIS_PASSWORD')}@redis:6379/0", name
        # psycopg2 named: SQLAlchemy 2.1's default driver for postgresql:// (psycopg 3) is not installed
        assert env["AIRFLOW__CELERY__RESULT_BACKEND"].startswith("db+postgresql+psycopg2://"), name
        assert "@postgres:5432/" in env["AIRFLOW__CELERY__RESULT_BACKEND"]
    redis = SERVICES["redis"]
    assert redis["image"] == "redis:${REDIS_VERSION}" and "ports" not in redis  # the broker stays inside
    command = " ".join(redis["command"])
    # the password reaches redis-server through a config file, never its command line
    assert "requirepass" in command and "$${REDIS_PASSWORD}" in command and "redis-server /tmp/redis.conf" in command
    assert "--requirepass" not in command and " -a " not in " ".join(redis["healthcheck"]["test"])
    assert "PONG" in " ".join(redis["healthcheck"]["test"])
    assert "redis-data:/data" in redis["volumes"]


def test_crawl_tasks_have_their_own_workers() -> None:
    queues = {name: _env(SERVICES[name])["WARWATCH_CELERY_QUEUES"] for name in CELERY_WORKERS}
    assert queues == {"airflow-worker": "default", "airflow-worker-crawl": "crawl"}
    crawl = SERVICES["airflow-worker-crawl"]
    assert crawl["deploy"]["replicas"] >= 2  # several workers share the crawls
    for name in CELERY_WORKERS:
        svc = SERVICES[name]
        script = svc["command"][-1]
        assert svc["command"][:2] == ["bash", "-c"], name
        assert 'exec airflow celery worker --queues "$${WARWATCH_CELERY_QUEUES}"' in script
        # a worker started without CeleryExecutor fails loudly instead of idling
        assert "!= CeleryExecutor" in script and "exit 1" in script
        assert svc["image"] == "warwatch:${WARWATCH_IMAGE_TAG}"
        assert "warwatch-data:/opt/warwatch/data" in svc["volumes"], name  # the crawls' raw captures
        assert "inspect ping" in " ".join(svc["healthcheck"]["test"])
        deps = svc["depends_on"]
        assert deps["redis"]["condition"] == "service_healthy"
        assert deps["airflow-apiserver"]["condition"] == "service_healthy"  # the execution API
        assert deps["airflow-init"]["condition"] == "service_completed_successfully"


def test_image_has_the_celery_provider() -> None:
    # The image installs the `production` extra: the pins `make test-production` ran with.
    import tomllib

    text = (ROOT / "Dockerfile").read_text(encoding="utf-8")
    assert re.search(r'pip install "\.\[[a-z,]*\bproduction\b[a-z,]*\]"', text)
    extra = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["optional-dependencies"]["production"]
    names = {re.split(r"[\[<>=]", req, maxsplit=1)[0] for req in extra}
    assert {"apache-airflow-providers-celery", "celery", "psycopg2-binary", "asyncpg"} <= names


def test_readme_explains_the_celery_profile() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    heading = re.search(r"^#+ When one machine is not enough$", readme, re.M | re.I)
    assert heading, "README lacks the 'When one machine is not enough' section"
    section = readme[heading.end():].split("\n## ", 1)[0]
    for needle in ("--profile celery", "AIRFLOW_EXECUTOR=CeleryExecutor", "--scale airflow-worker-crawl",
                   'queue="crawl"'):
        assert needle in section, needle


#: Variables of the tested Celery topology (tests/production/services.py) that the README's native
#: commands and compose need not set, each with why: the rest must be set by both, or what users
#: start is not what `make test-production` checked.
TEST_ONLY_AIRFLOW_VARS = {
    "AIRFLOW__CORE__PARALLELISM": "compose sets it; the README's one machine keeps Airflow's default",
    "AIRFLOW__API__WORKERS": "one api-server worker keeps the tests' 2 cores free; a deployment sizes it",
    "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS": "the tests' own admin user (compose names its own)",
    "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE": "the tests' own password file",
    "AIRFLOW__DAG_PROCESSOR__REFRESH_INTERVAL": "the tests want new DAG files seen within seconds",
    "AIRFLOW__SCHEDULER__MIN_FILE_PROCESS_INTERVAL": "likewise",
    "AIRFLOW__API__HOST": "compose listens inside its network; the README sets it",
    "AIRFLOW__API__PORT": "likewise",
    "AIRFLOW__CORE__HOSTNAME_CALLABLE": "several workers on one machine only; compose's containers have their own names",
}


def _tested_airflow_vars() -> set[str]:
    from types import SimpleNamespace

    from tests.production.services import airflow_env

    env = airflow_env(Path("/nonexistent/airflow-home"), SimpleNamespace(sqlalchemy_url="postgresql+psycopg2://x"),  # type: ignore[arg-type]
                      SimpleNamespace(url="redis://x"), {})  # type: ignore[arg-type]
    return {k for k in env if k.startswith("AIRFLOW__") and k not in os.environ} - {"AIRFLOW__CORE__UNIT_TEST_MODE"}


def test_the_readme_and_compose_start_airflow_as_the_production_tests_do() -> None:
    tested = _tested_airflow_vars()
    assert {"AIRFLOW__CELERY__BROKER_URL", "AIRFLOW__CELERY_BROKER_TRANSPORT_OPTIONS__VISIBILITY_TIMEOUT"} <= tested
    assert set(TEST_ONLY_AIRFLOW_VARS) <= tested, "a test-only exemption names a variable the tests no longer set"
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    section = readme[readme.index("### Production shape, natively"):]
    block = section[section.index("```bash"):section.index("```\n", section.index("```bash") + 7)]
    exported = set(re.findall(r"\b(AIRFLOW__[A-Z0-9_]+)=", block))
    composed = set(_env(SERVICES["airflow-scheduler"])) | set(_env(SERVICES["airflow-worker-crawl"]))
    must = tested - set(TEST_ONLY_AIRFLOW_VARS)
    assert sorted(must - exported) == [], "the README's native commands do not set these"
    assert sorted(must - composed) == [], "compose does not set these"
    visibility = "AIRFLOW__CELERY_BROKER_TRANSPORT_OPTIONS__VISIBILITY_TIMEOUT"
    assert re.search(rf"{visibility}=(\d+)", block).group(1) == _env(SERVICES["airflow-worker-crawl"])[visibility]  # type: ignore[union-attr]
