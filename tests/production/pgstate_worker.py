"""A "host" for tests/production/test_dedup_pg.py and test_health_pg.py: one process working on
the shared state, configured by the environment (WARWATCH_DATA_DIR, WARWATCH_STATE__*) through the
entry points' own path (``get_settings()``). It opens what it needs, prints ``ready``, waits for
``go`` on stdin (so two hosts start at once), does its work and prints what it got as one JSON line.

    python -m tests.production.pgstate_worker assign SEED N     near copies of N stories (story ids)
    python -m tests.production.pgstate_worker health N          N failing sources checked (opened, delivered)
"""

from __future__ import annotations

import json
import sys

from indexing.settings import get_settings


def _say(data: object) -> None:
    print(json.dumps(data), flush=True)  # noqa: T201


def _wait_for_go() -> None:
    _say("ready")
    line = sys.stdin.readline()
    if line.strip() != "go":
        raise SystemExit(f"expected 'go', got {line!r}")


def assign(seed: str, n: str) -> None:
    """Assign this host's near copy of each of N stories; ``{doc_id: story_id}``."""
    from indexing.dedup import StoryIndex
    from tests.indexing.test_dedup import T0, rewrite, synthetic_bodies

    bodies = synthetic_bodies(int(n), seed=7)  # the same N stories on every host
    with StoryIndex.from_settings(get_settings()) as index:
        _wait_for_go()
        _say({f"{seed}-{i}": index.assign(f"{seed}-{i}", rewrite(body, 0.02, seed=int(seed)), T0).story_id
              for i, body in enumerate(bodies)})


def health(n: str) -> None:
    """Check N sources that all fail the errors rule; the episodes this check opened, and the
    deliveries it made."""
    from indexing.alerts.config import DeliverySettings
    from indexing.health.alerting import raise_alerts
    from indexing.health.rules import Finding

    findings = [Finding(f"src-{i}", "errors", f"src-{i}: failing", since="run001", value=0.8, threshold=0.5)
                for i in range(int(n))]
    settings = get_settings()
    _wait_for_go()
    outcome = raise_alerts(findings, settings=settings, delivery=DeliverySettings(retries=1, backoff_seconds=0),
                           sleep=lambda s: None)
    _say({"opened": outcome.opened, "delivered": outcome.delivered, "failures": outcome.failures})


if __name__ == "__main__":
    {"assign": assign, "health": health}[sys.argv[1]](*sys.argv[2:])
