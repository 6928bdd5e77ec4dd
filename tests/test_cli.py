import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import REPO_ROOT as PROJECT_ROOT
from warwatch.cli import build_parser, main


def test_contract_commands_parse() -> None:
    p = build_parser()
    a = p.parse_args(["search", "North Korean troops", "--json", "--lang", "de", "--source", "x", "--topic", "t",
                      "--since", "2024-10-01", "--until", "2024-11-01", "--size", "5"])
    assert a.command == "search" and a.json and a.size == 5 and a.since.tzinfo is not None
    assert p.parse_args(["run", "--sources", "s.yaml"]).sources == Path("s.yaml")
    assert p.parse_args(["local-es", "start", "--port", "9201"]).port == 9201
    assert p.parse_args(["extract", "-", "--url", "http://x/", "--json"]).path == "-"


def test_bad_date_is_a_usage_error() -> None:
    with pytest.raises(SystemExit) as err:
        build_parser().parse_args(["search", "x", "--since", "yesterday"])
    assert err.value.code == 2


def test_config_typo_is_one_clear_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                        capsys: pytest.CaptureFixture[str]) -> None:
    bad = tmp_path / "sources.yaml"
    bad.write_text("sources:\n  - id: a\n    name: A\n    url: http://a.example/\n    feedz: []\n")
    monkeypatch.setenv("WARWATCH_DATA_DIR", str(tmp_path / "data"))
    code = main(["run", "--sources", str(bad)])
    err = capsys.readouterr().err
    assert code == 2
    # rich wraps at 80 columns when stderr is no terminal: a long tmp path may be broken over lines
    assert "feedz" in err and str(bad) in err.replace("\n", "")


def test_a_sources_typo_stops_the_run_before_the_engine_is_touched(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, index_prefix: str, es_url: str) -> None:
    """The run's warm start sets up the engine's indices while the crawl starts: a broken sources
    file must fail the run before that, not leave indices behind."""
    import urllib.request

    bad = tmp_path / "sources.yaml"
    bad.write_text("sources:\n  - id: a\n    name: A\n    url: http://a.example/\n    feedz: []\n")
    monkeypatch.setenv("WARWATCH_DATA_DIR", str(tmp_path / "data"))
    assert main(["run", "--sources", str(bad)]) == 2
    with urllib.request.urlopen(f"{es_url}/_cat/indices/{index_prefix}*?format=json") as resp:  # noqa: S310
        assert json.load(resp) == []


def test_extract_command_json(tmp_path: Path) -> None:
    page = PROJECT_ROOT / "tests" / "fixtures" / "seed-article" / "page.html"
    proc = subprocess.run([sys.executable, "-m", "warwatch.cli", "extract", str(page), "--json"],
                          capture_output=True, text=True, cwd=PROJECT_ROOT, timeout=120)
    assert proc.returncode == 0, proc.stderr
    doc = json.loads(proc.stdout)
    assert doc["title"] == "NATO bestätigt Präsenz nordkoreanischer Soldaten in Russland"
    assert doc["language"] == "de"


def test_engine_down_is_one_clear_line(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("WARWATCH_ES_URL", "http://127.0.0.1:9")
    code = main(["search", "Kursk", "--json"])
    err = capsys.readouterr().err
    assert code == 1
    assert "127.0.0.1:9" in err and "Traceback" not in err
