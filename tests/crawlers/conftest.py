from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from indexing.archive import iter_manifest
from tests.conftest import REPO_ROOT
from tests.crawlers.seenbackend import SeenBackend


@dataclass
class CrawlResult:
    returncode: int
    stdout: str
    stderr: str
    run_dir: Path

    @property
    def report(self) -> dict[str, Any]:
        return json.loads((self.run_dir / "crawl-report.json").read_text(encoding="utf-8"))

    def source(self, source_id: str = "fixture") -> dict[str, Any]:
        return self.report["sources"][source_id]

    @property
    def manifest(self) -> list[dict[str, Any]]:
        return list(iter_manifest(self.run_dir / "manifest.jsonl"))


class Crawler:
    """Runs ``python -m crawlers.run`` as a real subprocess (as the pipeline does)."""

    def __init__(self, tmp_path: Path, data_dir: Path) -> None:
        self.tmp_path = tmp_path
        self.data_dir = data_dir
        self.env = dict(os.environ)
        self.env.update(
            {
                "WARWATCH_DATA_DIR": str(data_dir),
                "WARWATCH_CRAWL__DOWNLOAD_DELAY": "0",
                "WARWATCH_CRAWL__AUTOTHROTTLE": "false",
                "WARWATCH_CRAWL__CONCURRENT_REQUESTS_PER_DOMAIN": "8",
                "PYTHONPATH": str(REPO_ROOT) + os.pathsep + os.environ.get("PYTHONPATH", ""),
            }
        )

    def sources(self, text: str) -> Path:
        path = self.tmp_path / "sources.yaml"
        path.write_text(text, encoding="utf-8")
        return path

    def command(self, run_id: str, sources: Path, *extra: str) -> list[str]:
        return [sys.executable, "-m", "crawlers.run", "--run-id", run_id, "--sources", str(sources), *extra]

    def start(self, run_id: str, sources: Path, *extra: str) -> subprocess.Popen[str]:
        return subprocess.Popen(
            self.command(run_id, sources, *extra),
            cwd=self.tmp_path,
            env=self.env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )

    def run(self, run_id: str, sources: Path, *extra: str, timeout: float = 180) -> CrawlResult:
        # cwd is a scratch dir: the runner must not depend on the repo being the cwd.
        proc = subprocess.run(
            self.command(run_id, sources, *extra),
            cwd=self.tmp_path,
            env=self.env,
            capture_output=True,
            text=True,
            timeout=timeout,
        )
        return CrawlResult(proc.returncode, proc.stdout, proc.stderr, self.data_dir / "runs" / run_id)


@pytest.fixture
def crawler(tmp_path: Path, data_dir: Path) -> Iterator[Crawler]:
    yield Crawler(tmp_path, data_dir)


@pytest.fixture
def seen(tmp_path: Path) -> SeenBackend:
    """The seen-store's backend for tests that run on both (tests/production/test_seen_store_pg.py
    overrides this with Postgres): here the SQLite file under ``tmp_path/state``."""
    return SeenBackend(tmp_path / "state")
