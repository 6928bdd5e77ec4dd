"""Every YAML file the code reads goes through the one strict loader (indexing.yamlconfig):
duplicate keys and wrong shapes are refused with the file and line, never read half-way."""

from __future__ import annotations

import ast
import logging
from pathlib import Path

import pytest

from indexing.errors import ConfigError
from warwatch import dagconfig
from warwatch.kibana import load_topics
from warwatch.pipeline.crawl import feeds_only_sources

ROOT = Path(__file__).resolve().parents[2]
STRICT_LOADER = ROOT / "indexing" / "yamlconfig.py"

TOPICS = """topics:
  - id: shelling
    label: {uk: Обстріли, en: Shelling}
    terms: {en: [shelling]}
  - id: drones
    label: Drones
    terms: {en: [drone]}
"""
SOURCES = "sources:\n  - {id: a, name: A, url: 'http://127.0.0.1:1/'}\n  - {id: b, name: B, url: 'http://127.0.0.1:2/'}\n"
DUPLICATE = "sources:\n  - {id: a, name: A, url: 'http://127.0.0.1:1/', id: c}\n"


def _yaml_loads(path: Path) -> list[str]:
    hits = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)
                and isinstance(node.func.value, ast.Name) and node.func.value.id == "yaml"
                and node.func.attr in {"safe_load", "load", "full_load", "unsafe_load", "safe_load_all", "load_all"}):
            hits.append(f"{path.relative_to(ROOT)}:{node.lineno}")
    return hits


def test_no_yaml_parsed_outside_the_strict_loader() -> None:
    modules = [p for pkg in ("crawlers", "warwatch", "indexing") for p in sorted((ROOT / pkg).rglob("*.py"))]
    assert STRICT_LOADER in modules
    assert [hit for p in modules if p != STRICT_LOADER for hit in _yaml_loads(p)] == []


def test_kibana_reads_the_topics_the_enrichment_loads(tmp_path: Path) -> None:
    path = tmp_path / "topics.yaml"
    path.write_text(TOPICS, encoding="utf-8")
    assert load_topics(path) == [{"id": "shelling", "label": "Shelling"}, {"id": "drones", "label": "Drones"}]
    assert load_topics(tmp_path / "none.yaml") == []


def test_kibana_refuses_a_topics_file_the_enrichment_refuses(tmp_path: Path) -> None:
    path = tmp_path / "topics.yaml"
    path.write_text(TOPICS.replace("    label: Drones\n", "    label: Drones\n    label: UAV\n"), encoding="utf-8")
    with pytest.raises(ConfigError, match=r"topics\.yaml:\d+"):
        load_topics(path)


def test_feed_poll_copy_refuses_a_broken_sources_file(tmp_path: Path) -> None:
    src = tmp_path / "sources.yaml"
    for text in (DUPLICATE, "- {id: a}\n", "sources: [a\n"):
        src.write_text(text, encoding="utf-8")
        with pytest.raises(ConfigError, match=r"sources\.yaml"):
            feeds_only_sources(src, ["a"], tmp_path / "feeds.yaml")
    assert not (tmp_path / "feeds.yaml").exists()


def test_dag_forms_offer_the_ids_of_a_sound_file_only(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    src = tmp_path / "sources.yaml"
    src.write_text(SOURCES, encoding="utf-8")
    assert dagconfig._ids(str(src), 1, 1) == ("a", "b")
    src.write_text(DUPLICATE, encoding="utf-8")
    with caplog.at_level(logging.WARNING, logger="warwatch.dagconfig"):
        assert dagconfig._ids(str(src), 2, 2) == ()
    assert "sources.yaml:2: mapping: key 'id' appears twice" in caplog.text
    assert dagconfig._ids(str(tmp_path / "missing.yaml"), 3, 3) == ()
