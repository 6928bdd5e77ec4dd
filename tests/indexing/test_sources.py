from __future__ import annotations

from pathlib import Path

import pytest

from indexing.errors import ConfigError
from indexing.sources import Source, load_sources

GOOD = """\
sources:
  - id: kyiv-independent
    name: The Kyiv Independent
    url: https://kyivindependent.com/
    language: en
    feeds: [https://kyivindependent.com/news-archive/rss/]
    sitemaps: []
    sections: []
    allow: ['/news/']
    deny: ['/tag/']
    allow_private_network: false
  - id: demo
    url: http://127.0.0.1:8000/
    allow_private_network: true
"""


def write(tmp_path: Path, text: str) -> Path:
    p = tmp_path / "sources.yaml"
    p.write_text(text, encoding="utf-8")
    return p


def test_loads_contract_example(tmp_path: Path) -> None:
    sources = load_sources(write(tmp_path, GOOD))
    assert [s.id for s in sources] == ["kyiv-independent", "demo"]
    kyiv = sources[0]
    assert kyiv.feeds == ["https://kyivindependent.com/news-archive/rss/"]
    assert kyiv.url_allowed("https://kyivindependent.com/news/x")
    assert not kyiv.url_allowed("https://kyivindependent.com/tag/x")
    assert not kyiv.url_allowed("https://kyivindependent.com/about")
    assert sources[1].url_allowed("http://127.0.0.1:8000/anything")
    assert sources[1].allow_private_network
    assert sources[1].display_name == "demo"
    assert set(Source.model_fields) == {
        "id",
        "name",
        "url",
        "language",
        "feeds",
        "sitemaps",
        "sections",
        "allow",
        "deny",
        "allow_private_network",
        "revisit_after",  # issue #19: a source's own revisit intervals
        "render",  # pages that need JavaScript (README "Pages that need JavaScript")
    }
    assert kyiv.render == "auto"


def test_sources_path_from_settings(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from indexing.settings import get_settings

    p = write(tmp_path, GOOD)
    monkeypatch.setenv("WARWATCH_SOURCES", str(p))
    assert get_settings().sources == p
    assert len(load_sources(get_settings().sources)) == 2


def test_empty_file(tmp_path: Path) -> None:
    assert load_sources(write(tmp_path, "")) == []
    assert load_sources(write(tmp_path, "sources: []\n")) == []


@pytest.mark.parametrize(
    ("text", "line", "fragments"),
    [
        (
            GOOD.replace("    language: en\n", "    langauge: en\n"),
            5,
            ["source 'kyiv-independent'", "key 'langauge'", "unknown key"],
        ),
        (
            GOOD.replace("    deny: ['/tag/']", "    deny: ['/tag/', '(oops']"),
            10,
            ["source 'kyiv-independent'", "key 'deny' item 1", "regular expression"],
        ),
        (GOOD.replace("id: demo", "id: Demo_1"), 12, ["key 'id'", "[a-z0-9-]+"]),
        (GOOD.replace("id: demo", "id: kyiv-independent"), 12, ["duplicate id", "line 2"]),
        (
            GOOD.replace("url: http://127.0.0.1:8000/", "url: ftp://127.0.0.1/"),
            13,
            ["source 'demo'", "key 'url'", "http(s)"],
        ),
        (
            GOOD.replace("    allow_private_network: true", "    allow_private_network: maybe"),
            14,
            ["source 'demo'", "key 'allow_private_network'"],
        ),
        (
            GOOD.replace(
                "    feeds: [https://kyivindependent.com/news-archive/rss/]",
                "    feeds: https://kyivindependent.com/rss",
            ),
            6,
            ["key 'feeds'"],
        ),
        (
            GOOD.replace("    url: http://127.0.0.1:8000/\n", ""),
            12,
            ["source 'demo'", "key 'url'", "missing"],
        ),
        (
            GOOD.replace("    name: The Kyiv Independent\n", "    name: a\n    name: b\n"),
            4,
            ["key 'name' appears twice"],
        ),
        ("source:\n  - id: x\n", 1, ["unknown key 'source'"]),
        ("sources:\n  - id: x\n    url: [\n", None, ["not valid YAML"]),
        ("sources: {id: x}\n", 1, ["expected a list"]),
    ],
)
def test_errors_name_file_line_source_and_key(
    tmp_path: Path, text: str, line: int | None, fragments: list[str]
) -> None:
    path = write(tmp_path, text)
    with pytest.raises(ConfigError) as info:
        load_sources(path)
    message = str(info.value)
    assert str(path) in message
    if line is not None:
        assert f"{path}:{line}:" in message
    for fragment in fragments:
        assert fragment in message


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="not found"):
        load_sources(tmp_path / "nope.yaml")


def test_revisit_after_per_source_overrides_the_setting(tmp_path: Path) -> None:
    from datetime import timedelta

    text = GOOD + "    revisit_after: 10s, 1h\n  - id: quiet\n    url: https://q.example/\n    revisit_after: []\n"
    kyiv, demo, quiet = load_sources(write(tmp_path, text))
    default = [timedelta(hours=1), timedelta(days=1)]
    assert kyiv.revisit_intervals(default) == default  # not set: the setting
    assert demo.revisit_intervals(default) == [timedelta(seconds=10), timedelta(hours=1)]
    assert quiet.revisit_intervals(default) == []  # never revisited
    with pytest.raises(ConfigError, match="revisit_after"):
        load_sources(write(tmp_path, GOOD + "    revisit_after: soon\n"))


def test_a_render_typo_is_an_error_that_names_the_key(tmp_path: Path) -> None:
    text = "sources:\n  - id: a\n    url: https://a.example/\n    render: allways\n"
    with pytest.raises(ConfigError) as err:
        load_sources(write(tmp_path, text))
    assert "render" in str(err.value) and "a" in str(err.value)
