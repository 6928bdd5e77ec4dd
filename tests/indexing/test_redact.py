"""Credentials inside WARWATCH_ES_URL never reach a message, a log line or a report."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from indexing.engine import EngineUnavailable, connect
from indexing.settings import get_settings
from indexing.urls import redact_in, redact_url

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        ("http://127.0.0.1:9200", "http://127.0.0.1:9200"),
        ("https://elastic:s3cr%40t@es.example:9243/", "https://elastic:***@es.example:9243/"),
        ("http://TOKEN@es.example", "http://***@es.example"),
        ("http://user:@es.example", "http://user:***@es.example"),
        ("http://a:b@[::1]:9200", "http://a:***@[::1]:9200"),
        ("http://a:b@host:notaport", "<unparseable URL>"),
    ],
)
def test_redact_url(url: str, shown: str) -> None:
    assert redact_url(url) == shown


def test_redact_in_replaces_the_url_and_the_secret_inside_it() -> None:
    url = "http://elastic:s3cr%40t@es.example:9200"
    text = f"failed at {url}/_bulk; auth s3cr@t and s3cr%40t"
    assert redact_in(text, url) == "failed at http://elastic:***@es.example:9200/_bulk; auth *** and ***"
    assert redact_in("nothing to hide", "http://127.0.0.1:9200") == "nothing to hide"


def test_engine_errors_do_not_echo_the_password() -> None:
    with pytest.raises(EngineUnavailable) as err:
        connect(get_settings(), url="http://elastic:hunter2@127.0.0.1:9")
    assert "hunter2" not in str(err.value)
    assert "elastic:***@127.0.0.1:9" in str(err.value)


def test_cli_does_not_echo_the_password(tmp_path: Path) -> None:
    env = {**os.environ, "WARWATCH_ES_URL": "http://elastic:hunter2@127.0.0.1:9", "WARWATCH_DATA_DIR": str(tmp_path)}
    for args in (["es", "status"], ["-vv", "es", "setup"]):
        proc = subprocess.run([sys.executable, "-m", "warwatch.cli", *args], capture_output=True, text=True,
                              env=env, cwd=ROOT, timeout=120, check=False)  # fmt: skip
        assert proc.returncode != 0
        assert "127.0.0.1:9" in proc.stderr  # it does say where it failed
        assert "hunter2" not in proc.stdout + proc.stderr, args
