"""Delivering one alert to one channel: a JSONL file, a webhook (JSON POST with a Slack-style
``text``), e-mail over SMTP. Each raises :class:`DeliveryError`; :func:`deliver` retries with
backoff and reports how many attempts it took."""

from __future__ import annotations

import json
import logging
import os
import smtplib
import sqlite3
import ssl
import time
from collections.abc import Callable
from email.message import EmailMessage
from pathlib import Path
from typing import Any

from indexing.alerts import webhook
from indexing.alerts.config import DeliverySettings, Watch
from indexing.alerts.filelog import open_index
from indexing.alerts.state import LEASE_SECONDS
from indexing.fileio import append_line_durable
from indexing.retry import retry_call, total_backoff
from indexing.settings import get_settings

log = logging.getLogger(__name__)

USER_AGENT = "warwatch-alerts/0.1"
#: added to a delivery's worst case when its lease is renewed (SQLite writes, a busy machine)
LEASE_MARGIN_SECONDS = 60.0


class DeliveryError(RuntimeError):
    """A channel refused or could not take an alert. ``permanent``: retrying now will not help
    (a 4xx answer, a channel not configured); it is still retried by the next evaluation."""

    def __init__(self, message: str, *, permanent: bool = False) -> None:
        super().__init__(message)
        self.permanent = permanent
        #: attempts made before giving up (set by :func:`deliver`)
        self.attempts = 0


def alerts_dir() -> Path:
    return get_settings().data_dir / "alerts"


def alert_text(payload: dict[str, Any], *, chat: bool = False) -> str:
    """One line for chat, the first line of an e-mail: watch, title, link, how many copies
    (or the payload's own ``text``: a pipeline health alert, indexing/health).

    ``chat``: the line for a Slack-style ``text``, where ``<...>`` is markup (``<!channel>``
    pings everyone, ``<https://evil|Reuters>`` is a link labelled as something else): crawled
    titles and URLs get ``&``, ``<`` and ``>`` escaped, and only the one link is markup."""
    esc = slack_escape if chat else str
    if payload.get("text"):
        return esc(str(payload["text"]))
    articles = payload.get("articles") or []
    lead = articles[0] if articles else {}
    copies = len(articles)
    sources = sorted({str(a.get("source")) for a in articles if a.get("source")})
    more = f" ({copies} copies: {', '.join(sources)})" if copies > 1 else ""
    url = str(lead.get("url") or lead.get("canonical_url") or "")
    if chat:
        url = url.replace("|", "%7C")  # a | in a link would start its label
    return (f"warwatch · {esc(str(payload['watch']['name']))}: {esc(str(lead.get('title') or '(untitled)'))} "
            f"<{esc(url)}>{esc(more)}")


def slack_escape(text: str) -> str:
    """Slack's escaping of message text: the three characters its markup is made of."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


# --------------------------------------------------------------------------- channels
def deliver_file(payload: dict[str, Any], watch: Watch, settings: DeliverySettings) -> None:
    """Append the alert to ``alerts/<watch>.jsonl`` unless a retry finds it already there (a run
    killed between the write and the outbox update writes again: once per alert). The ids the file
    holds are looked up in its index (:mod:`indexing.alerts.filelog`), not by reading the file."""
    path = alerts_dir() / f"{watch.id}.jsonl"
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with open_index(path) as delivered:
            if str(payload["alert_id"]) in delivered:
                return
            append_line_durable(path, json.dumps(payload, ensure_ascii=False))
    except (OSError, sqlite3.Error) as exc:
        raise DeliveryError(f"cannot write {path}: {exc}") from exc


def webhook_url(watch: Watch) -> str:
    hook = watch.channels.webhook
    if hook is None:
        raise DeliveryError("no webhook configured", permanent=True)
    if hook.url_env:
        url = os.environ.get(hook.url_env, "").strip()
        if url:
            return url
        if not hook.url:
            raise DeliveryError(f"environment variable {hook.url_env} (the webhook URL) is not set", permanent=True)
    assert hook.url is not None
    return hook.url


def deliver_webhook(payload: dict[str, Any], watch: Watch, settings: DeliverySettings) -> None:
    """One POST (indexing/alerts/webhook.py): no redirects, no proxies, the crawler's address rule
    unless the channel opts in to private addresses, one deadline of ``timeout_seconds``."""
    url = webhook_url(watch)
    hook = watch.channels.webhook
    body = json.dumps({"text": alert_text(payload, chat=True), **payload}, ensure_ascii=False).encode("utf-8")
    headers = {"Content-Type": "application/json; charset=utf-8", "User-Agent": USER_AGENT}
    try:
        webhook.post(url, body, headers, timeout=settings.timeout_seconds,
                     allow_private=bool(hook is not None and hook.allow_private_network))
    except webhook.WebhookError as exc:
        raise DeliveryError(str(exc), permanent=exc.permanent) from exc


def email_message(payload: dict[str, Any], watch: Watch, settings: DeliverySettings) -> EmailMessage:
    channel = watch.channels.email
    if channel is None:
        raise DeliveryError("no e-mail channel configured", permanent=True)
    articles = payload.get("articles") or []
    lead = articles[0] if articles else {}
    msg = EmailMessage()
    subject = payload.get("subject") or f"{watch.display_name}: {lead.get('title') or '(untitled)'}"
    msg["Subject"] = f"{channel.subject_prefix} {subject}".strip()
    msg["From"] = settings.smtp_sender
    msg["To"] = ", ".join(channel.to)
    msg["X-Warwatch-Alert"] = payload["alert_id"]
    lines = [alert_text(payload), "", f"Watch: {watch.display_name} (query: {watch.query})",
             f"Story: {payload.get('story_id')}", ""]
    for art in articles:
        lines.append(f"- {art.get('title') or '(untitled)'}")
        lines.append(f"  {art.get('source')} · {art.get('language')} · {art.get('published') or 'undated'}")
        lines.append(f"  {art.get('url')}")
    msg.set_content("\n".join(lines) + "\n")
    return msg


def deliver_email(payload: dict[str, Any], watch: Watch, settings: DeliverySettings) -> None:
    msg = email_message(payload, watch, settings)
    try:
        smtp: smtplib.SMTP
        if settings.smtp_ssl:
            smtp = smtplib.SMTP_SSL(settings.smtp_host, settings.smtp_port, timeout=settings.timeout_seconds,
                                    context=ssl.create_default_context())
        else:
            smtp = smtplib.SMTP(settings.smtp_host, settings.smtp_port, timeout=settings.timeout_seconds)
        with smtp:
            if settings.smtp_starttls and not settings.smtp_ssl:
                smtp.starttls(context=ssl.create_default_context())
            if settings.smtp_user:
                password = settings.smtp_password.get_secret_value() if settings.smtp_password else ""
                smtp.login(settings.smtp_user, password)
            smtp.send_message(msg)
    except smtplib.SMTPResponseException as exc:
        permanent = 500 <= exc.smtp_code < 600
        raise DeliveryError(f"SMTP {settings.smtp_host}:{settings.smtp_port} refused: {exc.smtp_code} "
                            f"{exc.smtp_error!r}", permanent=permanent) from exc
    except (TimeoutError, smtplib.SMTPException, OSError) as exc:
        raise DeliveryError(f"SMTP {settings.smtp_host}:{settings.smtp_port}: {exc}") from exc


def delivery_lease_seconds(settings: DeliverySettings) -> float:
    """How long one :func:`deliver` may take at most: every attempt's deadline and the backoff
    between them, plus a margin; a delivery's outbox lease is renewed to this before it starts
    (a lease that ran out while a receiver was slow would let a second evaluation send it again)."""
    backoff = total_backoff(settings.retries - 1, settings.backoff_seconds)
    return max(LEASE_SECONDS, settings.retries * settings.timeout_seconds + backoff + LEASE_MARGIN_SECONDS)


Deliverer = Callable[[dict[str, Any], Watch, DeliverySettings], None]
CHANNELS: dict[str, Deliverer] = {"file": deliver_file, "webhook": deliver_webhook, "email": deliver_email}


def deliver(channel: str, payload: dict[str, Any], watch: Watch, settings: DeliverySettings,
            *, sleep: Callable[[float], None] = time.sleep) -> int:
    """Deliver with up to ``settings.retries`` attempts and exponential backoff. Returns the attempts
    used; raises the last :class:`DeliveryError` (its ``attempts`` attribute set) when all failed."""
    fn = CHANNELS.get(channel)
    if fn is None:
        raise DeliveryError(f"unknown channel {channel!r}", permanent=True)
    attempt = 0

    def once() -> None:
        nonlocal attempt
        attempt += 1
        try:
            fn(payload, watch, settings)
        except DeliveryError as exc:
            exc.attempts = attempt
            raise

    def on_retry(exc: Exception, attempt: int, delay: float) -> None:
        log.info("alert %s to %s failed (attempt %d/%d): %s; retrying in %.1fs",
                 payload.get("alert_id"), channel, attempt, settings.retries, exc, delay)

    retry_call(once, attempts=settings.retries, initial=settings.backoff_seconds, sleep=sleep, on_retry=on_retry,
               retryable=lambda exc: isinstance(exc, DeliveryError) and not exc.permanent)
    return attempt
