"""Finding a JDK recent enough for the engine."""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import subprocess
from pathlib import Path

from warwatch.localnode.engines import LocalNodeError


def _version_from_release(java_home: Path) -> str | None:
    text = ""
    with contextlib.suppress(OSError):
        text = (java_home / "release").read_text(encoding="utf-8", errors="replace")
    m = re.search(r'^JAVA_VERSION="([^"]+)"', text, re.M)
    return m.group(1) if m else None


def _version_from_binary(java_home: Path) -> str | None:
    java = java_home / "bin" / "java"
    if not os.access(java, os.X_OK):
        return None
    try:
        out = subprocess.run([str(java), "-version"], capture_output=True, text=True, timeout=30, check=False).stderr
    except (OSError, subprocess.SubprocessError):
        return None
    m = re.search(r'version "([^"]+)"', out)
    return m.group(1) if m else None


def java_major(java_home: Path) -> int | None:
    version = _version_from_release(java_home) or _version_from_binary(java_home)
    if version is None:
        return None
    parts = version.split(".")
    try:
        major = int(parts[0])
        return int(parts[1]) if major == 1 and len(parts) > 1 else major
    except ValueError:
        return None


def _candidates() -> list[Path]:
    candidates: list[Path] = []
    on_path = shutil.which("java")
    if on_path:
        candidates.append(Path(os.path.realpath(on_path)).parent.parent)
    jvm_root = Path("/usr/lib/jvm")
    if jvm_root.is_dir():
        candidates.extend(p for p in sorted(jvm_root.iterdir()) if p.is_dir() and not p.is_symlink())
    return candidates


def find_java(min_major: int) -> Path:
    """A JDK home with Java >= min_major: $JAVA_HOME, `java` on PATH, then /usr/lib/jvm/*
    (the newest that fits wins, except that an explicit, suitable $JAVA_HOME is used as is)."""
    candidates: list[Path] = []
    env_home = os.environ.get("WARWATCH_JAVA_HOME") or os.environ.get("JAVA_HOME")
    if env_home:
        home = Path(env_home)
        major = java_major(home)
        if major is not None and major >= min_major:
            return home
        candidates.append(home)
    best: tuple[int, Path] | None = None
    seen: set[Path] = set()
    found: list[str] = []
    for cand in [*candidates, *_candidates()]:
        real = cand.resolve()
        if real in seen:
            continue
        seen.add(real)
        major = java_major(real)
        if major is None:
            continue
        found.append(f"{major} ({real})")
        if major >= min_major and (best is None or major > best[0]):
            best = (major, real)
    if best is None:
        raise LocalNodeError(
            f"Java {min_major}+ is required for the local search node but was not found "
            f"(found: {', '.join(found) or 'none'}); install a JDK {min_major}+ or set JAVA_HOME"
        )
    return best[1]
