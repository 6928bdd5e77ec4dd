"""Topic and entity tagging per language, for two versions of the enrichment config (e.g. before
and after Polish/Spanish coverage), on the cross-lingual story fixtures and the real background
pages.

Usage: python benchmarks/enrich_languages.py --old DIR [--new DIR] [--datasets ../shared/datasets]
                                             [--languages pl,es]

DIR holds topics.yaml and entities.yaml (``git show main:config/topics.yaml > DIR/topics.yaml``).
``--new`` defaults to the checkout's config/.

Measures, per config:

* **stories** (tests/fixtures/crosslingual/world-*.yaml, stories*.yaml): for each article in one
  of ``--languages``, the topics and entities it gets. A story's reference topics are the topics
  its articles in the other languages (de, en, fr, uk, ru) get under the *new* config: a pl/es
  article "gets its story's topic" when it shares at least one of them. Also: pl/es articles
  with any topic, mean entities per pl/es article, and pl/es look-alikes with any topic.
* **background** (``--datasets``: the ~970 real pages search_world.py indexes, extracted the same
  way): pages with any topic, pages with a topic of the war (every topic is one), per detected
  language.
"""

from __future__ import annotations

import argparse
import logging
import sys
from collections import Counter
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from benchmarks.search_world import SEVEN, WORLD, background  # noqa: E402
from indexing.enrich import enrich  # noqa: E402
from indexing.enrich.entities import parse_gazetteer  # noqa: E402
from indexing.enrich.topics import parse_topics  # noqa: E402


def load_config(folder: Path) -> tuple[Any, Any]:
    gz = parse_gazetteer(folder / "entities.yaml")
    return parse_topics(folder / "topics.yaml", gazetteer=gz), gz


def story_articles() -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    for split, files in (("dev", (WORLD["dev"], SEVEN["dev"])), ("validation", (WORLD["validation"], SEVEN["validation"]))):
        for path in files:
            doc = yaml.safe_load(path.read_text(encoding="utf-8"))
            for sid, by_lang in doc["stories"].items():
                for lang, art in by_lang.items():
                    out.append({"story": sid, "language": lang, "title": art["title"], "body": art["body"],
                                "kind": "story", "split": split, "file": path.name})
            for art in doc.get("lookalikes", []):
                out.append({"story": None, "like": art.get("story_like"), "language": art["language"],
                            "title": art["title"], "body": art["body"], "kind": "lookalike", "split": split})
    return out


def tag(arts: list[dict[str, Any]], cfg: tuple[Any, Any]) -> list[dict[str, Any]]:
    topics, gz = cfg
    return [enrich(a, topics=topics, gazetteer=gz) for a in arts]


def story_figures(arts: list[dict[str, Any]], old: tuple[Any, Any], new: tuple[Any, Any], langs: set[str]) -> None:
    new_docs = tag(arts, new)
    old_docs = tag(arts, old)
    reference: dict[str, set[str]] = {}
    for a, d in zip(arts, new_docs, strict=True):
        if a["kind"] == "story" and a["language"] not in langs:
            reference.setdefault(a["story"], set()).update(d["topics"])
    for name, docs in (("old", old_docs), ("new", new_docs)):
        c: Counter[str] = Counter()
        for a, d in zip(arts, docs, strict=True):
            if a["language"] not in langs:
                continue
            if a["kind"] == "lookalike":
                c["lookalikes"] += 1
                c["lookalikes_with_topic"] += bool(d["topics"])
                continue
            c["articles"] += 1
            c["with_topic"] += bool(d["topics"])
            c["entities"] += len(d["entity_ids"])
            ref = reference.get(a["story"], set())
            if ref:
                c["with_reference"] += 1
                c["share_reference"] += bool(ref & set(d["topics"]))
        print(f"stories [{name}]: {c['articles']} {'/'.join(sorted(langs))} articles, "
              f"{c['with_topic']} with a topic; {c['share_reference']}/{c['with_reference']} share a topic "
              f"their story gets in another language; {c['entities'] / max(c['articles'], 1):.1f} entities "
              f"per article; look-alikes with a topic: {c['lookalikes_with_topic']}/{c['lookalikes']}")


def background_figures(arts: list[dict[str, Any]], old: tuple[Any, Any], new: tuple[Any, Any]) -> None:
    for name, cfg in (("old", old), ("new", new)):
        docs = tag(arts, cfg)
        by_lang: Counter[str] = Counter()
        tagged: Counter[str] = Counter()
        topics: Counter[str] = Counter()
        for d in docs:
            lang = d.get("language") or "?"
            by_lang[lang] += 1
            if d["topics"]:
                tagged[lang] += 1
                topics.update(d["topics"])
        langs = ", ".join(f"{lang} {tagged[lang]}/{n}" for lang, n in by_lang.most_common(8))
        print(f"background [{name}]: {sum(tagged.values())}/{len(docs)} pages with a war topic ({langs}); "
              f"most frequent: {topics.most_common(5)}")


def main() -> int:
    logging.getLogger("indexing.enrich.topics").setLevel(logging.ERROR)  # the old config lacks pl/es terms
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--old", required=True, type=Path)
    parser.add_argument("--new", type=Path, default=ROOT / "config")
    parser.add_argument("--datasets", default=str(ROOT.parent / "shared" / "datasets"))
    parser.add_argument("--languages", default="pl,es")
    args = parser.parse_args()
    old, new = load_config(args.old), load_config(args.new)
    story_figures(story_articles(), old, new, set(args.languages.split(",")))
    datasets = Path(args.datasets)
    arts, skipped = background(datasets / "web-snippets-dev", datasets / "article-extraction-dev")
    print(f"background: {len(arts)} pages with a body ({skipped})")
    background_figures(arts, old, new)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
