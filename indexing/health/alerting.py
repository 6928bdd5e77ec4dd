"""Health alerts: once per (source, rule) episode, through the topic watches' channels.

An episode opens when a rule first finds a problem with a source and closes when a later check
no longer finds it; only opening alerts. The open episodes live in ``state/health.sqlite``, or in
the state database with ``state.backend: postgres`` (``indexing.health.episodes``); the alerts go
through the same outbox as topic alerts (:class:`~indexing.alerts.state.AlertState`, in that file,
or its Postgres twin), so a delivery that fails is retried by the next check, a check killed
between deciding and delivering loses nothing, and two checks at once (two hosts) open an episode
and alert it once.

The channels are ``settings.health.channels`` (the shape of a watch's ``channels``: the file
channel, ``data/alerts/warwatch-health.jsonl``, is always on) with the watches file's
``delivery`` settings (SMTP server, retries).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from indexing.alerts.channels import DeliveryError, alerts_dir, deliver, delivery_lease_seconds
from indexing.alerts.config import DeliverySettings, Watch
from indexing.alerts.evaluate import alert_id
from indexing.alerts.pgstate import open_alert_state
from indexing.alerts.state import AlertStore
from indexing.channelconfig import Channels
from indexing.errors import ConfigError
from indexing.health.episodes import Episodes, open_episodes
from indexing.health.rules import RULES, Finding
from indexing.settings import Settings

log = logging.getLogger(__name__)

#: the pseudo-watch health alerts are filed under (reserved: a topic watch may not use it)
HEALTH_WATCH_ID = "warwatch-health"
STATE_FILE = "health.sqlite"


def health_watch(channels: Channels | dict[str, Any]) -> Watch:
    """The pseudo-watch carrying ``channels``: ``settings.health.channels`` (validated with the
    settings, file and line in errors) or a mapping, validated here; a ConfigError names a bad key."""
    if isinstance(channels, Channels):
        parsed = channels
    else:
        try:
            parsed = Channels.model_validate(channels)
        except ValidationError as exc:
            raise ConfigError(f"health.channels: {exc}") from exc
    return Watch(id=HEALTH_WATCH_ID, name="warwatch pipeline health", query="pipeline health", channels=parsed)


@dataclass
class AlertOutcome:
    #: episodes opened by this check: "source/rule"
    opened: list[str] = field(default_factory=list)
    #: episodes closed (the problem is gone)
    closed: list[str] = field(default_factory=list)
    #: deliveries made (one per alert and channel), earlier failed ones included
    delivered: int = 0
    #: {"alert_id", "channel", "attempts", "error"} per failed delivery (queued for the next check)
    failures: list[dict[str, Any]] = field(default_factory=list)


def payload(finding: Finding, aid: str, watch: Watch) -> dict[str, Any]:
    return {
        "alert_id": aid,
        "kind": "health",
        "watch": {"id": watch.id, "name": watch.display_name, "query": watch.query},
        "story_id": f"{finding.source}/{finding.rule}/{finding.since}",
        "source": finding.source,
        "rule": finding.rule,
        "since": finding.since,
        "value": finding.value,
        "threshold": finding.threshold,
        "message": finding.message,
        # what the channels print (alert_text, the e-mail subject) in place of an article title
        "text": f"warwatch · pipeline health: {finding.message}",
        "subject": f"pipeline health: {finding.source} {finding.rule}",
        "created_at": datetime.now(UTC).isoformat(),
        "articles": [],
    }


def _decide(findings: Iterable[Finding], state: AlertStore, episodes: Episodes, watch: Watch,
            outcome: AlertOutcome, rules: Iterable[str]) -> None:
    active = {(f.source, f.rule): f for f in findings}
    # Only episodes of the rules this caller checked can be closed by it (the pipeline's own
    # pending-alerts rule is checked by the alerts stage, the source rules by check_health).
    checked = set(rules)
    already = {k for k in episodes.open_keys() if k[1] in checked}
    for key, finding in active.items():
        if key in already:
            continue  # the same episode: alerted when it opened
        story_key = f"{finding.source}/{finding.rule}/{finding.since}"
        aid = alert_id(HEALTH_WATCH_ID, story_key)
        # claim() first: a check killed before open() finds the alert claimed and only opens.
        state.claim(HEALTH_WATCH_ID, story_key, [], aid, None, watch.channels.names(), payload(finding, aid, watch))
        if episodes.open(finding, story_key, aid):  # False: a check running at once opened it
            outcome.opened.append("/".join(key))
    for key in sorted(already - active.keys()):
        if episodes.close(key):
            outcome.closed.append("/".join(key))


def _deliver(state: AlertStore, watch: Watch, delivery: DeliverySettings, outcome: AlertOutcome,
             directory: Path, sleep: Callable[[float], None]) -> None:
    for item in state.take_pending([HEALTH_WATCH_ID]):
        if item.channel not in watch.channels.names():
            state.cancel(item.alert_id, item.channel, f"health channel {item.channel} no longer configured")
            continue
        if not state.renew(item, delivery_lease_seconds(delivery)):
            continue  # another check took it meanwhile (its lease ran out while earlier ones were sent)
        try:
            attempts = deliver(item.channel, item.payload, watch, delivery, alerts_dir=directory, sleep=sleep)
        except DeliveryError as exc:
            state.failed(item.alert_id, item.channel, exc.attempts, str(exc))
            outcome.failures.append({"alert_id": item.alert_id, "channel": item.channel,
                                     "attempts": exc.attempts, "error": str(exc)})
            log.warning("health alert %s not delivered to %s: %s (kept queued)", item.alert_id, item.channel, exc)
            continue
        state.delivered(item.alert_id, item.channel, attempts)
        outcome.delivered += 1


def raise_alerts(findings: Iterable[Finding], *, settings: Settings, watch: Watch | None = None,
                 delivery: DeliverySettings | None = None, rules: Iterable[str] = RULES,
                 sleep: Callable[[float], None] = time.sleep) -> AlertOutcome:
    """Open an episode (and queue its alert) for each new finding, close the episodes of
    ``rules`` no finding holds any more, then deliver every queued health alert. ``settings``: the
    channels (``health.channels``), the delivery settings (the watches file's), the state directory
    and the data directory (the file channel)."""
    from indexing.alerts import configured_watches

    watch = watch or health_watch(settings.health.channels)
    delivery = delivery or configured_watches(settings).delivery
    path = settings.state_dir / STATE_FILE
    outcome = AlertOutcome()
    with open_alert_state(path, settings.state.postgres_dsn, connect_timeout=settings.state.connect_timeout) as state:
        episodes = open_episodes(path, settings.state)
        try:
            _decide(findings, state, episodes, watch, outcome, rules)
        finally:
            episodes.shut()
        _deliver(state, watch, delivery, outcome, alerts_dir(settings.data_dir), sleep)
    return outcome
