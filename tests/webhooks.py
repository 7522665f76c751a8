"""Helpers of the webhook tests: settings, registering an endpoint through the
API, running the event outbox round by round, and checking a signature the
way docs/webhooks.md tells receivers to."""

from __future__ import annotations

import hashlib
import hmac
import time
import uuid

import sqlalchemy as sa

from app.db import db
from app.events import deliver

# Loopback receivers: private addresses and plain http allowed; retries at once.
SETTINGS = {
    "WEBHOOK_ALLOW_PRIVATE": True,
    "WEBHOOK_ALLOW_HTTP": True,
    "WEBHOOK_TIMEOUT": 1.0,
    "EVENTS_RETRY_DELAY": 0,
}


def register(client, headers, url, events=("*",), **extra) -> dict:
    """An endpoint made through the API (its answer, secret included)."""
    response = client.post(
        "/api/webhooks", json={"url": url, "events": list(events), **extra}, headers=headers
    )
    assert response.status_code == 201, response.json
    return response.json["data"]


def run_events(app, rounds: int = 1) -> None:
    """Deliver what is due, ``rounds`` times: the first round fans an event
    out to its endpoints, the next one POSTs it, each later one retries."""
    with app.app_context():
        for _ in range(rounds):
            deliver()
        db.session.remove()


def outbox(app) -> list[dict]:
    """The rows of the event outbox, oldest first."""
    with app.app_context():
        rows = db.session.execute(
            sa.text(
                "SELECT event_outbox_id, uuid, name, attempts, last_error, failed_at"
                " FROM event_outbox ORDER BY event_outbox_id"
            )
        ).all()
        db.session.remove()
    # SQLite hands uuids back as 32 hex digits.
    return [{**row._asdict(), "uuid": str(uuid.UUID(str(row.uuid)))} for row in rows]


def verify(secret: str, timestamp: str, signature: str, body: bytes, tolerance=300) -> bool:
    """The receiver's check, as docs/webhooks.md writes it."""
    if abs(time.time() - int(timestamp)) > tolerance:
        return False
    mac = hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256)
    return hmac.compare_digest("v1=" + mac.hexdigest(), signature)
