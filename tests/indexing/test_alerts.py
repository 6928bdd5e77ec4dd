"""Topic watches against the real node: articles go through the real extraction and the real
index stage (enrichment, story assignment, bulk), alerts are delivered to a real HTTP server and a
real SMTP server on 127.0.0.1."""

from __future__ import annotations

import json
import socket
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from email import message_from_bytes, policy
from email.message import EmailMessage
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from indexing.alerts import (
    DeliverySettings,
    Watch,
    configured_watches,
    evaluate,
    load_config,
    load_watches,
    parse_watches,
    run_doc_ids,
)
from indexing.errors import ConfigError
from indexing.extraction import extract
from indexing.settings import Settings
from tests.conftest import REPO_ROOT
from tests.indexing.search_corpus import LOOKALIKES, STORIES
from warwatch import pipeline

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures"
SEED_URL = "https://weltnachrichten-heute.example/2024/10/28/nato-bestaetigt-praesenz-nordkoreanischer-soldaten-in-russland/"
COPY_URL = "https://agentur-dienst.example/meldungen/2024-10-28/nordkorea-soldaten-russland"
LOOKALIKE_URL = "https://en.other.example/long-range-missiles"
PAGES = {"de-zeitung.html": "https://zeitung.example/artikel/1", "en-wire.html": "https://dispatch.example/world/odesa",
         "fr-journal.html": "https://journal.example/monde/1", "uk-novyny.html": "https://novyny.example/news/1"}
NK = "north-korean-troops-in-russia"
FAST = DeliverySettings(retries=3, backoff_seconds=0.01, timeout_seconds=5)


# --------------------------------------------------------------------------- articles and runs
def _seed() -> dict[str, Any]:
    return extract((FIXTURES / "seed-article" / "page.html").read_bytes(), url=SEED_URL).to_dict()


def _syndicated_copy() -> dict[str, Any]:
    """The seed's story as an agency copy elsewhere: own URL, a dateline added, the same text."""
    art = _seed()
    art["canonical_url"] = COPY_URL
    art["title"] = "Nordkoreanische Soldaten in Russland: NATO bestätigt Präsenz"
    art["body"] = "Brüssel (dpa) – " + art["body"]
    return art


def _lookalike() -> dict[str, Any]:
    """Names North Korean troops in Russia in one sentence, about something else."""
    art = next(a for a in LOOKALIKES if "long-range missiles" in a["title"])
    return {**art, "url": LOOKALIKE_URL, "canonical_url": LOOKALIKE_URL, "published": "2024-11-04T08:00:00+00:00"}


def _other_nk_story() -> dict[str, Any]:
    """A different report on the same subject (another story: its own alert)."""
    url = "https://en.news.example/pentagon-north-korean-soldiers"
    return {**STORIES["nk-troops"]["en"], "language": "en", "url": url, "canonical_url": url,
            "published": "2024-11-05T08:00:00+00:00"}


def _index_run(articles: list[tuple[str, str, dict[str, Any]]]) -> str:
    """A run through the real index stage: cleaned.jsonl -> pipeline.index (which writes the run's
    indexed-ids.txt). ``articles``: (url fetched, source, article dict)."""
    rid = pipeline.new_run_id()
    rdir = pipeline.run_dir(rid)
    now = datetime.now(UTC).isoformat()
    with (rdir / "cleaned.jsonl").open("w", encoding="utf-8") as fh:
        for url, source, art in articles:
            crawl = {"url": url, "final_url": url, "source": source, "fetched_at": now, "status": 200}
            fh.write(json.dumps({"article": art, "crawl": crawl}, ensure_ascii=False) + "\n")
    counts = pipeline.index(rid)
    assert counts.counts.get("failed", 0) == 0, counts.counts
    return rid


def _first_run() -> str:
    pages = [(url, name.split(".")[0], extract((FIXTURES / "pages" / name).read_bytes(), url=url).to_dict())
             for name, url in PAGES.items()]
    return _index_run([(SEED_URL, "weltnachrichten-heute", _seed()), *pages,
                       (LOOKALIKE_URL, "lookalikes", _lookalike())])


def _watch(**channels: Any) -> Watch:
    return Watch.model_validate({"id": NK, "name": "North Korean troops in Russia",
                                 "query": "North Korean troops in Russia", "channels": channels})


def _alert_lines(data_dir: Path, watch_id: str = NK) -> list[dict[str, Any]]:
    path = data_dir / "alerts" / f"{watch_id}.jsonl"
    return [json.loads(x) for x in path.read_text(encoding="utf-8").splitlines()] if path.exists() else []


# --------------------------------------------------------------------------- local receivers
class _Webhook:
    """A threaded HTTP server on 127.0.0.1 answering POSTs with the statuses queued in ``plan``
    (then ``default``); keeps the JSON bodies it received."""

    def __init__(self, plan: list[int] | None = None, default: int = 200) -> None:
        self.plan = list(plan or [])
        self.default = default
        self.requests: list[dict[str, Any]] = []
        self.statuses: list[int] = []
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 - http.server's naming
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                status = outer.plan.pop(0) if outer.plan else outer.default
                outer.statuses.append(status)
                if status < 300:
                    outer.requests.append(json.loads(body))
                self.send_response(status)
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"ok")

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self) -> _Webhook:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def smtp_server() -> Iterator[tuple[int, list[tuple[list[str], EmailMessage]]]]:
    from aiosmtpd.controller import Controller

    received: list[tuple[list[str], EmailMessage]] = []

    class Handler:
        async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802 - aiosmtpd's hook name
            msg = message_from_bytes(envelope.original_content, policy=policy.default)
            assert isinstance(msg, EmailMessage)
            received.append((list(envelope.rcpt_tos), msg))
            return "250 Message accepted for delivery"

    port = _free_port()
    controller = Controller(Handler(), hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield port, received
    finally:
        controller.stop()


@pytest.fixture
def node(es_settings: Settings) -> Settings:
    """A fresh index prefix and data directory (stories, alert state) for one test: its settings."""
    return es_settings


# --------------------------------------------------------------------------- config
def _parse(text: str) -> list[Watch]:
    return parse_watches(text, Path("watches.yaml")).watches


def test_shipped_watches_load_with_the_file_channel_only() -> None:
    watches = {w.id: w for w in load_watches(REPO_ROOT / "config" / "watches.yaml")}
    assert set(watches) >= {NK, "kursk-offensive"}
    for watch in watches.values():
        assert watch.channels.names() == ["file"]
        assert watch.query


@pytest.mark.parametrize(("text", "expected"), [
    ("watches:\n  - id: nk\n    query: x\n    colour: red\n",
     "watches.yaml:4: watch 'nk': key 'colour': unknown key"),
    ("watches:\n  - id: nk\n    query: x\n    channels:\n      webhook:\n        url: http://127.0.0.1/\n"
     "        token: y\n", "watches.yaml:7: watch 'nk': key 'channels.webhook.token': unknown key"),
    ("watches:\n  - id: nk\n    query: x\n    filters:\n      topic: [x]\n",
     "watches.yaml:5: watch 'nk': key 'filters.topic': unknown key"),
    ("watches:\n  - id: nk\n    query: x\n    channels: {slack: {}}\n",
     "watches.yaml:4: watch 'nk': key 'channels.slack': unknown key"),
    ("watches:\n  - query: x\n    id: Bad_Id\n", "watches.yaml:3: watch 'Bad_Id': key 'id': must match"),
    ("watches:\n  - id: nk\n    query: x\n  - id: nk\n    query: y\n",
     "watches.yaml:4: watch 'nk': key 'id': duplicate id (first used on line 2)"),
    ("watches:\n  - id: nk\n    query: x\n    filters: {topics: [no-such-topic]}\n",
     "watches.yaml:4: watch 'nk': key 'filters.topics': unknown topic 'no-such-topic'"),
    ("watches:\n  - id: nk\n    query: x\n    channels: {email: {to: nobody}}\n",
     "watches.yaml:4: watch 'nk': key 'channels.email.to': not an e-mail address"),
    ("watches:\n  - id: nk\n", "watches.yaml:2: watch 'nk': key 'query': required key is missing"),
    ("delivery:\n  smtp_password: hunter2\nwatches: []\n",
     "watches.yaml:2: delivery: key 'smtp_password' must come from the environment"),
    ("delivery:\n  retry: 2\n", "watches.yaml:2: delivery (or WARWATCH_ALERTS_* environment): key 'retry': unknown key"),
    ("watch: []\n", "watches.yaml:1: top level: unknown key 'watch'"),
])
def test_config_errors_name_file_line_watch_and_key(text: str, expected: str) -> None:
    with pytest.raises(ConfigError) as info:
        _parse(text)
    assert expected in str(info.value)


def test_delivery_settings_environment_wins(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "watches.yaml"
    path.write_text("delivery:\n  smtp_host: mail.internal\n  smtp_port: 2525\nwatches:\n"
                    "  - id: nk\n    query: nordkoreanische Truppen\n    channels:\n"
                    "      email: {to: desk@example.org}\n", encoding="utf-8")
    monkeypatch.setenv("WARWATCH_ALERTS_SMTP_PORT", "587")
    monkeypatch.setenv("WARWATCH_ALERTS_SMTP_PASSWORD", "from-env")
    config = load_config(path)
    assert config.delivery.smtp_host == "mail.internal" and config.delivery.smtp_port == 587
    assert config.delivery.smtp_password is not None
    assert config.delivery.smtp_password.get_secret_value() == "from-env"
    assert config.watches[0].channels.names() == ["file", "email"]


def test_missing_default_file_means_no_watches(tmp_path: Path) -> None:
    assert configured_watches(Settings(config_dir=tmp_path)).watches == []
    assert load_watches(tmp_path / "watches.yaml", optional=True) == []
    with pytest.raises(ConfigError, match="not found"):
        load_watches(tmp_path / "nope.yaml")


# --------------------------------------------------------------------------- against the node
def test_once_per_story_not_per_copy(node: Settings) -> None:
    data_dir = node.data_dir
    # The shipped watches, and an explicit query (no expansion: the typed words decide).
    watches = [*load_watches(REPO_ROOT / "config" / "watches.yaml"), Watch(id="nato-title", query="title:NATO")]
    rid = _first_run()

    # The run's ids: from the index stage's file, or computed from cleaned.jsonl the same way.
    ids_file = data_dir / "runs" / rid / "indexed-ids.txt"
    from_file = run_doc_ids(rid, data_dir)
    assert from_file is not None and len(from_file) == 2 + len(PAGES)
    ids_file.rename(ids_file.with_suffix(".bak"))
    assert run_doc_ids(rid, data_dir) == from_file
    ids_file.with_suffix(".bak").rename(ids_file)

    report = evaluate(rid, settings=node, watches=watches)
    nk = report.watches[NK]
    assert report.ok, report.as_dict()
    assert report.documents == report.documents_in_index == len(from_file)
    assert (nk.matched, nk.new_stories, nk.alerted, nk.delivery_failed, nk.queued) == (1, 1, 1, 0, 0)
    assert nk.found >= 2  # the search finds the look-alike too; it is not about the watch's topic
    lines = _alert_lines(data_dir)
    assert len(lines) == 1
    alert = lines[0]
    assert [a["canonical_url"] for a in alert["articles"]] == [SEED_URL]
    assert alert["watch"]["id"] == NK and alert["run_id"] == rid and alert["story_id"]
    assert alert["articles"][0]["language"] == "de"  # an English watch, a German article
    # The look-alike carries the topic (a sentence in passing) and the typed words: no alert.
    assert all(LOOKALIKE_URL not in json.dumps(x) for x in lines)
    nato = report.watches["nato-title"]
    assert (nato.found, nato.matched, nato.new_stories) == (1, 1, 1)
    assert _alert_lines(data_dir, "nato-title")[0]["articles"][0]["canonical_url"] == SEED_URL
    assert json.loads((data_dir / "runs" / rid / "alerts-report.json").read_text())["totals"]["new_stories"] == 2

    # Re-evaluating the same run alerts nothing new.
    again = evaluate(rid, settings=node, watches=watches)
    assert (again.watches[NK].matched, again.watches[NK].new_stories, again.watches[NK].alerted) == (1, 0, 0)

    # A syndicated copy (same story, another outlet) and an update of the seed: no new alert.
    updated = _seed()
    updated["body"] += "\n\nAktualisiert: Das Verteidigungsministerium in Seoul bestätigte die Angaben."
    rid2 = _index_run([(COPY_URL, "agentur-dienst", _syndicated_copy()),
                       (SEED_URL, "weltnachrichten-heute", updated)])
    second = evaluate(rid2, settings=node, watches=watches)
    assert second.watches[NK].matched == 2
    assert (second.watches[NK].new_stories, second.watches[NK].alerted) == (0, 0)
    assert len(_alert_lines(data_dir)) == 1
    assert (second.watches["nato-title"].matched, second.watches["nato-title"].new_stories) == (2, 0)

    # Another story on the subject is a new alert.
    rid3 = _index_run([(_other_nk_story()["url"], "corpus-en", _other_nk_story())])
    third = evaluate(rid3, settings=node, watches=watches)
    assert (third.watches[NK].new_stories, third.watches[NK].alerted) == (1, 1)
    assert [x["articles"][0]["url"] for x in _alert_lines(data_dir)][1] == _other_nk_story()["url"]


def test_webhook_retries_after_a_server_error(node: Settings) -> None:
    rid = _first_run()
    with _Webhook(plan=[500]) as hook:
        report = evaluate(rid, settings=node, watches=[_watch(webhook={"url": hook.url, "allow_private_network": True})], delivery=FAST)
    counts = report.watches[NK]
    assert (counts.new_stories, counts.alerted, counts.delivery_failed, counts.queued) == (1, 1, 0, 0)
    assert hook.statuses == [500, 200]
    (body,) = hook.requests
    assert body["watch"]["id"] == NK and body["articles"][0]["canonical_url"] == SEED_URL
    assert "North Korean troops in Russia" in body["text"] and SEED_URL in body["text"]
    assert body["articles"][0]["title"] in body["text"]
    assert len(_alert_lines(node.data_dir)) == 1  # the file channel too


def test_email_to_a_local_smtp_server(node: Settings, smtp_server: tuple[int, list[tuple[list[str], EmailMessage]]]) -> None:
    port, received = smtp_server
    rid = _first_run()
    delivery = DeliverySettings(smtp_host="127.0.0.1", smtp_port=port, smtp_sender="alerts@warwatch.test",
                                retries=2, backoff_seconds=0.01, timeout_seconds=5)
    report = evaluate(rid, settings=node, watches=[_watch(email={"to": ["desk@example.org", "osint@example.org"]})],
                      delivery=delivery)
    assert report.ok, report.as_dict()
    assert report.watches[NK].alerted == 1
    (rcpts, msg), = received
    assert rcpts == ["desk@example.org", "osint@example.org"]
    assert msg["From"] == "alerts@warwatch.test"
    assert msg["Subject"].startswith("[warwatch] North Korean troops in Russia: ")
    title = _alert_lines(node.data_dir)[0]["articles"][0]["title"]
    assert title in msg["Subject"]
    text = msg.get_content()
    assert SEED_URL in text and "query: North Korean troops in Russia" in text
    assert msg["X-Warwatch-Alert"] == _alert_lines(node.data_dir)[0]["alert_id"]


def test_failed_delivery_stays_queued_until_delivered(node: Settings) -> None:
    # Two stories: the second one must not cost another round of retries against a dead receiver.
    rid = _index_run([(SEED_URL, "weltnachrichten-heute", _seed()),
                      (_other_nk_story()["url"], "corpus-en", _other_nk_story())])
    sleeps: list[float] = []
    with _Webhook(default=503) as hook:
        watches = [_watch(webhook={"url": hook.url, "allow_private_network": True})]
        failed = evaluate(rid, settings=node, watches=watches, delivery=FAST, sleep=sleeps.append)
        counts = failed.watches[NK]
        assert not failed.ok
        assert (counts.new_stories, counts.alerted, counts.delivery_failed, counts.queued) == (2, 0, 2, 2)
        assert hook.statuses == [503, 503, 503]  # three attempts for the first, none for the second
        assert sleeps == [0.01, 0.02]
        assert [f["attempts"] for f in failed.failures] == [3, 0]
        assert "HTTP 503" in failed.failures[0]["error"]
        assert len(_alert_lines(node.data_dir)) == 2  # the file channel is independent of the webhook

        # The receiver is back: the next evaluation (of another run, nothing new in it) delivers both.
        hook.default = 200
        later = evaluate(None, settings=node, watches=watches, delivery=FAST)
        assert later.ok, later.as_dict()
        assert (later.watches[NK].alerted, later.watches[NK].queued, later.watches[NK].new_stories) == (2, 0, 0)
        assert sorted(r["articles"][0]["canonical_url"] for r in hook.requests) == sorted(
            [SEED_URL, _other_nk_story()["url"]])

        # Delivered is delivered: nothing is sent twice.
        evaluate(rid, settings=node, watches=watches, delivery=FAST)
        assert len(hook.requests) == 2
    assert len(_alert_lines(node.data_dir)) == 2


def test_unreachable_engine_is_reported_not_raised(node: Settings) -> None:
    rid = _first_run()
    report = evaluate(rid, settings=node.model_copy(update={"es_url": "http://127.0.0.1:9"}), watches=[_watch()], delivery=FAST)
    assert not report.ok and "unavailable" in report.problems[0]
    assert report.watches[NK].error and report.watches[NK].new_stories == 0


# --------------------------------------------------------------------------- the relevance test
def _hit_of(art: dict[str, Any], strength: float, score: float = 50.0, matched: list[str] | None = None) -> dict[str, Any]:
    return {"_id": "x", "_score": score, "matched_queries": matched or [],
            "_source": {**art, "topics": [NK], "topic_scores": {NK: strength}}}


def test_about_the_query_strong_or_up_front_not_in_passing() -> None:
    from indexing.alerts.matching import TOPIC_STRENGTH, is_about
    from indexing.search import expand

    watch = _watch()
    expansion = expand(watch.query)
    assert NK in expansion.topics
    lookalike = _lookalike()
    assert not is_about(watch, _hit_of(lookalike, 1.0), expansion)  # in passing, in its second paragraph
    assert is_about(watch, _hit_of(lookalike, TOPIC_STRENGTH), expansion)
    # The same sentence in the first paragraph: that is what the article leads with.
    paragraphs = lookalike["body"].split("\n\n")
    lead_with_it = {**lookalike, "body": "\n\n".join([paragraphs[1], paragraphs[0], *paragraphs[2:]])}
    assert is_about(watch, _hit_of(lead_with_it, 1.0), expansion)
    # ... or in the lead (standfirst).
    assert is_about(watch, _hit_of({**lookalike, "lead": "Pyongyang has deployed troops to Russia."}, 1.0), expansion)
    # Not tagged with the topic at all: the words alone do not make it coverage.
    untagged = _hit_of(lead_with_it, 0.0)
    untagged["_source"]["topics"] = []
    assert not is_about(watch, untagged, expansion)
    # min_score replaces the test.
    strict = watch.model_copy(update={"min_score": 60.0})
    assert not is_about(strict, _hit_of(lookalike, 9.0, score=55.0), expansion)
    assert is_about(strict, _hit_of(lookalike, 0.0, score=61.0), expansion)


def test_about_explicit_queries_needs_the_typed_words() -> None:
    from indexing.alerts.matching import _TYPED_NAME, is_about
    from indexing.search import expand

    watch = Watch(id="odessa", query="title:Odessa")
    expansion = expand(watch.query)
    assert not expansion.topics and not expansion.entities
    art = {"title": "Odessa", "body": "..."}
    assert is_about(watch, _hit_of(art, 0.0, matched=[_TYPED_NAME]), expansion)
    assert not is_about(watch, _hit_of(art, 0.0), expansion)


def test_state_claims_once_and_leases_deliveries(tmp_path: Path) -> None:
    from indexing.alerts import AlertState
    from indexing.alerts.state import LEASE_SECONDS

    path = tmp_path / "alerts.sqlite"
    now = [datetime(2024, 10, 28, 12, tzinfo=UTC)]

    def clock() -> datetime:
        return now[0]

    with AlertState(path, clock=clock) as one, AlertState(path, clock=clock) as two:
        payload = {"alert_id": "a1", "articles": []}
        assert one.claim(NK, "story-1", ["d1", "d2"], "a1", "run-1", ["file", "webhook"], payload)
        assert not two.claim(NK, "story-1", ["d3"], "a2", "run-2", ["file"], payload)  # same story
        assert not two.claim(NK, "story-9", ["d2"], "a3", "run-3", ["file"], payload)  # a document moved story
        taken = one.take_pending()
        assert [(p.alert_id, p.channel) for p in taken] == [("a1", "file"), ("a1", "webhook")]
        assert two.take_pending() == []  # leased to the other evaluation
        one.delivered("a1", "file", 1)
        one.failed("a1", "webhook", 3, "HTTP 503")
        assert [(p.channel, p.attempts) for p in two.take_pending()] == [("webhook", 3)]  # failed: back
    with AlertState(path, clock=clock) as again:  # the taker died; its lease runs out, not before
        now[0] += timedelta(seconds=LEASE_SECONDS - 1)
        assert again.take_pending() == []
        now[0] += timedelta(seconds=1.001)
        assert [p.channel for p in again.take_pending()] == ["webhook"]
        assert again.queued_count(NK) == 1 and not again.fully_delivered("a1")
