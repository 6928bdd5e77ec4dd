"""`make demo`: the main job on the embedded default — the bundled demo news site served on
127.0.0.1, the local search node, one full cycle, then a search.

The demo site is served on a fixed port by default so its URLs (and so the document ids) stay
the same from one demo run to the next: running the demo twice must not duplicate anything.
"""

from __future__ import annotations

import logging
from importlib import resources
from pathlib import Path

from indexing.settings import get_settings
from indexing.urls import redact_url
from warwatch import console as out

log = logging.getLogger(__name__)

DEMO_PORT = 8765
DEMO_SITE = Path(str(resources.files("demo").joinpath("site")))  # package data: found when installed too


def _is_local(url: str) -> bool:
    from urllib.parse import urlsplit

    return (urlsplit(url).hostname or "") in {"127.0.0.1", "localhost", "::1"}


def run_demo(query: str = "nordkoreanische Truppen", port: int = 0) -> int:
    from demo.server import render_sources, serve
    from indexing.engine import connect
    from indexing.search import search
    from warwatch import localnode, pipeline
    from warwatch.render import print_hits, print_report

    settings = get_settings()
    out.console.rule("[bold]warwatch demo")
    if _is_local(settings.es_url):
        from urllib.parse import urlsplit

        es_port = urlsplit(settings.es_url).port or 9200
        out.stage(f"starting the local search node on 127.0.0.1:{es_port} (first start takes a minute)")
        try:
            out.info(f"  search node ready at {localnode.start(port=es_port)}")
        except localnode.LocalNodeError as exc:
            out.error(str(exc))
            return 1
    else:
        out.stage(f"using the search cluster at {redact_url(settings.es_url)}")

    with serve(DEMO_SITE, port=port or DEMO_PORT) as server:
        out.stage(f"serving the bundled demo news site at {server.base_url}")
        demo_dir = settings.data_dir / "demo"
        demo_dir.mkdir(parents=True, exist_ok=True)
        sources = render_sources(server.base_url, Path(demo_dir / "sources.yaml"))

        with out.progress() as bar:
            tasks: dict[str, object] = {}

            def progress(stage: str, done: int, total: int | None) -> None:
                if stage not in tasks:
                    tasks[stage] = bar.add_task(stage, total=total)
                bar.update(tasks[stage], completed=done, total=total)  # type: ignore[arg-type]

            out.stage("one cycle: crawl → clean → enrich → index")
            try:
                result = pipeline.run_cycle(sources, progress=progress)
            except pipeline.PipelineError as exc:
                out.error(str(exc))
                return 1
    print_report(result.report)

    out.stage(f"searching for “{query}”")
    settings = get_settings()
    hits = search(query, size=10, engine=connect(settings), index=settings.articles_alias,
                  settings=settings.search, embeddings=settings.embeddings).to_json()
    print_hits(query, hits)
    out.console.rule()
    out.console.print(
        "Try: [bold].venv/bin/warwatch search \"North Korean troops\"[/], "
        "[bold]--lang fr[/], [bold]--json[/], [bold]--facets[/]"
    )
    return 0 if result.ok and hits.get("total") else 1
