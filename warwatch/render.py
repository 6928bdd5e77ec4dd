"""Run reports and search results as a person reads them (rich tables)."""

from __future__ import annotations

from typing import Any

from rich.table import Table

from warwatch.console import console

#: (report key, column header) — short headers so the table fits an 80-column terminal.
CRAWL_COLUMNS = [
    ("discovered", "found"), ("fetched", "fetched"), ("new", "new"), ("updated", "upd"),
    ("unchanged", "same"), ("robots_denied", "robots"), ("bytes", "KiB"), ("duration", "s"),
]


def print_report(report: dict[str, Any]) -> None:
    crawl = report.get("crawl") or {}
    sources = crawl.get("sources") or {}
    table = Table(title=f"Run {report.get('run_id')}: crawl per source")
    table.add_column("source", style="bold", overflow="fold")
    for _, header in CRAWL_COLUMNS:
        table.add_column(header, justify="right")
    table.add_column("failed / flags", overflow="fold")
    for sid, counts in sorted(sources.items()):
        failed = counts.get("failed") or {}
        notes = [f"{k}={v}" for k, v in sorted(failed.items())] if isinstance(failed, dict) else [str(failed)]
        notes += [f"[red]{flag}[/]" for flag in counts.get("flags") or []]
        row = [sid]
        for key, _ in CRAWL_COLUMNS:
            value = counts.get(key)
            if key == "bytes" and isinstance(value, int | float):
                value = round(value / 1024)
            row.append(_fmt(value))
        row.append(", ".join(notes) or "-")
        table.add_row(*row)
    console.print(table)

    for stage in ("clean", "index"):
        counts = report.get(stage) or {}
        if not counts:
            continue
        items = ", ".join(f"{k}={v}" for k, v in sorted(counts.items()) if k not in ("stage",))
        console.print(f"[bold]{stage}[/]: {items}")
    if report.get("alerts"):
        print_alerts(report["alerts"])
    problems = report.get("problems") or []
    if problems:
        console.print("[bold red]Problems:[/]")
        for p in problems:
            console.print(f"  [red]•[/] {p}")
    else:
        console.print("[bold green]Run completed without problems.[/]")


def _fmt(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:.1f}"
    return str(value)


def print_hits(query: str, result: dict[str, Any]) -> None:
    hits = result.get("hits") or []
    console.print(f"[bold]{result.get('total', 0)}[/] articles for [bold cyan]{query}[/]")
    for rank, hit in enumerate(hits, 1):
        published = (hit.get("published") or "")[:10]
        console.print(
            f"[bold]{rank:>2}.[/] [bold]{hit.get('title')}[/]  "
            f"[dim]{hit.get('language')} · {hit.get('source')} · {published} · score {hit.get('score') or 0:.2f}[/]"
        )
        console.print(f"    [blue]{hit.get('canonical_url') or hit.get('url')}[/]")
        if hit.get("topics"):
            console.print(f"    topics: {', '.join(hit['topics'])}")
        for snippet in (hit.get("highlights") or [])[:2]:
            text = snippet.replace("<em>", "[bold yellow]").replace("</em>", "[/]")
            console.print(f"    … {text} …")
    facets = result.get("facets")
    if facets:
        for name, buckets in facets.items():
            pairs = ", ".join(f"{b.get('key')}={b.get('count')}" for b in buckets[:10])
            console.print(f"[dim]{name}:[/] {pairs}")


def print_alerts(alerts: dict[str, Any]) -> None:
    """One line per watch: what matched and what was alerted (once per story)."""
    watches = alerts.get("watches") or {}
    if not watches:
        console.print("[bold]alerts[/]: no watches configured")
        return
    for wid, c in sorted(watches.items()):
        line = (f"[bold]alert[/] {wid}: matched={c.get('matched', 0)} new stories={c.get('new_stories', 0)} "
                f"alerted={c.get('alerted', 0)}")
        if c.get("delivery_failed") or c.get("queued"):
            line += f" [red]failed={c.get('delivery_failed', 0)} queued={c.get('queued', 0)}[/]"
        if c.get("error"):
            line += f" [red]error: {c['error']}[/]"
        console.print(line)


def _minutes(seconds: Any) -> str:
    return "-" if seconds is None else f"{float(seconds) / 60:.1f}"


def print_health(report: dict[str, Any]) -> None:
    """`warwatch health`: one row per source (its last run), then the problems the rules found."""
    table = Table(title=f"Pipeline health at {str(report.get('checked_at', ''))[:19]}")
    table.add_column("source", style="bold", overflow="fold")
    table.add_column("last run (UTC)")
    for header in ("found", "fetched", "new", "errors", "lag med", "lag max"):
        table.add_column(header, justify="right")
    table.add_column("status")
    for s in report.get("sources") or []:
        ratio = s.get("error_ratio")
        status = s.get("status") or "-"
        style = "green" if status == "ok" else "yellow" if status == "no runs" else "red"
        table.add_row(
            s["source"], (s.get("finished_at") or "-")[:16].replace("T", " "),
            _fmt(s.get("found")), _fmt(s.get("fetched")), _fmt(s.get("new")),
            "-" if ratio is None else f"{ratio:.0%}",
            _minutes(s.get("freshness_lag_median_seconds")), _minutes(s.get("freshness_lag_max_seconds")),
            f"[{style}]{status}[/]",
        )
    console.print(table)
    console.print("[dim]lag: minutes from publication to fetch (median and max of the newest run with new "
                  "articles); run ids: --json[/]")
    for finding in report.get("findings") or []:
        console.print(f"  [red]•[/] {finding['message']}")
    alerts = report.get("alerts")
    if alerts:
        console.print(f"[bold]health alerts[/]: opened {alerts['opened'] or 'none'}, closed {alerts['closed'] or 'none'}, "
                      f"{alerts['delivered']} delivered, {len(alerts['failures'])} failed")
