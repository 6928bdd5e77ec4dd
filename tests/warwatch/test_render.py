"""Terminal output: crawled text (titles, highlights, error messages) is printed as text, never
as rich markup; `warwatch health` fits an 80-column terminal."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from rich.console import Console

from warwatch import console as out
from warwatch import render

#: what pages really carry: a WordPress shortcode leftover, rich-looking tags, an emoji code
MARKUP_TITLE = "Kursk [/caption] [bold]raid[/bold] :fire: [link=https://evil.example]Reuters[/link]"


@pytest.fixture
def screen(monkeypatch: pytest.MonkeyPatch) -> Console:
    """The consoles of warwatch.console and warwatch.render, recording at 80 columns."""
    recorder = Console(width=80, record=True, highlight=False, emoji=False, color_system=None)
    monkeypatch.setattr(out, "console", recorder)
    monkeypatch.setattr(out, "err_console", recorder)
    monkeypatch.setattr(render, "console", recorder)
    return recorder


def test_search_hits_print_crawled_markup_literally(screen: Console) -> None:
    result = {"total": 1, "hits": [{
        "title": MARKUP_TITLE, "language": "en", "source": "s[/]", "published": "2026-01-02T00:00:00Z",
        "score": 1.5, "url": "https://news.example/a?q=[x]", "topics": ["[red]t"],
        # the engine's encoder "html": page text escaped, only <em> is markup
        "highlights": ["&lt;script&gt; [/caption] near <em>Kursk</em> &amp; [bold]Belgorod[/bold]"],
    }]}
    render.print_hits("Kursk [/i]", result)
    text = " ".join(screen.export_text().split())  # lines wrapped at 80 columns joined
    assert MARKUP_TITLE in text
    assert "for Kursk [/i]" in text and "s[/]" in text and "?q=[x]" in text and "[red]t" in text
    assert "… <script> [/caption] near Kursk & [bold]Belgorod[/bold] …" in text


def test_highlight_matches_are_styled_and_the_rest_is_text() -> None:
    rendered = render.highlight_text("a &lt;em&gt; <em>Kursk</em> [b]")
    assert rendered.plain == "a <em> Kursk [b]"
    bold = [rendered.plain[s.start:s.end] for s in rendered.spans if "bold" in str(s.style)]
    assert bold == ["Kursk"]


def test_errors_and_messages_print_regexes_literally(screen: Console) -> None:
    out.error("key 'id': must match [a-z0-9-]+, got 'Bad_Id' [/caption]")
    out.info("title: [bold]x[/bold]")
    out.stage("crawling [/]")
    out.kv_table("Watches [x]", [("w[/]", "query [/caption] → file")])
    text = screen.export_text()
    assert "error: key 'id': must match [a-z0-9-]+, got 'Bad_Id' [/caption]" in text
    assert "title: [bold]x[/bold]" in text and "crawling [/]" in text
    assert "Watches [x]" in text and "w[/]" in text and "query [/caption] → file" in text


def test_report_and_alert_lines_print_problems_literally(screen: Console) -> None:
    render.print_report({"run_id": "r1", "crawl": {"sources": {"s": {"failed": {"[/x]": 1}, "flags": ["[/y]"]}}},
                         "problems": ["https://a.example/[/caption] refused"],
                         "alerts": {"watches": {"w": {"matched": 1, "error": "bad [/query]"}}}})
    text = screen.export_text()
    assert "[/x]=1" in text and "[/y]" in text and "https://a.example/[/caption] refused" in text
    assert "error: bad [/query]" in text


def test_cli_extract_prints_a_title_with_markup(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from warwatch.cli import main

    page = tmp_path / "p.html"
    body = "".join(f"<p>Paragraph {i} of the report [/caption] about the front, long enough to keep.</p>"
                   for i in range(8))
    page.write_text(f"<html><head><title>{MARKUP_TITLE}</title></head><body><article><h1>{MARKUP_TITLE}</h1>"
                    f"{body}</article></body></html>", encoding="utf-8")
    code = main(["extract", str(page), "--url", "https://news.example/a"])
    captured = capsys.readouterr()
    assert "MarkupError" not in captured.err
    assert code == 0, captured.err
    assert "[/caption]" in captured.out and "[bold]raid[/bold]" in captured.out


# --------------------------------------------------------------------------- health
def _health_report() -> dict[str, object]:
    return {"checked_at": "2026-03-01T12:00:00+00:00", "findings": [{"message": "x [/caption] stale"}], "alerts": None,
            "sources": [
                {"source": "ukrainska-pravda-english", "finished_at": "2026-03-01T11:55:00+00:00", "found": 1234,
                 "fetched": 1200, "new": 55, "error_ratio": 1.0, "freshness_lag_median_seconds": 37078,
                 "freshness_lag_max_seconds": 846720, "status": "errors,silent"},
                {"source": "kyiv-independent", "finished_at": "2025-12-31T23:10:00+00:00", "found": 12,
                 "fetched": 12, "new": 5, "error_ratio": 0.0, "freshness_lag_median_seconds": 2220,
                 "freshness_lag_max_seconds": 45, "status": "ok"},
                {"source": "an-unusually-long-source-identifier-of-an-outlet", "status": "no runs"},
            ]}


def test_health_fits_80_columns_without_breaking_words(screen: Console) -> None:
    render.print_health(_health_report())
    text = screen.export_text()
    lines = text.splitlines()
    assert all(len(line) <= 80 for line in lines), max(lines, key=len)
    assert "ukrainska-pravda-english" in text and "kyiv-independent" in text
    # the long id is broken after hyphens only: each of its words is whole on a line
    column = [line.split(" ", 1)[0] for line in lines if re.match(r"(an-|[a-z-]*identifier|of-an|outlet)", line)]
    assert "".join(column) == "an-unusually-long-source-identifier-of-an-outlet"
    assert all(w in re.split(r"[-\s]+", text) for w in ("unusually", "identifier", "outlet"))
    # lags in units a person reads, never raw seconds
    assert "10 h" in text and "9.8 d" in text and "37 min" in text and "45 s" in text
    assert "37078" not in text and "846720" not in text
    assert "x [/caption] stale" in text


@pytest.mark.parametrize(("seconds", "shown"), [
    (None, "-"), (45, "45 s"), (59.4, "59 s"), (60, "1.0 min"), (2220, "37 min"), (37078, "10 h"),
    (3 * 3600, "3.0 h"), (846720, "9.8 d"), (40 * 86400, "40 d"),
])
def test_durations_in_human_units(seconds: float | None, shown: str) -> None:
    assert render.duration(seconds) == shown


def test_health_shows_revisit_figures_where_a_source_had_revisits(screen: Console) -> None:
    report = _health_report()
    sources = report["sources"]
    assert isinstance(sources, list)
    sources[1]["revisits"] = {"revisits_due": 9, "revisits_done": 6, "revisits_overdue": 3, "takedowns_confirmed": 1}
    render.print_health(report)
    text = screen.export_text()
    assert "revisits kyiv-independent: 6 done of 9 due, 3 overdue, 1 takedowns" in text
    assert "revisits ukrainska" not in text  # no revisits: no line
    assert all(len(line) <= 80 for line in text.splitlines())
