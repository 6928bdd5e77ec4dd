"""Every YAML config file goes through the same strict path (indexing/yamlconfig.py): a typo in
topics.yaml, entities.yaml, boilerplate.yaml or settings.yaml names the file, the line and the key."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

import pytest

from indexing.enrich import Gazetteer, TopicSet, load_gazetteer, load_topics
from indexing.enrich._config import EnrichConfigError
from indexing.enrich.topics import parse_topics
from indexing.errors import ConfigError
from indexing.extraction.cleaning import load_boilerplate
from indexing.settings import get_settings, reset_settings
from indexing.yamlconfig import cached_by_mtime

TOPICS = """\
version: 1
x-context: &ctx
  any: ["@ukraine"]
topics:
  - id: drones
    label: Drone strikes
    terms:
      en: [drone strike, drone attack*]
      de: [Drohnenangriff*]
    require_any: *ctx
  - id: grain
    label: {en: Grain corridor}
    terms: {en: ['(grain|wheat) NEAR/4 corridor']}
"""

ENTITIES = """\
entities:
  - id: ukraine
    type: place
    name: Ukraine
    labels: {de: Ukraine, uk: Україна}
    lat: 49.0
    lon: 32.0
  - id: volodymyr-zelensky
    type: person
    name: Volodymyr Zelensky
    aliases:
      en: [Zelensky, Zelenskyy]
"""


def assert_named(tmp_path: Path, name: str, text: str, load: Callable[[Path], object], line: int,
                 fragments: list[str]) -> None:
    """Loading ``text`` as ``name`` fails with ``path:line:`` and every fragment in the message."""
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    with pytest.raises(ConfigError) as info:
        load(path)
    message = str(info.value)
    assert f"{path}:{line}:" in message, message
    for fragment in fragments:
        assert fragment in message, message


def tmp_gazetteer(directory: Path) -> Gazetteer:
    path = directory / "entities.yaml"
    if not path.exists():
        path.write_text(ENTITIES, encoding="utf-8")
    return load_gazetteer(path)


def _topics(path: Path) -> TopicSet:
    return parse_topics(path, tmp_gazetteer(path.parent))


def test_the_sample_files_load(tmp_path: Path) -> None:
    (tmp_path / "topics.yaml").write_text(TOPICS, encoding="utf-8")
    assert len(_topics(tmp_path / "topics.yaml")) == 2
    assert len(tmp_gazetteer(tmp_path)) == 2


@pytest.mark.parametrize(("old", "new", "line", "fragments"), [
    ("    require_any: *ctx", "    require_anny: *ctx", 10, ["topic 'drones'", "key 'require_anny'", "unknown key"]),
    ("      de: [Drohnenangriff*]", "      deu: [Drohnenangriff*]", 9, ["topic 'drones'", "key 'terms.deu'",
                                                                        "not a language code"]),
    ("corridor']}", "corridor']}\n    min_score: two", 14, ["topic 'grain'", "key 'min_score'"]),
    ("    label: {en: Grain corridor}\n", "", 11, ["topic 'grain'", "key 'label'", "required key is missing"]),
    ("(grain|wheat) NEAR/4 corridor", "(grain|wheat NEAR/4 corridor", 13, ["topic 'grain'", "key 'terms.en' item 0",
                                                                          "unbalanced"]),
    ("  - id: grain", "  - id: drones", 11, ["key 'id': duplicate id (first used on line 5)"]),
    ("  - id: grain", "  - id: Grain_Corridor", 11, ["key 'id'"]),
    ("version: 1", "versoin: 1", 1, ["top level: unknown key 'versoin'"]),
    ("    label: Drone strikes\n", "    label: Drone strikes\n    label: Drones\n", 7, ["key 'label' appears twice"]),
])
def test_a_typo_in_topics_names_file_line_and_key(tmp_path: Path, old: str, new: str, line: int,
                                                  fragments: list[str]) -> None:
    assert old in TOPICS
    assert_named(tmp_path, "topics.yaml", TOPICS.replace(old, new), _topics, line, fragments)


@pytest.mark.parametrize(("old", "new", "line", "fragments"), [
    ("    labels: {de: Ukraine", "    lables: {de: Ukraine", 5, ["entity 'ukraine'", "key 'lables'", "unknown key"]),
    ("    type: person", "    type: human", 9, ["entity 'volodymyr-zelensky'", "key 'type'", "person"]),
    ("    lat: 49.0", "    lat: 149.0", 6, ["entity 'ukraine'", "key 'lat'"]),
    ("    lat: 49.0\n    lon: 32.0\n", "", 2, ["entity 'ukraine'", "a place needs numeric 'lat' and 'lon'"]),
    ("      en: [Zelensky, Zelenskyy]", "      en: [Zelensky, '  ']", 12, ["key 'aliases.en' item 1", "empty"]),
    ("    name: Volodymyr Zelensky\n", "", 8, ["entity 'volodymyr-zelensky'", "key 'name'", "missing"]),
    ("entities:", "entity:", 1, ["top level: unknown key 'entity'"]),
])
def test_a_typo_in_entities_names_file_line_and_key(tmp_path: Path, old: str, new: str, line: int,
                                                    fragments: list[str]) -> None:
    assert old in ENTITIES
    assert_named(tmp_path, "entities.yaml", ENTITIES.replace(old, new), load_gazetteer, line, fragments)


def test_enrichment_errors_keep_their_class(tmp_path: Path) -> None:
    path = tmp_path / "entities.yaml"
    path.write_text("entities: [\n")
    with pytest.raises(EnrichConfigError, match=f"{path}:2: not valid YAML"):
        load_gazetteer(path)
    with pytest.raises(EnrichConfigError, match="cannot read"):
        load_topics(tmp_path / "missing.yaml")


@pytest.mark.parametrize(("text", "line", "fragments"), [
    ("en:\n  lines: [Share]\n  prefix: [Read more]\n", 3, ["key 'en.prefix'", "unknown key"]),
    ("en:\n  patterns: ['^(oops']\n", 2, ["key 'en.patterns' item 0", "invalid regular expression"]),
    ("english:\n  lines: [Share]\n", 1, ["key 'english'"]),
    ("en:\n  lines: [a]\n  lines: [b]\n", 3, ["key 'lines' appears twice"]),
])
def test_a_typo_in_boilerplate_names_file_line_and_key(tmp_path: Path, text: str, line: int,
                                                       fragments: list[str]) -> None:
    assert_named(tmp_path, "boilerplate.yaml", text, lambda p: load_boilerplate(str(p)), line, fragments)


def test_boilerplate_rules_load_from_the_config_directory(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "boilerplate.yaml").write_text("any:\n  lines: [Werbung]\nde:\n", encoding="utf-8")
    rules = load_boilerplate(str(tmp_path / "boilerplate.yaml"))
    assert set(rules) == {"any", "de"} and rules["any"].is_boilerplate("Werbung")
    monkeypatch.setenv("WARWATCH_CONFIG_DIR", str(tmp_path / "empty"))
    reset_settings()
    load_boilerplate.cache_clear()
    try:
        assert load_boilerplate() == {}  # no file: no rules (and a warning), not a crash
    finally:
        load_boilerplate.cache_clear()


def test_a_typo_in_settings_names_file_line_and_key(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("WARWATCH_SETTINGS_FILE", str(tmp_path / "settings.yaml"))

    def load(path: Path) -> object:
        reset_settings()
        return get_settings()

    assert_named(tmp_path, "settings.yaml", "es_url: http://127.0.0.1:9200\ncrawl:\n  download_delay: 0\n"
                 "  obey_robot: true\n", load, 4, ["key 'crawl.obey_robot': unknown key"])


@pytest.mark.parametrize(("channels", "line", "fragments"), [
    ("  channels:\n    slack: {url: https://hooks.example/x}\n", 4, ["key 'health.channels.slack': unknown key"]),
    ("  channels:\n    webhook:\n      url: ftp://hooks.example/x\n", 5,
     ["key 'health.channels.webhook.url'", "http(s) URL"]),
    ("  channels:\n    email: {to: [not-an-address]}\n", 4, ["key 'health.channels.email.to'", "not an e-mail"]),
])
def test_a_typo_in_health_channels_fails_when_the_settings_load(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                                channels: str, line: int,
                                                                fragments: list[str]) -> None:
    """health.channels is checked with the settings (file, line, key), not when the first health
    alert fires."""
    monkeypatch.setenv("WARWATCH_SETTINGS_FILE", str(tmp_path / "settings.yaml"))

    def load(path: Path) -> object:
        reset_settings()
        return get_settings()

    try:
        assert_named(tmp_path, "settings.yaml", "health:\n  silent_runs: 3\n" + channels, load, line, fragments)
    finally:
        reset_settings()


def test_health_channels_in_the_settings_are_the_watch_channel_models(tmp_path: Path,
                                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "settings.yaml").write_text("health:\n  channels:\n    webhook: {url_env: HOOK}\n")
    monkeypatch.setenv("WARWATCH_SETTINGS_FILE", str(tmp_path / "settings.yaml"))
    reset_settings()
    try:
        channels = get_settings().health.channels
        assert channels.names() == ["file", "webhook"] and channels.webhook.url_env == "HOOK"
    finally:
        reset_settings()


def test_the_strict_yaml_path_imports_no_settings() -> None:
    """ConfigError has a module of its own: yamlconfig does not import the settings (which read
    settings.yaml through yamlconfig), and its loaders take no error class to raise."""
    import ast
    import inspect

    import indexing.yamlconfig as yamlconfig

    tree = ast.parse(Path(yamlconfig.__file__).read_text(encoding="utf-8"))
    imported = {node.module for node in ast.walk(tree) if isinstance(node, ast.ImportFrom)}
    assert "indexing.settings" not in imported and "indexing.errors" in imported
    for name in ("read_config", "compose", "load_file", "load_document", "validate", "cached_by_mtime"):
        assert "error" not in inspect.signature(getattr(yamlconfig, name)).parameters, name


def test_cached_by_mtime_parses_each_version_once(tmp_path: Path) -> None:
    calls: list[Path] = []

    def parse(path: Path) -> str:
        calls.append(path)
        return path.read_text()

    load = cached_by_mtime(parse)
    path = tmp_path / "f.yaml"
    path.write_text("one")
    assert load(path) == load(path) == "one" and len(calls) == 1
    path.write_text("two")
    stat = path.stat()
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns + 1_000_000))  # a later version
    assert load(path) == "two" and len(calls) == 2
    with pytest.raises(ConfigError, match="cannot read"):
        load(tmp_path / "missing.yaml")
