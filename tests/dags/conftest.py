"""Airflow for real: a throwaway AIRFLOW_HOME with a migrated SQLite DB, set up before the
first airflow import (Airflow reads its configuration at import time)."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[2]
DAGS = REPO_ROOT / "dags"

_home = Path(tempfile.mkdtemp(prefix="warwatch-airflow-"))
os.environ.setdefault("AIRFLOW_HOME", str(_home))
os.environ["AIRFLOW__CORE__LOAD_EXAMPLES"] = "False"
os.environ["AIRFLOW__CORE__DAGS_FOLDER"] = str(DAGS)
os.environ.setdefault("AIRFLOW__CORE__UNIT_TEST_MODE", "True")


@pytest.fixture(scope="session")
def airflow_db() -> Iterator[Path]:
    try:
        from airflow.utils import db
    except ImportError as exc:  # Airflow is part of the dev install
        from tests.conftest import service_missing

        service_missing(f"Airflow is not installed: {exc}")
        raise
    db.initdb()
    yield Path(os.environ["AIRFLOW_HOME"])
