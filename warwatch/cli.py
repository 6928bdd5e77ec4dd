"""The `warwatch` command. Every command calls the same library functions as the DAGs."""

from __future__ import annotations

import argparse
import json
import logging
import sys
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any

from indexing.dates import parse_iso
from indexing.engine import EngineError
from indexing.errors import ConfigError
from indexing.search import QueryError
from warwatch import console as out
from warwatch.localnode.engines import ENGINES

log = logging.getLogger(__name__)

#: the kinds a change record names (indexing.changes.diff: EDIT_KINDS + TAKEDOWN_KINDS; spelt out
#: here so that `warwatch --help` needs no library import)
CHANGE_KINDS = ("headline", "text_added", "text_removed", "reworded", "numbers", "quote", "byline", "date",
                "correction", "removed", "redirected", "soft_404", "walled")
#: `warwatch changes --json` prints every matching record up to this many (then "truncated": true)
JSON_CHANGES_MAX = 100_000


def _date(value: str) -> datetime:
    dt = parse_iso(value)
    if dt is None:
        raise argparse.ArgumentTypeError(f"not an ISO date: {value!r}")
    return dt


def _es_url() -> str:
    """The configured search engine URL as it may be shown (credentials redacted)."""
    from indexing.settings import get_settings
    from indexing.urls import redact_url

    return ",".join(redact_url(u) for u in get_settings().es_url.split(","))


def _scrub(text: str) -> str:
    """A message with the credentials of the configured search engine URL redacted."""
    from indexing.settings import get_settings
    from indexing.urls import redact_in

    try:
        for url in get_settings().es_url.split(","):
            text = redact_in(text, url.strip())
        return text
    except ConfigError:
        return text


class _ScrubbingFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        return _scrub(super().format(record))


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="warwatch", description="Crawl, clean, enrich, index and search war coverage.")
    p.add_argument("-v", "--verbose", action="count", default=0, help="more logging (-vv for debug)")
    sub = p.add_subparsers(dest="command", required=True)

    es_local = sub.add_parser("local-es", help="a real local search node (no Docker), fetched from Maven Central")
    es_local.add_argument("action", choices=["start", "stop", "status", "fetch"],
                          help="fetch: download (Maven), verify and unpack the engine without starting it")
    es_local.add_argument("--port", type=int, default=None)
    es_local.add_argument("--engine", default=None, type=str.lower, choices=sorted(ENGINES),
                          help="the engine (default: local_es.engine in the settings, else opensearch); "
                               "opensearch-knn: OpenSearch 3.5.0 with the k-NN plugin (vector search)")
    es_local.add_argument("--nodes", type=int, default=1,
                          help="start: a cluster of N nodes on ports PORT..PORT+N-1 (stop stops a whole cluster)")
    es_local.add_argument("--secure", action="store_true",
                          help="start: Elasticsearch with TLS, the elastic password and an API key for "
                               "warwatch's indices (files under the node dir, mode 0600)")
    es_local.add_argument("--transport-port", type=int, default=None,
                          help="a cluster's first transport port (default PORT+200; never 9300-9399)")

    run = sub.add_parser("run", help="one full cycle for every configured source: crawl, clean, enrich, index")
    run.add_argument("--sources", type=Path, default=None, help="sources file (default: WARWATCH_SOURCES)")
    run.add_argument("--run-id", default=None)

    rep = sub.add_parser("reprocess", help="re-run cleaning and indexing from the WARC archive (no network)")
    rep.add_argument("--since", type=_date, default=None, help="first fetch time (ISO date)")
    rep.add_argument("--until", type=_date, default=None, help="last fetch time (ISO date)")
    rep.add_argument("--source", action="append", default=None, help="only this source (repeatable)")

    s = sub.add_parser("search", help="full-text search across languages")
    s.add_argument("query")
    s.add_argument("--json", action="store_true")
    s.add_argument("--lang")
    s.add_argument("--source")
    s.add_argument("--topic")
    s.add_argument("--entity")
    s.add_argument("--since", type=_date)
    s.add_argument("--until", type=_date)
    s.add_argument("--size", type=int, default=10)
    s.add_argument("--order", choices=["relevance", "date"], default="relevance")
    s.add_argument("--facets", action="store_true")

    ch = sub.add_parser("changes", help="edits and takedowns of stored articles, newest first")
    ch.add_argument("--since", type=_date, default=None, help="detected at or after (ISO date)")
    ch.add_argument("--source", default=None)
    ch.add_argument("--kind", default=None, choices=CHANGE_KINDS, help="one kind of change")
    ch.add_argument("--limit", type=int, default=None,
                    help=f"at most this many records (default: 100 in the table, {JSON_CHANGES_MAX:,} with --json)")
    ch.add_argument("--json", action="store_true")

    hi = sub.add_parser("history", help="the versions of one article, with a word-level diff")
    hi.add_argument("url", help="the article's URL (as fetched or canonical) or its document id")
    hi.add_argument("--json", action="store_true")

    ex = sub.add_parser("extract", help="the cleaned article of one HTML page")
    ex.add_argument("path", help="an HTML file, or - for standard input")
    ex.add_argument("--url", default=None)
    ex.add_argument("--json", action="store_true")

    es = sub.add_parser("es", help="index templates and migrations")
    es.add_argument("action", choices=["setup", "migrate", "status"])

    kb = sub.add_parser("kibana", help="Kibana saved objects")
    kb.add_argument("action", choices=["import", "write"],
                    help="import: post them to Kibana; write: regenerate config/kibana/warwatch.ndjson")
    kb.add_argument("--url", default=None, help="Kibana's http(s) URL (import only)")

    al = sub.add_parser("alerts", help="evaluate topic watches for a run (or only retry queued deliveries)")
    al.add_argument("--run-id", default=None, help="a run under data/runs (default: retry queued deliveries)")
    al.add_argument("--json", action="store_true")

    sub.add_parser("watches", help="list the configured topic watches")

    hl = sub.add_parser("health", help="per-source pipeline health: last run, found/fetched/new, errors, freshness")
    hl.add_argument("--json", action="store_true")
    hl.add_argument("--record", action="store_true",
                    help="first record the runs whose figures are not in the runs index yet")
    hl.add_argument("--alert", action="store_true",
                    help="also raise health alerts for new problems (what the maintenance DAG does)")

    demo = sub.add_parser("demo", help="serve the bundled demo site, run one cycle, search it")
    demo.add_argument("--query", default="nordkoreanische Truppen")
    demo.add_argument("--port", type=int, default=0)
    return p


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    level = logging.WARNING if args.verbose == 0 else logging.INFO if args.verbose == 1 else logging.DEBUG
    logging.basicConfig(level=level, format="%(levelname)s %(name)s: %(message)s", stream=sys.stderr)
    for handler in logging.getLogger().handlers:  # tracebacks and client logs may quote the URL
        handler.setFormatter(_ScrubbingFormatter("%(levelname)s %(name)s: %(message)s"))
    if not args.verbose:
        # The clients log every non-2xx answer (a 404 for a missing alias is expected): keep that for -v.
        for noisy in ("opensearch", "elasticsearch", "elastic_transport"):
            logging.getLogger(noisy).setLevel(logging.ERROR)
    try:
        return int(COMMANDS[args.command](args) or 0)
    except ConfigError as exc:
        out.error(str(exc))
        return 2
    except QueryError as exc:  # the user's query, not the engine: one line, exit 2 like bad config
        out.error(str(exc))
        return 2
    except EngineError as exc:
        out.error(f"search engine at {_es_url()}: {exc}")
        return 1
    except KeyboardInterrupt:
        out.error("interrupted")
        return 130
    except Exception as exc:  # the last line of defence: one clear line, details with -v
        if args.verbose:
            log.exception("failed")
        out.error(_scrub(f"{type(exc).__name__}: {exc}"))
        return 1


# --------------------------------------------------------------------------- commands
def cmd_local_es(args: argparse.Namespace) -> int:
    from warwatch import localnode

    try:
        if args.action == "fetch":
            out.info(str(localnode.fetch(engine=args.engine)))
        elif args.action == "start" and args.nodes > 1:
            out.info(",".join(localnode.start_cluster(port=args.port, nodes=args.nodes, engine=args.engine,
                                                      transport_port=args.transport_port)))
        elif args.action == "start" and args.secure:
            out.info(_start_secure(args.port, args.engine))
        elif args.action == "start":
            out.info(localnode.start(port=args.port, engine=args.engine))
        elif args.action == "stop":
            stopped = localnode.stop_cluster(port=args.port)
            out.info(f"stopped (ports {', '.join(map(str, stopped))})" if stopped else "not running")
        else:
            st = localnode.status(port=args.port)
            out.info(json.dumps(st, indent=2, default=str))
            return 0 if st.get("running") else 3
    except localnode.LocalNodeError as exc:
        out.error(str(exc))
        return 1
    return 0


def _start_secure(port: int | None, engine: str | None) -> str:
    """A secured Elasticsearch node and an API key for this configuration's index prefix; how to
    connect (the key itself stays in its 0600 file)."""
    from indexing.settings import get_settings
    from warwatch import localnode
    from warwatch.localnode import secure

    localnode.start(port=port, engine=engine or "elasticsearch", secured=True)
    settings = get_settings()
    p = port if port is not None else settings.local_es.port
    ndir = localnode.node_dir(p)
    try:
        secure.create_api_key(p, ndir, settings.index_prefix)
        made = f"an API key for {settings.index_prefix}*"
    except localnode.LocalNodeError as exc:  # the integ-test-zip cannot create .security (secure.py)
        made = f"no API key ({exc}); the file-realm user {secure.FILE_USER}, limited to {settings.index_prefix}*"
    return f"secured node up with {made}. Connect with:\n" + secure.connect_hint(p, ndir)


def cmd_run(args: argparse.Namespace) -> int:
    from warwatch import pipeline
    from warwatch.pipeline.crawl import crawl_progress

    with out.progress() as bar:
        tasks: dict[str, Any] = {}

        def progress(stage: str, done: int, total: int | None) -> None:
            if stage not in tasks:
                tasks[stage] = bar.add_task(stage, total=total)
            bar.update(tasks[stage], completed=done, total=total)

        def on_crawl_line(line: str) -> None:
            event = crawl_progress(line)
            if event is not None and "fetched" in event:
                progress("crawl", int(event["fetched"]), event.get("discovered"))

        out.stage("crawling, cleaning and indexing every configured source")
        return _report(lambda: pipeline.run_cycle(args.sources, run_id=args.run_id, progress=progress,
                                                  on_crawl_line=on_crawl_line))


def cmd_reprocess(args: argparse.Namespace) -> int:
    from warwatch import pipeline

    return _report(lambda: pipeline.reprocess(since=args.since, source=args.source, until=args.until))


def _report(cycle: Callable[[], Any]) -> int:
    """Run a pipeline cycle, print its report; exit status 0 only when it completed."""
    from warwatch import pipeline
    from warwatch.render import print_report

    try:
        result = cycle()
    except pipeline.PipelineError as exc:
        out.error(str(exc))
        return 1
    print_report(result.report)
    for other in getattr(result, "others", ()):  # batches earlier runs left unprocessed, done by this one
        print_report(other)
    return 0 if result.ok else 1


def cmd_search(args: argparse.Namespace) -> int:
    from indexing.engine import connect
    from indexing.search import search
    from indexing.settings import get_settings

    settings = get_settings()
    result = search(
        args.query, lang=args.lang, source=args.source, topic=args.topic, entity=args.entity,
        since=args.since, until=args.until, size=args.size, order=args.order, facets=args.facets,
        engine=connect(settings), index=settings.articles_alias, settings=settings.search,
        embeddings=settings.embeddings,
    )
    if args.json:
        sys.stdout.write(json.dumps(result.to_json(), ensure_ascii=False, indent=2) + "\n")
    else:
        from warwatch.render import print_hits

        print_hits(args.query, result.to_json())
    return 0


def cmd_changes(args: argparse.Namespace) -> int:
    from indexing.changes.store import ChangeQuery, iter_changes
    from indexing.engine import connect
    from indexing.index.setup import changes_index
    from indexing.settings import get_settings

    limit = args.limit if args.limit is not None else (JSON_CHANGES_MAX if args.json else 100)
    if limit < 1:
        out.error("--limit must be at least 1")
        return 2
    query = ChangeQuery(since=args.since, source=args.source, kind=args.kind)
    engine = connect(get_settings())
    try:
        records = list(iter_changes(engine, changes_index(get_settings().index_prefix), query, limit=limit))
    finally:
        engine.close()
    if args.json:
        payload: dict[str, Any] = {"changes": records}
        if len(records) >= limit:
            payload["truncated"] = True  # more may match: narrow with --since/--source/--kind
        sys.stdout.write(json.dumps(payload, ensure_ascii=False, indent=2) + "\n")
    else:
        from warwatch.render import print_changes

        print_changes(records)
    return 0


def cmd_history(args: argparse.Namespace) -> int:
    """Exit status 1 when the article is unknown."""
    from indexing.changes.store import article_changes, find_article_id
    from indexing.engine import connect
    from indexing.index.setup import articles_alias, changes_index, versions_index
    from indexing.index.versions import get_versions
    from indexing.settings import get_settings

    prefix = get_settings().index_prefix
    engine = connect(get_settings())
    try:
        did = find_article_id(engine, articles_alias(prefix), versions_index(prefix), args.url)
        if did is None:
            out.error(f"no stored article for {args.url!r} (give its URL as fetched or canonical, or its id)")
            return 1
        versions = [_readable(v) for v in get_versions(did, engine=engine, prefix=prefix)]
        changes = article_changes(engine, changes_index(prefix), [did])
    finally:
        engine.close()
    url = next((v.get("canonical_url") or v.get("url") for v in reversed(versions) if v.get("url")), args.url)
    payload = {"url": url, "doc_id": did, "versions": versions, "changes": changes}
    if args.json:
        sys.stdout.write(json.dumps(payload, ensure_ascii=False, indent=2) + "\n")
    else:
        from warwatch.render import print_history

        print_history(payload)
    return 0


def _readable(version: dict[str, Any]) -> dict[str, Any]:
    """A stored version without what only the engine reads: the vector, the per-language copies
    of the text, the name skeletons and labels."""
    from indexing.index.templates import EMBEDDING_FIELD, LANG_FIELDS, TEXT_FIELDS

    copies = {f"{f}_{lf}" for f in TEXT_FIELDS for lf in LANG_FIELDS}
    return {k: v for k, v in version.items() if k != EMBEDDING_FIELD and k not in copies
            and k != "names_translit" and not k.startswith("labels_")}


def cmd_extract(args: argparse.Namespace) -> int:
    from rich.text import Text

    from indexing.extraction import extract

    if args.path == "-":
        data = sys.stdin.buffer.read()
    else:
        path = Path(args.path)
        if not path.is_file():
            out.error(f"no such file: {path}")
            return 2
        data = path.read_bytes()
    article = extract(data, url=args.url)
    doc = article.to_dict()
    if args.json:
        sys.stdout.write(json.dumps(doc, ensure_ascii=False, indent=2) + "\n")
    else:
        out.console.print(Text(doc.get("title") or "(no title)", style="bold"))
        out.console.print(Text(f"{doc.get('language')} · {doc.get('published')} · {doc.get('canonical_url')}\n"))
        out.console.print(Text(doc.get("body") or f"(no article: {doc.get('status_reason')})"))
    return 0 if article.status == "ok" else 1


def cmd_es(args: argparse.Namespace) -> int:
    from indexing.engine import connect
    from indexing.index import setup
    from indexing.settings import get_settings

    settings = get_settings()
    engine = connect(settings)
    partition = settings.pipeline.index_partition
    if args.action == "setup":
        out.info(f"articles alias → {setup.setup_indices(engine, settings.index_prefix, partition=partition)}")
    elif args.action == "migrate":
        out.info(f"articles alias → {setup.migrate(engine, settings.index_prefix, partition=partition)}")
    else:
        out.info(json.dumps(engine.info(), indent=2, default=str))
    return 0


def cmd_kibana(args: argparse.Namespace) -> int:
    from indexing.urls import redact_url
    from warwatch.kibana import KibanaError, import_saved_objects, write_saved_objects

    if args.action == "write":
        out.info(str(write_saved_objects()))
        return 0
    if not args.url:
        out.error("warwatch kibana import needs --url (Kibana's http(s) URL)")
        return 2
    try:
        result = import_saved_objects(args.url)
    except KibanaError as exc:
        out.error(f"Kibana at {redact_url(args.url)}: {exc}")
        return 1
    out.info(json.dumps(result, indent=2, default=str))
    return 0


def cmd_alerts(args: argparse.Namespace) -> int:
    from indexing.alerts import evaluate
    from indexing.settings import get_settings

    report = evaluate(args.run_id, settings=get_settings())
    _show(report.as_dict(), args.json, "print_alerts")
    return 0 if report.ok else 1


def cmd_watches(args: argparse.Namespace) -> int:
    from indexing.alerts import configured_watches
    from indexing.settings import get_settings

    config = configured_watches(get_settings())
    out.kv_table(f"Watches ({config.path})",
                 [(w.id, f"{w.display_name}: “{w.query}” → {', '.join(w.channels.names())}") for w in config.watches])
    return 0


def cmd_health(args: argparse.Namespace) -> int:
    """Exit status 0 when every source is healthy, 1 when a rule found a problem."""
    from indexing import health
    from indexing.settings import get_settings

    settings = get_settings()
    if args.record:
        recorded = health.record_pending_runs(settings=settings)
        if not args.json:
            out.info(f"recorded {len(recorded)} runs")
    report = health.check_health(settings=settings) if args.alert else health.source_health(settings=settings)
    _show(report.as_dict(), args.json, "print_health")
    return 0 if report.ok else 1


def _show(payload: dict[str, Any], as_json: bool, printer: str) -> None:
    """A report as JSON on stdout, or through one of warwatch.render's printers."""
    if as_json:
        sys.stdout.write(json.dumps(payload, ensure_ascii=False, indent=2) + "\n")
        return
    from warwatch import render

    getattr(render, printer)(payload)


def cmd_demo(args: argparse.Namespace) -> int:
    from warwatch.demo import run_demo

    return run_demo(query=args.query, port=args.port)


COMMANDS = {
    "local-es": cmd_local_es,
    "run": cmd_run,
    "reprocess": cmd_reprocess,
    "search": cmd_search,
    "changes": cmd_changes,
    "history": cmd_history,
    "extract": cmd_extract,
    "es": cmd_es,
    "kibana": cmd_kibana,
    "alerts": cmd_alerts,
    "watches": cmd_watches,
    "health": cmd_health,
    "demo": cmd_demo,
}

if __name__ == "__main__":
    sys.exit(main())
