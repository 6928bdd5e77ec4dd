"""Fetch: an engine's distribution from Maven Central (through ``mvn``, cached in ~/.m2),
verified against its pinned SHA-256, then unpacked under the project's ``.local/search/``, with its
plugins (each verified the same way) installed by the distribution's own plugin tool before the
install is marked complete."""

from __future__ import annotations

import hashlib
import json
import logging
import os
import shutil
import subprocess
import tempfile
import time
import zipfile
from pathlib import Path

from warwatch.localnode import engines
from warwatch.localnode.engines import LOG_TAIL_LINES, EngineSpec, LocalNodeError, Plugin, engine_spec
from warwatch.localnode.java import find_java
from warwatch.localnode.user import file_lock

logger = logging.getLogger(__name__)

MARKER = ".warwatch-fetched.json"
MVN_TIMEOUT = 1800
PLUGIN_TIMEOUT = 600  # seconds for one `bin/<engine>-plugin install` (a JVM on two busy cores)


def _mvn() -> str:
    mvn = shutil.which("mvn")
    if not mvn:
        raise LocalNodeError(
            "Maven (mvn) is required to fetch the local search node from Maven Central but is not on "
            "PATH; install it (e.g. apt-get install maven)"
        )
    return mvn


def _tail(output: str) -> str:
    """The last lines of a tool's output, indented, for an error message."""
    lines = [ln for ln in output.splitlines() if ln.strip()][-LOG_TAIL_LINES:]
    return "\n" + "\n".join(f"    | {ln}" for ln in lines) if lines else ""


def download(coordinates: str, dest: Path) -> Path:
    """The zip ``group:artifact:version:zip``, copied by ``mvn dependency:copy`` into ``dest``."""
    cmd = [
        _mvn(), "-B", "-q", "-ntp",
        "org.apache.maven.plugins:maven-dependency-plugin:3.6.1:copy",
        f"-Dartifact={coordinates}",
        f"-DoutputDirectory={dest}",
    ]  # fmt: skip
    logger.info("fetching %s from Maven Central", coordinates)
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=MVN_TIMEOUT, check=False, cwd=dest.parent)
    except subprocess.TimeoutExpired as exc:
        raise LocalNodeError(f"mvn timed out after {exc.timeout:.0f}s fetching {coordinates}") from exc
    if proc.returncode != 0:
        raise LocalNodeError(f"mvn could not fetch {coordinates} from Maven Central (exit {proc.returncode})"
                             f"{_tail(proc.stdout + proc.stderr)}")
    zips = list(dest.glob("*.zip"))
    if len(zips) != 1:
        raise LocalNodeError(f"mvn fetched {len(zips)} archives for {coordinates}, expected 1")
    return zips[0]


def verify_sha256(archive: Path, expected: str) -> None:
    """Refuse an archive whose SHA-256 is not the pinned one (before anything is unpacked)."""
    digest = hashlib.sha256()
    with open(archive, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    if digest.hexdigest() != expected.lower():
        raise LocalNodeError(
            f"{archive.name} has SHA-256 {digest.hexdigest()}, expected the pinned {expected}; "
            "refusing to unpack it (a corrupt or substituted download; delete it from ~/.m2 and fetch again)"
        )


def unzip(archive: Path, dest: Path) -> None:
    """Unpack keeping the executable bits (zipfile drops them); nothing outside ``dest``."""
    root = dest.resolve()
    with zipfile.ZipFile(archive) as zf:
        for info in zf.infolist():
            target = (dest / info.filename).resolve()
            if not str(target).startswith(str(root) + os.sep) and target != root:
                raise LocalNodeError(f"refusing to unpack {info.filename!r} outside {dest}")
            zf.extract(info, dest)
            mode = (info.external_attr >> 16) & 0o777
            if mode and not info.is_dir():
                os.chmod(target, mode | 0o444)


def make_world_readable(root: Path) -> None:
    """The unpacked tree (ours, under .local/search) readable by the node user."""
    for dirpath, dirnames, filenames in os.walk(root):
        for d in dirnames:
            p = Path(dirpath, d)
            p.chmod(p.stat().st_mode | 0o555)
        for f in filenames:
            p = Path(dirpath, f)
            if not p.is_symlink():
                p.chmod(p.stat().st_mode | 0o444)
    root.chmod(root.stat().st_mode | 0o555)


def _checked_root(spec: EngineSpec, archive: Path, unpack: Path) -> tuple[Path, list[str]]:
    """Unpack and check it is the engine with the modules the product needs."""
    unpack.mkdir()
    unzip(archive, unpack)
    roots = [p for p in unpack.iterdir() if p.is_dir()]
    if len(roots) != 1 or not (roots[0] / spec.launcher).is_file():
        raise LocalNodeError(f"{archive.name} does not look like a {spec.name} distribution")
    modules = sorted(p.name for p in (roots[0] / "modules").iterdir() if p.is_dir())
    missing = [m for m in spec.required_modules if m not in modules]
    if missing:
        raise LocalNodeError(f"{spec.name} {spec.version} lacks the modules {', '.join(missing)}; pick another version")
    return roots[0], modules


def install_plugin(spec: EngineSpec, root: Path, plugin: Plugin, work: Path) -> None:
    """Download ``plugin``, verify it, and install it into the unpacked distribution ``root``
    with the distribution's own plugin tool (``--batch``: its security policy accepted)."""
    dl = work / f"plugin-{plugin.artifact}"
    dl.mkdir()
    archive = download(plugin.coordinates, dl)
    verify_sha256(archive, plugin.sha256)
    env = {"PATH": os.environ.get("PATH", "/usr/local/bin:/usr/bin:/bin"), "LANG": "C.UTF-8", "HOME": str(work),
           f"{spec.env_prefix}_JAVA_HOME": str(find_java(spec.min_java))}  # fmt: skip
    cmd = [str(root / spec.plugin_tool), "install", "--batch", archive.resolve().as_uri()]
    logger.info("installing %s into %s %s", plugin.coordinates, spec.name, spec.version)
    what = f"installing the plugin {plugin.coordinates} into {spec.name} {spec.version}"
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=PLUGIN_TIMEOUT, check=False, env=env,  # noqa: S603
                              cwd=root)  # fmt: skip
    except subprocess.TimeoutExpired as exc:
        raise LocalNodeError(f"{what} timed out after {exc.timeout:.0f}s") from exc
    except OSError as exc:
        raise LocalNodeError(f"{what} failed: {exc}") from exc
    if proc.returncode != 0:
        raise LocalNodeError(f"{what} failed (exit {proc.returncode}){_tail(proc.stdout + proc.stderr)}")
    if not (root / "plugins" / plugin.artifact).is_dir():
        raise LocalNodeError(f"{what}: the plugin tool succeeded but plugins/{plugin.artifact} is not there")


def _plugin_pins(spec: EngineSpec) -> list[dict[str, str]]:
    return [{"artifact": p.coordinates, "sha256": p.sha256} for p in spec.plugins]


def _verified_install(home: Path, spec: EngineSpec) -> bool:
    """``home`` was unpacked from an archive with the pinned SHA-256 and has exactly the pinned
    plugins installed (an install from before the pin, from another archive, or with other
    plugins, is fetched again)."""
    try:
        marker = json.loads((home / MARKER).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    return (isinstance(marker, dict) and marker.get("sha256") == spec.sha256
            and marker.get("plugins", []) == _plugin_pins(spec))  # fmt: skip


def install_dir(engine: str | None = None) -> Path:
    """Where the engine's distribution is (or will be) unpacked."""
    return engines.CACHE_DIR / engine_spec(engine).dirname


def fetch(engine: str | None = None) -> Path:
    """Download the engine's distribution, verify it and unpack it under ``.local/search/``;
    idempotent. Returns the install dir."""
    spec = engine_spec(engine)
    cache = engines.CACHE_DIR
    home = cache / spec.dirname
    if _verified_install(home, spec):
        return home
    cache.mkdir(parents=True, exist_ok=True)
    with file_lock(cache / ".fetch.lock"):
        if _verified_install(home, spec):
            return home
        with tempfile.TemporaryDirectory(prefix=".fetch-", dir=cache) as tmp:
            root = _build(spec, Path(tmp))
            if home.exists():  # an install of other pins, or one from before the pins
                shutil.rmtree(home)
            os.replace(root, home)
        logger.info("unpacked %s %s into %s", spec.name, spec.version, home)
    return home


def _build(spec: EngineSpec, work: Path) -> Path:
    """The engine unpacked and checked in ``work``, its plugins installed, marked complete (the
    marker is written last: a failure before it leaves nothing that passes as installed)."""
    (work / "dl").mkdir()
    archive = download(spec.coordinates, work / "dl")
    verify_sha256(archive, spec.sha256)
    root, modules = _checked_root(spec, archive, work / "unpack")
    for plugin in spec.plugins:
        install_plugin(spec, root, plugin, work)
    make_world_readable(root)
    marker = {"engine": spec.name, "version": spec.version, "artifact": spec.coordinates,
              "sha256": spec.sha256, "modules": modules, "plugins": _plugin_pins(spec),
              "fetched_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())}  # fmt: skip
    (root / MARKER).write_text(json.dumps(marker, indent=2) + "\n", encoding="utf-8")
    return root
