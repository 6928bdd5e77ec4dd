"""An engine's plugins (warwatch.localnode.maven): fetched through Maven, pinned by SHA-256 and
installed by the distribution's own plugin tool before the install is marked complete.

No network and no JVM: a stand-in ``mvn`` copies local zips, and the stand-in engine's
``bin/fakeos-plugin`` unpacks a plugin the way the real tool does (into ``plugins/<name>``),
counting its runs, or fails when told to."""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import sys
import zipfile
from pathlib import Path

import pytest

from warwatch import localnode
from warwatch.localnode import engines, maven
from warwatch.localnode.engines import EngineSpec, LocalNodeError, Plugin
from warwatch.localnode.node import running_engine

ENGINE = "fakeos-knn"
ENGINE_COORDS = "org.fake:fakeos:1.0:zip"
PLUGIN_COORDS = "org.fake.plugin:fake-knn:1.0.0:zip"

#: the stand-in plugin tool (its log's path filled in): the real one runs in a clean environment
PLUGIN_TOOL = f"""#!{sys.executable}
import os, sys, zipfile
log = __LOG__
with open(log, "a") as fh:
    fh.write(" ".join(sys.argv[1:]) + " java=" + os.environ.get("FAKEOS_JAVA_HOME", "") + "\\n")
if os.path.exists(log + ".fail"):
    print("ERROR: plugin failed to install: bad descriptor", file=sys.stderr)
    sys.exit(74)
home = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
with zipfile.ZipFile(sys.argv[-1][len("file://"):]) as zf:
    zf.extractall(os.path.join(home, "plugins", "fake-knn"))
"""


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _engine_zip(path: Path, log: Path) -> Path:
    tool = PLUGIN_TOOL.replace("__LOG__", repr(str(log)), 1)
    with zipfile.ZipFile(path, "w") as zf:
        for name, text, mode in (("bin/fakeos", "#!/bin/sh\n", 0o755), ("bin/fakeos-plugin", tool, 0o755),
                                 ("modules/analysis-common/x.jar", "", 0o644), ("plugins/", "", 0o755)):  # fmt: skip
            info = zipfile.ZipInfo(f"fakeos-1.0/{name}")
            info.external_attr = (mode | (0o040000 if name.endswith("/") else 0o100000)) << 16
            zf.writestr(info, text)
    return path


def _plugin_zip(path: Path) -> Path:
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr("plugin-descriptor.properties", "name=fake-knn\nversion=1.0.0\n")
        zf.writestr("fake-knn-1.0.0.jar", "jar")
    return path


@pytest.fixture
def fake_maven(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, Path]:
    """The stand-in Maven (its requests logged in ``mvn.log``), cache and JDK; returns the paths."""
    archives = {ENGINE_COORDS: _engine_zip(tmp_path / "fakeos-1.0.zip", tmp_path / "plugin.log"),
                PLUGIN_COORDS: _plugin_zip(tmp_path / "fake-knn-1.0.0.zip")}  # fmt: skip
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    (bin_dir / "mvn").write_text(
        f"#!{sys.executable}\nimport json, shutil, sys\n"
        "arg = lambda k: next(a.split('=', 1)[1] for a in sys.argv if a.startswith(k + '='))\n"
        f"open({str(tmp_path / 'mvn.log')!r}, 'a').write(arg('-Dartifact') + '\\n')\n"
        f"shutil.copy({json.dumps({k: str(v) for k, v in archives.items()})}[arg('-Dartifact')], arg('-DoutputDirectory'))\n"
    )  # fmt: skip
    (bin_dir / "mvn").chmod(0o755)
    monkeypatch.setenv("PATH", f"{bin_dir}:{os.environ['PATH']}")
    monkeypatch.setattr(engines, "CACHE_DIR", tmp_path / "cache")
    monkeypatch.setattr(maven, "find_java", lambda major: tmp_path / "jdk")
    spec = EngineSpec(name=ENGINE, product="fakeos", version="1.0", group="org.fake", artifact="fakeos",
                      sha256=_sha256(archives[ENGINE_COORDS]), launcher="bin/fakeos", main_class="Fake",
                      env_prefix="FAKEOS", config_file="fakeos.yml", min_java=21,
                      required_modules=("analysis-common",),
                      plugins=(Plugin("org.fake.plugin", "fake-knn", "1.0.0", _sha256(archives[PLUGIN_COORDS])),))  # fmt: skip
    monkeypatch.setitem(engines.ENGINES, ENGINE, spec)
    return {"cache": tmp_path / "cache", "plugin_log": tmp_path / "plugin.log", "mvn_log": tmp_path / "mvn.log",
            "jdk": tmp_path / "jdk"}  # fmt: skip


def _lines(path: Path) -> list[str]:
    return path.read_text().splitlines() if path.exists() else []


def _repin(monkeypatch: pytest.MonkeyPatch, sha256: str) -> None:
    spec = engines.ENGINES[ENGINE]
    monkeypatch.setitem(engines.ENGINES, ENGINE, dataclasses.replace(spec, plugins=(
        dataclasses.replace(spec.plugins[0], sha256=sha256),)))


def test_fetch_installs_the_plugin_and_a_refetch_does_not_reinstall(fake_maven: dict[str, Path]) -> None:
    home = localnode.fetch(ENGINE)
    assert home == fake_maven["cache"] / "fakeos-knn-1.0"
    assert (home / "plugins" / "fake-knn" / "plugin-descriptor.properties").is_file()
    marker = json.loads((home / maven.MARKER).read_text())
    assert marker["plugins"] == [{"artifact": PLUGIN_COORDS, "sha256": engines.ENGINES[ENGINE].plugins[0].sha256}]
    (run,) = _lines(fake_maven["plugin_log"])
    assert run.startswith("install --batch file://") and run.endswith(f"java={fake_maven['jdk']}")
    assert _lines(fake_maven["mvn_log"]) == [ENGINE_COORDS, PLUGIN_COORDS]

    assert localnode.fetch(ENGINE) == home  # idempotent: nothing downloaded or installed again
    assert len(_lines(fake_maven["plugin_log"])) == 1
    assert len(_lines(fake_maven["mvn_log"])) == 2
    assert sorted(p.name for p in fake_maven["cache"].iterdir()) == [".fetch.lock", "fakeos-knn-1.0"]


def test_a_plugin_with_the_wrong_sha256_is_refused_and_nothing_marked_installed(
    fake_maven: dict[str, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    _repin(monkeypatch, "ab" * 32)
    with pytest.raises(LocalNodeError, match=r"fake-knn-1.0.0.zip has SHA-256 \w+, expected the pinned abab") as err:
        localnode.fetch(ENGINE)
    assert "\n" not in str(err.value)  # one line
    assert _lines(fake_maven["plugin_log"]) == []  # never handed to the plugin tool
    assert [p.name for p in fake_maven["cache"].iterdir()] == [".fetch.lock"]  # no install, no leftovers


def test_a_failed_plugin_install_leaves_nothing_that_passes_as_installed(fake_maven: dict[str, Path]) -> None:
    Path(str(fake_maven["plugin_log"]) + ".fail").touch()
    with pytest.raises(LocalNodeError, match=r"^installing the plugin org.fake.plugin:fake-knn:1.0.0:zip into "
                                             r"fakeos-knn 1.0 failed \(exit 74\)") as err:
        localnode.fetch(ENGINE)
    assert "bad descriptor" in str(err.value)  # the tool's own words, in the lines after the message
    assert [p.name for p in fake_maven["cache"].iterdir()] == [".fetch.lock"]
    Path(str(fake_maven["plugin_log"]) + ".fail").unlink()
    assert (localnode.fetch(ENGINE) / "plugins" / "fake-knn").is_dir()  # the next fetch completes it


def test_an_install_without_the_pinned_plugins_is_fetched_again(
    fake_maven: dict[str, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    home = localnode.fetch(ENGINE)
    # an install interrupted before its plugins (or from before they were pinned): the engine's
    # own pin matches, the plugins are missing from its marker
    marker = json.loads((home / maven.MARKER).read_text())
    (home / maven.MARKER).write_text(json.dumps({**marker, "plugins": []}))
    assert localnode.fetch(ENGINE) == home
    assert len(_lines(fake_maven["plugin_log"])) == 2
    # another plugin pin: the old install is not trusted (and the new archive is refused)
    _repin(monkeypatch, "cd" * 32)
    with pytest.raises(LocalNodeError, match="expected the pinned cdcd"):
        localnode.fetch(ENGINE)
    assert json.loads((home / maven.MARKER).read_text())["plugins"][0]["sha256"] != "cd" * 32


def test_the_running_engine_is_the_recorded_one_only_when_its_product_answers() -> None:
    opensearch = {"engine": "opensearch"}
    assert running_engine(opensearch, {"engine": "opensearch-knn"}) == "opensearch-knn"
    assert running_engine(opensearch, {"engine": "opensearch"}) == "opensearch"
    assert running_engine(opensearch, {}) == "opensearch"  # no state: the product
    assert running_engine(opensearch, {"engine": "elasticsearch"}) == "opensearch"  # a stale record
    assert running_engine(opensearch, {"engine": "solr"}) == "opensearch"
    assert running_engine({"engine": "elasticsearch"}, {"engine": "opensearch-knn"}) == "elasticsearch"


@pytest.mark.parametrize("name", sorted(localnode.ENGINES))
def test_plugins_are_built_for_their_engine_version(name: str) -> None:
    """A plugin loads only into the engine version it was built for (OpenSearch's 3.5.0.0 is 3.5.0's)."""
    spec = localnode.ENGINES[name]
    for plugin in spec.plugins:
        assert plugin.version == spec.version or plugin.version.startswith(spec.version + "."), plugin
        assert len(plugin.sha256) == 64 and int(plugin.sha256, 16) >= 0


def test_opensearch_knn_is_its_own_install_with_the_knn_plugin() -> None:
    spec = localnode.ENGINES["opensearch-knn"]
    assert (spec.product, spec.version, spec.plugin_tool) == ("opensearch", "3.5.0", "bin/opensearch-plugin")
    assert [p.artifact for p in spec.plugins] == ["opensearch-knn"]
    assert localnode.install_dir("opensearch-knn") != localnode.install_dir("opensearch")
    assert set(localnode.ENGINES["opensearch"].required_modules) <= set(spec.required_modules)


def test_the_cli_offers_every_engine_and_refuses_others(capsys: pytest.CaptureFixture[str]) -> None:
    from warwatch.cli import build_parser

    parser = build_parser()
    for name in localnode.ENGINES:
        assert parser.parse_args(["local-es", "fetch", "--engine", name]).engine == name
    assert parser.parse_args(["local-es", "start", "--engine", "OpenSearch-KNN"]).engine == "opensearch-knn"
    with pytest.raises(SystemExit):
        parser.parse_args(["local-es", "start", "--engine", "solr"])
    assert "invalid choice: 'solr'" in capsys.readouterr().err


@pytest.mark.parametrize(("ci", "outcome"), [("true", pytest.fail.Exception), ("", pytest.skip.Exception)])
def test_a_missing_knn_engine_fails_in_ci_and_skips_elsewhere(
    monkeypatch: pytest.MonkeyPatch, ci: str, outcome: type[BaseException]
) -> None:
    from tests import conftest

    def unavailable(engine: str | None = None) -> Path:
        raise LocalNodeError("Maven (mvn) is required to fetch the local search node")

    monkeypatch.setenv("CI", ci)
    monkeypatch.setattr(localnode, "find_java", lambda major: Path("/jdk"))
    monkeypatch.setattr(localnode, "fetch", unavailable)
    with pytest.raises(outcome, match="the opensearch-knn engine is not available .*Maven"):
        conftest._knn_engine_available()
