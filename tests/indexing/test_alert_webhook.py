"""Webhook delivery against hostile receivers, all real servers on 127.0.0.1: redirects are not
followed, private addresses are refused unless the channel opts in, proxy variables are ignored,
a dripping receiver is cut at one deadline, a huge answer is not read, and a delivery whose
outbox lease ran out is not sent twice."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from indexing.alerts import DeliveryError, DeliverySettings, Watch
from indexing.alerts.channels import deliver, delivery_lease_seconds
from indexing.alerts.evaluate import AlertReport, WatchCounts, _deliver_all
from indexing.alerts.state import LEASE_SECONDS, AlertState

ONE_TRY = DeliverySettings(retries=1, backoff_seconds=0, timeout_seconds=5)


def _payload(aid: str = "a1") -> dict[str, Any]:
    return {"alert_id": aid, "watch": {"id": "w", "name": "W", "query": "q"}, "story_id": "s",
            "articles": [{"title": "T", "url": "https://news.example/a", "source": "s"}]}


def _watch(url: str, **options: Any) -> Watch:
    return Watch.model_validate({"id": "w", "query": "q", "channels": {"webhook": {"url": url, **options}}})


class Receiver:
    """A TCP server on 127.0.0.1: reads one HTTP request per connection (headers and
    Content-Length body), records it, then calls ``answer(conn, request)``."""

    def __init__(self, answer: Callable[[socket.socket, bytes], None]) -> None:
        self.answer = answer
        self.requests: list[bytes] = []
        self.threads: list[threading.Thread] = []
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.port = int(self.sock.getsockname()[1])
        self.url = f"http://127.0.0.1:{self.port}/hook"
        self._accepting = threading.Thread(target=self._accept, daemon=True)

    def _accept(self) -> None:
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            t = threading.Thread(target=self._serve, args=(conn,), daemon=True)
            self.threads.append(t)
            t.start()

    def _serve(self, conn: socket.socket) -> None:
        with conn:
            conn.settimeout(10)
            data = b""
            while b"\r\n\r\n" not in data and len(data) < 65536:
                chunk = conn.recv(4096)
                if not chunk:
                    return
                data += chunk
            head, _, body = data.partition(b"\r\n\r\n")
            length = next((int(line.split(b":", 1)[1]) for line in head.split(b"\r\n")
                           if line.lower().startswith(b"content-length:")), 0)
            while len(body) < length:
                chunk = conn.recv(65536)
                if not chunk:
                    break
                body += chunk
            self.requests.append(head + b"\r\n\r\n" + body)
            self.answer(conn, head)

    def join(self) -> None:
        for t in self.threads:
            t.join(timeout=30)

    def __enter__(self) -> Receiver:
        self._accepting.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.sock.close()


def ok(conn: socket.socket, head: bytes) -> None:
    conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok")


@pytest.fixture
def data(tmp_path: Path) -> Path:
    """The file channel's directory (every watch also has the file channel)."""
    return tmp_path / "alerts"


def test_a_redirect_is_a_failed_delivery_and_is_not_followed(data: Path) -> None:
    with Receiver(ok) as metadata:
        def redirect(conn: socket.socket, head: bytes) -> None:
            conn.sendall(b"HTTP/1.1 302 Found\r\nLocation: http://127.0.0.1:%d/latest/meta-data/\r\n"
                         b"Content-Length: 0\r\nConnection: close\r\n\r\n" % metadata.port)

        with Receiver(redirect) as hook:
            with pytest.raises(DeliveryError, match="302") as info:
                deliver("webhook", _payload(), _watch(hook.url, allow_private_network=True),
                        DeliverySettings(retries=3, backoff_seconds=0, timeout_seconds=5), alerts_dir=data)
    assert info.value.permanent and info.value.attempts == 1
    assert len(hook.requests) == 1
    assert metadata.requests == []  # the second address never saw a request


@pytest.mark.parametrize("host", ["127.0.0.1", "localhost", "2130706433", "[::ffff:127.0.0.1]"])
def test_private_receivers_are_refused_unless_the_channel_opts_in(data: Path, host: str) -> None:
    with Receiver(ok) as hook:
        url = hook.url.replace("127.0.0.1", host)
        with pytest.raises(DeliveryError, match="private address") as info:
            deliver("webhook", _payload(), _watch(url), ONE_TRY, alerts_dir=data)
        assert info.value.permanent
        assert hook.requests == []
        if host.startswith("["):
            return  # the server listens on IPv4 only
        assert deliver("webhook", _payload(), _watch(url, allow_private_network=True), ONE_TRY, alerts_dir=data) == 1
        assert len(hook.requests) == 1


def test_the_opt_in_is_part_of_the_channel_model() -> None:
    from indexing.alerts.config import parse_watches

    text = ("watches:\n  - id: w\n    query: q\n    channels:\n      webhook:\n        url: http://10.0.0.5/h\n"
            "        allow_private_network: true\n")
    (watch,) = parse_watches(text, Path("watches.yaml")).watches
    assert watch.channels.webhook is not None and watch.channels.webhook.allow_private_network is True
    assert _watch("http://10.0.0.5/h").channels.webhook.allow_private_network is False  # type: ignore[union-attr]


def test_proxy_variables_are_ignored(data: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    with Receiver(ok) as proxy, Receiver(ok) as hook:
        for name in ("no_proxy", "NO_PROXY"):
            monkeypatch.delenv(name, raising=False)
        for name in ("http_proxy", "HTTP_PROXY", "https_proxy", "HTTPS_PROXY", "all_proxy", "ALL_PROXY"):
            monkeypatch.setenv(name, f"http://127.0.0.1:{proxy.port}")
        assert deliver("webhook", _payload(), _watch(hook.url, allow_private_network=True), ONE_TRY, alerts_dir=data) == 1
    assert proxy.requests == []
    assert len(hook.requests) == 1 and hook.requests[0].startswith(b"POST /hook ")


@pytest.mark.parametrize("answer", [
    b"HTTP/1.1 200 OK\r\nX-Slow: " + b"x" * 280 + b"\r\nContent-Length: 0\r\n\r\n",
    b"HTTP/1.1 503 Busy\r\nContent-Length: 280\r\n\r\n" + b"x" * 280,
], ids=["headers", "error-body"])
def test_a_dripping_receiver_is_cut_at_one_deadline(data: Path, answer: bytes) -> None:
    """Each byte comes well within any per-read timeout; the whole answer would take 6 s."""
    dripped: list[int] = []

    def drip(conn: socket.socket, head: bytes) -> None:
        sent = 0
        try:
            for i in range(len(answer)):
                conn.sendall(answer[i:i + 1])
                sent += 1
                time.sleep(0.02)
        except OSError:
            pass
        dripped.append(sent)

    with Receiver(drip) as hook:
        with pytest.raises(DeliveryError, match="deadline|503"):
            deliver("webhook", _payload(), _watch(hook.url, allow_private_network=True),
                    DeliverySettings(retries=1, backoff_seconds=0, timeout_seconds=0.3), alerts_dir=data)
        hook.join()
    # 0.3 s of a byte per 20 ms is about 15 bytes; the bound counts bytes, not seconds
    (sent,) = dripped
    assert sent < 100 < len(answer)


@pytest.mark.parametrize("status", [200, 503])
def test_a_huge_answer_is_not_read(data: Path, status: int) -> None:
    total = 256 * 1024 * 1024
    written: list[int] = []

    def flood(conn: socket.socket, head: bytes) -> None:
        sent = 0
        chunk = b"x" * 65536
        try:
            conn.sendall(b"HTTP/1.1 %d X\r\nContent-Length: %d\r\n\r\n" % (status, total))
            while sent < total:
                conn.sendall(chunk)
                sent += len(chunk)
        except OSError:
            pass
        written.append(sent)

    with Receiver(flood) as hook:
        watch = _watch(hook.url, allow_private_network=True)
        if status == 200:
            assert deliver("webhook", _payload(), watch, ONE_TRY, alerts_dir=data) == 1
        else:
            with pytest.raises(DeliveryError, match="503") as info:
                deliver("webhook", _payload(), watch, ONE_TRY, alerts_dir=data)
            assert len(str(info.value)) < 400
        hook.join()
    (sent,) = written
    assert sent < 32 * 1024 * 1024  # what the kernel's buffers took before the close, not the body


# --------------------------------------------------------------------------- leases
class Clock:
    def __init__(self) -> None:
        self.now = datetime(2026, 1, 1, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now


def test_renew_refuses_a_delivery_another_evaluation_took(tmp_path: Path) -> None:
    clock = Clock()
    path = tmp_path / "alerts.sqlite"
    with AlertState(path, clock=clock) as one, AlertState(path, clock=clock) as two:
        one.claim("w", "s1", ["d1"], "a1", "r", ["webhook"], _payload("a1"))
        (mine,) = one.take_pending()
        assert one.renew(mine, 60)
        clock.now += timedelta(seconds=61)
        (theirs,) = two.take_pending()  # the lease ran out
        assert not one.renew(mine, 60)
        assert two.renew(theirs, 60)
        two.delivered("a1", "webhook", 1)
        assert not two.renew(theirs, 60)  # delivered: nothing to hold


def test_a_slow_receiver_does_not_get_an_alert_twice(tmp_path: Path) -> None:
    """Three deliveries taken together; each POST takes 350 s of the (injected) clock, so the
    third's original lease runs out while the second is sent, and a second evaluation takes it
    then. The first evaluation must not send what the second took, nor may the second take
    what the first is sending."""
    clock = Clock()
    path = tmp_path / "alerts.sqlite"
    taken_by_other: list[str] = []

    def slow(conn: socket.socket, head: bytes) -> None:
        clock.now += timedelta(seconds=350)
        if len(hook.requests) == 2:
            with AlertState(path, clock=clock) as other:  # the DAG's evaluation, meanwhile
                taken_by_other.extend(p.alert_id for p in other.take_pending())
        ok(conn, head)

    settings = DeliverySettings(retries=1, backoff_seconds=0, timeout_seconds=5)
    assert delivery_lease_seconds(settings) == LEASE_SECONDS  # 600 s: two slow POSTs outlast it
    with Receiver(slow) as hook:
        watch = _watch(hook.url, allow_private_network=True)
        with AlertState(path, clock=clock) as state:
            for aid in ("a1", "a2", "a3"):
                state.claim("w", aid, [aid], aid, "r", ["webhook"], _payload(aid))
            report = AlertReport("r", watches={"w": WatchCounts()})
            _deliver_all(report, state, [watch], settings, every_watch=True, data_dir=tmp_path, sleep=lambda s: None)
    sent = [r.split(b'"alert_id": "', 1)[1][:2].decode() for r in hook.requests]
    assert sent == ["a1", "a2"]
    assert taken_by_other == ["a3"]
    assert not set(sent) & set(taken_by_other)


# --------------------------------------------------------------------------- crawled text in chat
def test_crawled_titles_and_urls_are_not_chat_markup(data: Path) -> None:
    import json

    from indexing.alerts import alert_text

    title = "<!channel> Kursk & <https://evil.example/|Reuters> <@U123>"
    url = "https://news.example/a?x=1&y=<2>|z"
    payload = _payload()
    payload["watch"]["name"] = "NK <!here>"
    payload["articles"] = [{"title": title, "url": url, "source": "s"}, {"title": "copy", "url": url, "source": "t>"}]
    with Receiver(ok) as hook:
        deliver("webhook", payload, _watch(hook.url, allow_private_network=True), ONE_TRY, alerts_dir=data)
    body = json.loads(hook.requests[0].split(b"\r\n\r\n", 1)[1])
    text = body["text"]
    assert "<!channel>" not in text and "<!here>" not in text and "<@U123>" not in text
    assert "&lt;!channel&gt; Kursk &amp; &lt;https://evil.example/|Reuters&gt;" in text
    # the one piece of markup is our link, and its URL cannot end it or give it a label
    assert text.count("<") == 1 and text.count(">") == 1
    assert "<https://news.example/a?x=1&amp;y=&lt;2&gt;%7Cz>" in text
    assert "(2 copies: s, t&gt;)" in text
    assert body["articles"][0]["title"] == title  # the data itself is not changed
    assert title in alert_text(payload)  # e-mail is plain text: nothing to escape
