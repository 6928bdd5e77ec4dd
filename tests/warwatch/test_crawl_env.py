"""The crawler child parses hostile pages: it gets only the environment it needs, never the
engine's or Airflow's secrets. A real child process reports what it was given."""

from __future__ import annotations

import importlib
import json
import sys
import textwrap
from pathlib import Path

import pytest

from warwatch import pipeline

crawl_mod = importlib.import_module("warwatch.pipeline.crawl")  # the package re-exports crawl() under that name

SECRETS = {
    "WARWATCH_ES_PASSWORD": "engine-password-1", "WARWATCH_ES_API_KEY": "engine-api-key-1",
    "WARWATCH_ES_USER": "pipeline", "WARWATCH_ES_URL": "http://pipeline:pw@engine.example:9200",
    "WARWATCH_ALERTS_SMTP_PASSWORD": "smtp-password-1", "WARWATCH_SLACK_WEBHOOK": "https://hooks.example/T/B/x",
    "WARWATCH_HEALTH__CHANNELS": '{"webhook": {"url": "https://hooks.example/y"}}',
    "AIRFLOW__CORE__FERNET_KEY": "fernet-key-1", "AIRFLOW__API_AUTH__JWT_SECRET": "jwt-secret-1",
    "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": "postgresql://airflow:db-password-1@postgres/airflow",
    "AWS_SECRET_ACCESS_KEY": "aws-secret-1", "GITHUB_TOKEN": "gh-token-1",
}
NEEDED = {"WARWATCH_CRAWL__DOWNLOAD_DELAY": "0", "LC_ALL": "C.UTF-8", "TZ": "UTC", "PYTHONHASHSEED": "0",
          "HTTPS_PROXY": "http://127.0.0.1:3128"}

# Stands in for warwatch-crawl: records its environment and writes the report a crawl writes.
CHILD = textwrap.dedent("""
    import json, os, sys
    run_id = sys.argv[sys.argv.index("--run-id") + 1]
    rdir = os.path.join(os.environ["WARWATCH_DATA_DIR"], "runs", run_id)
    with open(os.path.join(rdir, "child-env.json"), "w") as fh:
        json.dump(dict(os.environ), fh)
    with open(os.path.join(rdir, "crawl-report.json"), "w") as fh:
        json.dump({"sources": {}}, fh)
""")


def test_the_crawler_child_gets_no_secrets(data_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    sources = tmp_path / "sources.yaml"
    sources.write_text("sources:\n  - {id: a, name: A, url: 'http://127.0.0.1:1/'}\n", encoding="utf-8")
    for name, value in {**SECRETS, **NEEDED}.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setattr(crawl_mod, "crawler_command", lambda: [sys.executable, "-c", CHILD])
    rid = pipeline.new_run_id()
    crawl_mod.crawl(rid, sources, budget=60)
    env = json.loads((data_dir / "runs" / rid / "child-env.json").read_text(encoding="utf-8"))
    leaked = {k for k, v in env.items() if k in SECRETS or any(s in v for s in SECRETS.values())}
    assert leaked == set()
    assert not any(k.startswith("AIRFLOW") for k in env)
    for name, value in NEEDED.items():
        assert env.get(name) == value, name
    assert env["WARWATCH_DATA_DIR"] == str(data_dir.resolve()) and env["PATH"]


def test_the_allow_list_by_name() -> None:
    parent = {**SECRETS, **NEEDED, "PATH": "/bin", "HOME": "/h", "LANG": "C", "EDITOR": "vi",
              "WARWATCH_CONFIG_DIR": "/c", "WARWATCH_SOURCES": "/s", "WARWATCH_FOO_TOKEN": "t"}
    child = crawl_mod.child_environment(parent)
    assert set(child) == {*NEEDED, "PATH", "HOME", "LANG", "WARWATCH_CONFIG_DIR", "WARWATCH_SOURCES"}


def test_storage_credentials_pass_only_to_a_crawler_that_uploads() -> None:
    storage = {"WARWATCH_STORAGE__ACCESS_KEY_ID": "key-id", "WARWATCH_STORAGE__SECRET_ACCESS_KEY": "key-secret"}
    parent = {**SECRETS, **storage, "WARWATCH_STORAGE__BACKEND": "s3", "PATH": "/bin"}
    local = crawl_mod.child_environment(parent)
    assert set(local) == {"WARWATCH_STORAGE__BACKEND", "PATH"}
    s3 = crawl_mod.child_environment(parent, storage_credentials=True)
    # the object store's keys (and the standard AWS ones), never the engine's or Airflow's secrets
    assert set(s3) == {*storage, "AWS_SECRET_ACCESS_KEY", "WARWATCH_STORAGE__BACKEND", "PATH"}
