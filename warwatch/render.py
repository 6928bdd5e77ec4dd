"""Run reports and search results as a person reads them (rich tables).

Everything shown here may come from a crawled page (titles, highlights, error messages that
quote a URL): it is text, never rich markup. Values go into tables as :class:`~rich.text.Text`
or through :func:`rich.markup.escape`; only this module's own style tags are markup."""

from __future__ import annotations

import html
import re
from typing import Any

from rich import box
from rich.markup import escape
from rich.table import Table
from rich.text import Text

from warwatch.console import console

#: (report key, column header) — short headers so the table fits an 80-column terminal.
CRAWL_COLUMNS = [
    ("discovered", "found"), ("fetched", "fetched"), ("new", "new"), ("updated", "upd"),
    ("unchanged", "same"), ("robots_denied", "robots"), ("bytes", "KiB"), ("duration", "s"),
]


def print_report(report: dict[str, Any]) -> None:
    crawl = report.get("crawl") or {}
    sources = crawl.get("sources") or {}
    table = Table(title=Text(f"Run {report.get('run_id')}: crawl per source", style="italic"))
    table.add_column("source", style="bold", overflow="fold")
    for _, header in CRAWL_COLUMNS:
        table.add_column(header, justify="right")
    table.add_column("failed / flags", overflow="fold")
    for sid, counts in sorted(sources.items()):
        failed = counts.get("failed") or {}
        notes = [escape(f"{k}={v}") for k, v in sorted(failed.items())] if isinstance(failed, dict) \
            else [escape(str(failed))]
        render = counts.get("render") or {}
        notes += [escape(f"render:{k}={v}") for k, v in sorted(render.items())] if isinstance(render, dict) else []
        notes += [f"[red]{escape(str(flag))}[/]" for flag in counts.get("flags") or []]
        row: list[str | Text] = [Text(str(sid))]
        for key, _ in CRAWL_COLUMNS:
            value = counts.get(key)
            if key == "bytes" and isinstance(value, int | float):
                value = round(value / 1024)
            row.append(Text(_fmt(value)))
        row.append(", ".join(notes) or "-")
        table.add_row(*row)
    console.print(table)

    for stage in ("clean", "index"):
        counts = report.get(stage) or {}
        if not counts:
            continue
        items = ", ".join(f"{k}={v}" for k, v in sorted(counts.items()) if k not in ("stage",))
        console.print(f"[bold]{stage}[/]: {escape(items)}")
    if report.get("alerts"):
        print_alerts(report["alerts"])
    problems = report.get("problems") or []
    if problems:
        console.print("[bold red]Problems:[/]")
        for p in problems:
            console.print(f"  [red]•[/] {escape(str(p))}")
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
    console.print(f"[bold]{result.get('total', 0)}[/] articles for [bold cyan]{escape(query)}[/]")
    if result.get("match") == "weak":
        console.print("[yellow]No good match: nothing answers this query with confidence. "
                      "The nearest articles:[/]" if hits else "[yellow]No good match.[/]")
    for rank, hit in enumerate(hits, 1):
        published = (hit.get("published") or "")[:10]
        meta = f"{hit.get('language')} · {hit.get('source')} · {published} · score {hit.get('score') or 0:.2f}"
        console.print(Text.assemble((f"{rank:>2}. ", "bold"), (str(hit.get("title")), "bold"), "  ", (meta, "dim")))
        console.print(Text(f"    {hit.get('canonical_url') or hit.get('url')}", style="blue"))
        if hit.get("topics"):
            console.print(Text(f"    topics: {', '.join(hit['topics'])}"))
        for snippet in (hit.get("highlights") or [])[:2]:
            console.print(Text("    … ").append_text(highlight_text(snippet)).append(" …"))
    facets = result.get("facets")
    if facets:
        for name, buckets in facets.items():
            pairs = ", ".join(f"{b.get('key')}={b.get('count')}" for b in buckets[:10])
            console.print(f"[dim]{escape(str(name))}:[/] {escape(pairs)}")


_EM = re.compile(r"(</?em>)")


def highlight_text(snippet: str) -> Text:
    """A highlight fragment (the engine's ``encoder: html``: page text HTML-escaped, the matches
    in ``<em>``) as rich Text: the page's text literal, the matches bold."""
    out = Text()
    bold = False
    for part in _EM.split(snippet):
        if part in ("<em>", "</em>"):
            bold = part == "<em>"
        elif part:
            out.append(html.unescape(part), style="bold yellow" if bold else "")
    return out


def print_alerts(alerts: dict[str, Any]) -> None:
    """One line per watch: what matched and what was alerted (once per story)."""
    watches = alerts.get("watches") or {}
    if not watches:
        console.print("[bold]alerts[/]: no watches configured")
        return
    for wid, c in sorted(watches.items()):
        line = (f"[bold]alert[/] {escape(str(wid))}: matched={c.get('matched', 0)} new stories={c.get('new_stories', 0)} "
                f"alerted={c.get('alerted', 0)}")
        if c.get("delivery_failed") or c.get("queued"):
            line += f" [red]failed={c.get('delivery_failed', 0)} queued={c.get('queued', 0)}[/]"
        if c.get("error"):
            line += f" [red]error: {escape(str(c['error']))}[/]"
        console.print(line)


def duration(seconds: Any) -> str:
    """Seconds as a person reads them: ``45 s``, ``12 min``, ``10 h``, ``9.8 d`` (one decimal
    below 10 of the unit)."""
    if seconds is None:
        return "-"
    value = float(seconds)
    for unit, size, below in (("s", 1, 60), ("min", 60, 3600), ("h", 3600, 2 * 86400), ("d", 86400, None)):
        if below is None or abs(value) < below:
            n = value / size
            return f"{n:.1f} {unit}" if abs(n) < 10 and unit != "s" else f"{n:.0f} {unit}"
    raise AssertionError("unreachable")


#: (header, width, justify) of the health table's fixed columns; the source id and the status
#: share what is left of the terminal (80 columns: source ids up to 24 characters on one line)
_HEALTH_COLUMNS = [("last run", 11, "left"), ("found", 5, "right"), ("fetch", 5, "right"), ("new", 4, "right"),
                   ("err", 4, "right"), ("lag\nmed", 6, "right"), ("lag\nmax", 6, "right")]
_STATUS_MIN = 7  # the longest rule name ("blocked" may come)


def fold_id(ident: str, width: int) -> str:
    """A source id over ``width`` characters on several lines, broken after its hyphens (never
    inside a word, unless a word alone is wider than the column)."""
    lines: list[str] = []
    line = ""
    for part in re.findall(r"[^-]+-?|-", ident):
        if line and len(line) + len(part) > width:
            lines.append(line)
            line = ""
        while len(part) > width:
            lines.append(part[:width])
            part = part[width:]
        line += part
    return "\n".join([*lines, line] if line else lines)


def _when(finished_at: str | None, now: str) -> str:
    """``MM-DD HH:MM`` in the year of the check, the date alone in another (11 characters)."""
    if not finished_at:
        return "-"
    return finished_at[5:16].replace("T", " ") if finished_at[:4] == now[:4] else finished_at[:10]


def print_health(report: dict[str, Any]) -> None:
    """`warwatch health`: one row per source (its last run), then the problems the rules found.
    Fits the terminal (80 columns and up): figures never wrap, source ids break only after a
    hyphen, a status of several rules wraps between them."""
    sources = report.get("sources") or []
    fixed = sum(w for _, w, _ in _HEALTH_COLUMNS) + len(_HEALTH_COLUMNS) + 1  # a space between columns
    longest = max([len("source")] + [len(str(s["source"])) for s in sources])
    source_width = max(12, min(longest, console.width - fixed - _STATUS_MIN))
    table = Table(title=Text(f"Pipeline health at {str(report.get('checked_at', ''))[:19]}", style="italic"),
                  box=box.SIMPLE_HEAD, show_edge=False, padding=0)
    table.add_column("source", style="bold", no_wrap=True, width=source_width)
    for header, width, justify in _HEALTH_COLUMNS:
        table.add_column(header, justify=justify, no_wrap=True, min_width=width)  # type: ignore[arg-type]
    table.add_column("status", min_width=_STATUS_MIN)  # one rule name per line when narrow
    for s in sources:
        ratio = s.get("error_ratio")
        status = s.get("status") or "-"
        style = "green" if status == "ok" else "yellow" if status == "no runs" else "red"
        table.add_row(
            Text(fold_id(str(s["source"]), source_width)),
            Text(_when(s.get("finished_at"), str(report.get("checked_at") or ""))),
            Text(_fmt(s.get("found"))), Text(_fmt(s.get("fetched"))), Text(_fmt(s.get("new"))),
            Text("-" if ratio is None else f"{ratio:.0%}"),
            Text(duration(s.get("freshness_lag_median_seconds"))), Text(duration(s.get("freshness_lag_max_seconds"))),
            Text(str(status).replace(",", " "), style=style),
        )
    console.print(table)
    console.print("[dim]last run: UTC; err: failed share of fetches; lag: publication to fetch (median and max "
                  "of the newest run with new articles); run ids: --json[/]")
    for s in sources:  # revisits of stored articles (issue #19), where the last run had any
        rev = s.get("revisits") or {}
        if rev.get("revisits_due") or rev.get("revisits_done"):
            console.print(escape(
                f"  revisits {s['source']}: {rev.get('revisits_done', 0)} done of {rev.get('revisits_due', 0)} due, "
                f"{rev.get('revisits_overdue', 0)} overdue, {rev.get('takedowns_confirmed', 0)} takedowns"))
    for finding in report.get("findings") or []:
        console.print(f"  [red]•[/] {escape(str(finding['message']))}")
    alerts = report.get("alerts")
    if alerts:
        console.print(escape(f"health alerts: opened {alerts['opened'] or 'none'}, closed {alerts['closed'] or 'none'}, "
                             f"{alerts['delivered']} delivered, {len(alerts['failures'])} failed"))


# --------------------------------------------------------------------------- edits and takedowns
def print_changes(records: list[dict[str, Any]]) -> None:
    """`warwatch changes`: one row per change record, newest first."""
    from indexing.changes.records import describe

    if not records:
        console.print("no changes recorded")
        return
    table = Table(title=Text(f"{len(records)} change(s), newest first", style="italic"), box=box.SIMPLE_HEAD)
    table.add_column("detected", no_wrap=True)
    table.add_column("source", overflow="fold")
    table.add_column("kinds", overflow="fold")
    table.add_column("what changed", overflow="fold", ratio=3)
    table.add_column("article", overflow="fold", ratio=2)
    for r in records:
        table.add_row(Text(str(r.get("detected_at") or "")[:16].replace("T", " ")), Text(str(r.get("source") or "")),
                      Text(", ".join(r.get("kinds") or [])), Text(describe(r, limit=4)),
                      Text(f"{r.get('title') or ''}\n{r.get('url') or r.get('canonical_url') or ''}"))
    console.print(table)


def word_diff(before: str, after: str) -> list[tuple[str, str]]:
    """``(op, words)`` pieces, op one of ``=``, ``-``, ``+``: the word-level difference of two texts
    (paragraph breaks kept as words of their own)."""
    import difflib

    a, b = _words(before), _words(after)
    out: list[tuple[str, str]] = []
    for op, i1, i2, j1, j2 in difflib.SequenceMatcher(None, a, b, autojunk=False).get_opcodes():
        if op == "equal":
            out.append(("=", " ".join(a[i1:i2])))
            continue
        if i2 > i1:
            out.append(("-", " ".join(a[i1:i2])))
        if j2 > j1:
            out.append(("+", " ".join(b[j1:j2])))
    return [(op, text.replace(" ¶ ", "\n\n").replace("¶", "\n\n")) for op, text in out]


def _words(text: str) -> list[str]:
    return " ¶ ".join(" ".join(p.split()) for p in re.split(r"\n\s*\n", text or "") if p.strip()).split(" ")


def _version_text(v: dict[str, Any]) -> str:
    return "\n\n".join(str(v.get(f) or "") for f in ("title", "lead", "body") if v.get(f))


def diff_text(before: str, after: str, *, plain: bool = False) -> Text:
    """The diff as rich Text: removed words struck through in red, added ones green; ``plain``:
    ``[-removed-]`` and ``{+added+}`` (what a file or a pipe gets)."""
    out = Text()
    for op, words in word_diff(before, after):
        if op == "=":
            out.append(words + " ")
        elif plain:
            out.append(f"[-{words}-] " if op == "-" else f"{{+{words}+}} ")
        else:
            out.append(words, style="red strike" if op == "-" else "green")
            out.append(" ")
    return out


def print_history(history: dict[str, Any]) -> None:
    """`warwatch history URL`: each version (oldest first) with what changed since the one before."""
    from indexing.changes.records import describe

    versions = history.get("versions") or []
    console.print(Text(f"{history.get('url')}: {len(versions)} version(s)", style="bold"))
    plain = not console.is_terminal
    for i, v in enumerate(versions):
        label = "current" if v.get("current") else f"version {v.get('version')}"
        when = v.get("fetched_at") or v.get("replaced_at") or ""
        console.print(Text(f"\n— {label}, fetched {when}", style="bold cyan"))
        if v.get("removed"):
            console.print(Text(f"   removed ({v.get('removal')}) at {v.get('removed_at')}", style="bold red"))
        if v.get("restored_at"):
            console.print(Text(f"   back after a takedown at {v.get('restored_at')}", style="bold green"))
        if i == 0:
            console.print(Text(_version_text(v)))
        else:
            console.print(diff_text(_version_text(versions[i - 1]), _version_text(v), plain=plain))
    for r in history.get("changes") or []:
        console.print(Text(f"• {str(r.get('detected_at') or '')[:19]} {', '.join(r.get('kinds') or [])}: {describe(r)}"))
