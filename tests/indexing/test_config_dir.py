"""Where the configuration is found (indexing.settings.default_config_dir): WARWATCH_CONFIG_DIR,
else ./config, else the files shipped as package data, so an installed package works anywhere."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

from indexing.settings import default_config_dir, get_settings, packaged_config_dir, reset_settings
from tests.conftest import REPO_ROOT

SEED_PAGE = REPO_ROOT / "tests" / "fixtures" / "seed-article" / "page.html"


@pytest.fixture
def no_config_env(monkeypatch: pytest.MonkeyPatch) -> None:
    # (and the test session's index prefix: these tests read the one settings.yaml gives)
    for var in ("WARWATCH_CONFIG_DIR", "WARWATCH_SETTINGS_FILE", "WARWATCH_SOURCES", "WARWATCH_INDEX_PREFIX"):
        monkeypatch.delenv(var, raising=False)
    reset_settings()


def test_explicit_directory_wins(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, no_config_env: None) -> None:
    (tmp_path / "settings.yaml").write_text("index_prefix: mine-\n")
    monkeypatch.chdir(REPO_ROOT)  # a ./config exists here, and loses
    monkeypatch.setenv("WARWATCH_CONFIG_DIR", str(tmp_path))
    reset_settings()
    s = get_settings()
    assert s.config_dir == tmp_path and s.config_file("topics.yaml") == tmp_path / "topics.yaml"
    assert s.sources == tmp_path / "sources.yaml"
    assert s.index_prefix == "mine-"  # settings.yaml from that directory


def test_local_config_directory_keeps_the_contract_paths(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, no_config_env: None
) -> None:
    (tmp_path / "config").mkdir()
    (tmp_path / "config" / "settings.yaml").write_text("index_prefix: local-\n")
    monkeypatch.chdir(tmp_path)
    s = get_settings()
    assert s.config_dir == Path("config") and s.sources == Path("config/sources.yaml")  # CONTRACT default
    assert s.index_prefix == "local-"
    monkeypatch.setenv("WARWATCH_SOURCES", "elsewhere.yaml")
    reset_settings()
    assert get_settings().sources == Path("elsewhere.yaml")


def test_packaged_defaults_outside_a_checkout(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                              no_config_env: None) -> None:
    monkeypatch.chdir(tmp_path)  # no ./config here
    assert default_config_dir() == packaged_config_dir()
    assert get_settings().sources == packaged_config_dir() / "sources.yaml"
    # the package's defaults are the repository's config/ files, every one of them
    shipped = sorted(p.relative_to(packaged_config_dir()) for p in packaged_config_dir().rglob("*") if p.is_file())
    repo = sorted(p.relative_to(REPO_ROOT / "config") for p in (REPO_ROOT / "config").rglob("*") if p.is_file())
    assert shipped == repo and "topics.yaml" in {str(p) for p in shipped}
    for rel in repo:
        assert (packaged_config_dir() / rel).read_bytes() == (REPO_ROOT / "config" / rel).read_bytes()


def test_the_wheel_declares_every_config_file_as_package_data() -> None:
    """pyproject's package-data globs match every file of config/: a wheel built from it
    (`pip wheel .`) carries them under indexing/defaults/config."""
    pyproject = tomllib.loads((REPO_ROOT / "pyproject.toml").read_text())
    globs = pyproject["tool"]["setuptools"]["package-data"]["indexing.defaults"]
    base = REPO_ROOT / "indexing" / "defaults"
    declared = {p.resolve() for g in globs for p in base.glob(g) if p.is_file()}
    actual = {p.resolve() for p in (REPO_ROOT / "config").rglob("*") if p.is_file()}
    assert declared == actual


def test_cli_and_library_work_from_any_directory(tmp_path: Path) -> None:
    """Run from a directory without config/: `warwatch extract` and the config loaders use the
    packaged defaults (the boilerplate rules, topics, entities, sources, watches)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("WARWATCH_")}
    env["WARWATCH_DATA_DIR"] = str(tmp_path / "data")
    code = (
        "import json; from indexing.enrich import load_topics, load_gazetteer; "
        "from indexing.sources import load_sources; from indexing.alerts import configured_watches; "
        "from indexing.settings import get_settings; from warwatch.demo import DEMO_SITE; "
        "print(json.dumps({'dir': str(get_settings().config_dir), 'topics': len(load_topics()), "
        "'entities': len(load_gazetteer()), 'sources': len(load_sources(get_settings().sources)), "
        "'watches': len(configured_watches(get_settings()).watches), "
        "'demo': (DEMO_SITE / 'index.html').is_file()}))"
    )
    proc = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, env=env, capture_output=True, text=True,
                          timeout=120)
    assert proc.returncode == 0, proc.stderr
    found = json.loads(proc.stdout)
    assert Path(found["dir"]).name == "config" and Path(found["dir"]).parent.name == "defaults"
    assert found["topics"] > 10 and found["entities"] > 100 and found["sources"] > 0 and found["watches"] > 0
    assert found["demo"]
    proc = subprocess.run([str(Path(sys.executable).parent / "warwatch"), "extract", str(SEED_PAGE), "--json"],
                          cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["title"] == "NATO bestätigt Präsenz nordkoreanischer Soldaten in Russland"
