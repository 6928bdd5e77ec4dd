"""DEVELOPERS.md names every module of indexing/, crawlers/ and warwatch/: by its path, its file
name, or its name in the Layout entry of its package (``index/   templates, setup, bulk, ...``)."""

from __future__ import annotations

import re
from pathlib import Path

from tests.conftest import REPO_ROOT

PACKAGES = ("indexing", "crawlers", "warwatch")
#: an entry of the Layout block starts at most this far in (descriptions stand further right)
ENTRY_INDENT = 12
_ENTRY = re.compile(r"^( *)(\S+)")


def layout_sections(text: str) -> dict[str, str]:
    """The Layout block's directories (``indexing/index/``) with the text of their entry and of
    everything listed under it."""
    block = text.split("## Layout", 1)[-1].split("```")[1]
    entries: list[tuple[int, str, int]] = []  # (line number, path, indent) of each directory entry
    stack: list[tuple[int, str]] = []  # (indent, directory) of the entries a line is under
    lines = block.splitlines()
    for n, line in enumerate(lines):
        m = _ENTRY.match(line)
        if not m or len(m.group(1)) > ENTRY_INDENT:
            continue
        indent, token = len(m.group(1)), m.group(2)
        while stack and stack[-1][0] >= indent:
            stack.pop()
        if token.endswith("/"):
            path = "".join(d for _, d in stack) + token
            stack.append((indent, token))
            entries.append((n, path, indent))
    sections = {}
    for n, path, indent in entries:
        end = next((k for k in range(n + 1, len(lines)) if (m := _ENTRY.match(lines[k]))
                    and len(m.group(1)) <= indent), len(lines))
        sections[path] = "\n".join(lines[n:end])
    return sections


def named(module: str, text: str, sections: dict[str, str]) -> bool:
    """Whether ``module`` (``indexing/index/bulk.py``) is named: its path or file name anywhere,
    or its name as a word in its package's Layout entry."""
    path = Path(module)
    if module in text or re.search(rf"(?<![\w.]){re.escape(path.name)}\b", text):
        return True
    section = sections.get(f"{path.parent.as_posix()}/", "")
    return re.search(rf"(?<![\w.]){re.escape(path.stem)}(?![\w])", section) is not None


def test_every_module_is_named_in_developers_md() -> None:
    text = (REPO_ROOT / "DEVELOPERS.md").read_text(encoding="utf-8")
    sections = layout_sections(text)
    modules = [p.relative_to(REPO_ROOT).as_posix() for pkg in PACKAGES for p in (REPO_ROOT / pkg).rglob("*.py")
               if "__pycache__" not in p.parts and p.name != "__init__.py"]
    assert len(modules) > 100  # the walk found the packages
    missing = sorted(m for m in modules if not named(m, text, sections))
    assert not missing, f"modules DEVELOPERS.md does not name (add them to its Layout): {missing}"


def test_the_check_reads_layout_entries() -> None:
    doc = """## Layout

```
indexing/                  the library
  index/                   templates, setup, bulk
  search/                  the search API
    safety.py              what a query may ask
crawlers/                  the Scrapy project
  pipelines/               archive (WARC), seen
```
indexing/retry.py is named by path. Also hybrid.py, by file name.
"""
    sections = layout_sections(doc)
    assert set(sections) == {"indexing/", "indexing/index/", "indexing/search/", "crawlers/", "crawlers/pipelines/"}
    assert named("indexing/index/bulk.py", doc, sections)
    assert named("indexing/search/safety.py", doc, sections)
    assert named("crawlers/pipelines/seen.py", doc, sections)
    assert named("indexing/retry.py", doc, sections) and named("indexing/search/hybrid.py", doc, sections)
    # a name listed under another package, or only inside a longer word, does not count
    assert not named("crawlers/bulk.py", doc, sections)
    assert not named("crawlers/pipelines/setup.py", doc, sections)
    assert not named("indexing/index/plate.py", doc, sections)
    assert not named("warwatch/pipeline/evidence.py", doc, sections)
