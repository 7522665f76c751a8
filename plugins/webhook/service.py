"""Webhook endpoints and their deliveries: the only place that writes them.

Each endpoint write runs in one transaction. Deliveries go through the event
outbox (docs/webhooks.md, "How deliveries work"), so that leases, retries with
backoff, ``EVENTS_MAX_AGE`` and the failed state hold for each endpoint apart:

1. :func:`fan_out` subscribes to every declared event. For each enabled
   endpoint that wants the event it emits one ``webhook_delivery_requested``
   event, all of them in one short transaction.
2. :func:`deliver` handles ``webhook_delivery_requested``: it checks the
   endpoint and its address again, POSTs with no transaction open, then logs
   the attempt and updates the endpoint's failure streak in one transaction
   (disabling the endpoint after a long enough run of failures). A failure
   raises, and the outbox retries that one delivery later.
"""

from __future__ import annotations

import json
import logging
import time
import uuid
from datetime import timedelta

import sqlalchemy as sa
from flask import current_app

from app import metrics
from app.db import as_utc, db, format_timestamp, utcnow
from app.errors import Conflict, NotFound, ValidationError
from app.events import Event, RetryLater, delivery_batch_state, emit
from app.transactions import transaction
from plugins.webhook import addresses, sending
from plugins.webhook.events import (
    EVERYTHING,
    PING,
    WEBHOOK_DELIVERY_REQUESTED,
    WEBHOOK_ENDPOINT_DISABLED,
    subscribable,
)
from plugins.webhook.models import WebhookDelivery, WebhookEndpoint
from plugins.webhook.sending import Outcome
from plugins.webhook.signing import SecretUnreadable, new_secret, seal, signature, unseal

log = logging.getLogger(__name__)

NOT_FOUND = "Webhook endpoint not found."
DISABLED_BY_ADMIN = "disabled through the API"


class DeliveryFailed(RetryLater):
    """A delivery attempt failed; the outbox retries it with backoff."""


# --- endpoints ---------------------------------------------------------------------


def check_url(url: str) -> str:
    """``url`` trimmed, if deliveries may go there now; 400 naming ``url`` otherwise."""
    config = current_app.config
    try:
        addresses.check(url, config["WEBHOOK_ALLOW_PRIVATE"], config["WEBHOOK_ALLOW_HTTP"])
    except addresses.Refused as refused:
        raise ValidationError.for_field("url", str(refused)) from None
    return url.strip()


def check_events(names: list[str]) -> list[str]:
    """The event names without repeats, if each is declared (or ``["*"]``
    alone); 400 listing the known names otherwise."""
    names = list(dict.fromkeys(names))
    if EVERYTHING in names:
        if len(names) > 1:
            raise ValidationError.for_field("events", '"*" (every event) must stand alone.')
        return names
    known = subscribable()
    unknown = [name for name in names if name not in known]
    if unknown:
        raise ValidationError.for_field(
            "events",
            f"Unknown event(s): {', '.join(unknown)}. Known events: {', '.join(known)};"
            ' or "*" for every event.',
        )
    return names


def _find(endpoint_uuid: uuid.UUID, lock: bool = False) -> WebhookEndpoint:
    query = sa.select(WebhookEndpoint).where(WebhookEndpoint.uuid == endpoint_uuid)
    if lock:
        query = query.with_for_update()
    endpoint = db.session.scalar(query)
    if endpoint is None:
        raise NotFound(NOT_FOUND)
    return endpoint


def create_endpoint(data: dict) -> dict:
    """Register an endpoint; the answer holds its new secret, the only time
    it is shown. 400 for a refused URL or an unknown event."""
    url = check_url(data["url"])  # resolves the host: before the transaction
    events = check_events(data["events"])
    secret = new_secret()
    enabled = data.get("enabled", True)
    now = utcnow()
    with transaction():
        endpoint = WebhookEndpoint(
            url=url,
            description=data.get("description"),
            events=events,
            secret=seal(secret),
            enabled=enabled,
            disabled_at=None if enabled else now,
            disabled_reason=None if enabled else DISABLED_BY_ADMIN,
            created_at=now,
            updated_at=now,
        )
        db.session.add(endpoint)
        db.session.flush()
        shown = endpoint.to_dict()
    return {**shown, "secret": secret}


def list_endpoints(page: int, limit: int) -> dict:
    """A page of endpoints, oldest first, with the total."""
    query = sa.select(WebhookEndpoint).order_by(WebhookEndpoint.webhook_endpoint_id)
    items = db.session.scalars(query.offset((page - 1) * limit).limit(limit)).all()
    total = db.session.scalar(sa.select(sa.func.count()).select_from(WebhookEndpoint))
    return {
        "items": [endpoint.to_dict() for endpoint in items],
        "total": total,
        "currentPage": page,
        "limit": limit,
    }


def get_endpoint(endpoint_uuid: uuid.UUID) -> dict:
    return _find(endpoint_uuid).to_dict()


def update_endpoint(endpoint_uuid: uuid.UUID, data: dict) -> dict:
    """Change ``url``, ``events``, ``description`` or ``enabled``. Enabling a
    disabled endpoint clears its failure streak; disabling one drops its
    pending deliveries. 404, or 400 as for creation."""
    data = dict(data)
    if "url" in data:
        data["url"] = check_url(data["url"])
    if "events" in data:
        data["events"] = check_events(data["events"])
    with transaction():
        endpoint = _find(endpoint_uuid, lock=True)
        changed = False
        for name in ("url", "events", "description"):
            if name in data and getattr(endpoint, name) != data[name]:
                setattr(endpoint, name, data[name])
                changed = True
        if "enabled" in data and data["enabled"] != endpoint.enabled:
            changed = True
            if data["enabled"]:
                _enable(endpoint)
            else:
                _disable(endpoint, DISABLED_BY_ADMIN)
        if changed:
            endpoint.updated_at = utcnow()
        return endpoint.to_dict()


def delete_endpoint(endpoint_uuid: uuid.UUID) -> dict:
    """Delete an endpoint with its delivery log; its pending deliveries are
    dropped. 404 if unknown."""
    with transaction():
        endpoint = _find(endpoint_uuid, lock=True)
        shown = endpoint.to_dict()
        db.session.delete(endpoint)
    return shown


def rotate_secret(endpoint_uuid: uuid.UUID) -> dict:
    """Give an endpoint a new secret, shown in the answer only; deliveries
    from now on are signed with it. 404 if unknown."""
    secret = new_secret()
    with transaction():
        endpoint = _find(endpoint_uuid, lock=True)
        endpoint.secret = seal(secret)
        endpoint.updated_at = utcnow()
        shown = endpoint.to_dict()
    return {**shown, "secret": secret}


def ping(endpoint_uuid: uuid.UUID) -> dict:
    """Queue a ``webhook_ping`` delivery to the endpoint, through the same path
    as every event. 404 if unknown, 409 if the endpoint is disabled."""
    with transaction():
        endpoint = _find(endpoint_uuid, lock=True)
        if not endpoint.enabled:
            raise Conflict("The endpoint is disabled: enable it (PATCH enabled=true) first.")
        event_id = str(uuid.uuid4())
        emit(
            WEBHOOK_DELIVERY_REQUESTED,
            _delivery_request(
                endpoint.uuid, event_id, PING, None, utcnow(), {"endpoint_uuid": str(endpoint.uuid)}
            ),
        )
    return {"event_id": event_id, "event_name": PING, "endpoint_uuid": str(endpoint_uuid)}


def list_deliveries(endpoint_uuid: uuid.UUID, page: int, limit: int) -> dict:
    """A page of the endpoint's delivery log, newest first. 404 if unknown."""
    endpoint = _find(endpoint_uuid)
    mine = WebhookDelivery.webhook_endpoint_id == endpoint.webhook_endpoint_id
    query = (
        sa.select(WebhookDelivery)
        .where(mine)
        .order_by(WebhookDelivery.webhook_delivery_id.desc())
        .offset((page - 1) * limit)
        .limit(limit)
    )
    items = db.session.scalars(query).all()
    total = db.session.scalar(sa.select(sa.func.count()).select_from(WebhookDelivery).where(mine))
    return {
        "items": [delivery.to_dict() for delivery in items],
        "total": total,
        "currentPage": page,
        "limit": limit,
    }


def _enable(endpoint: WebhookEndpoint) -> None:
    endpoint.enabled = True
    endpoint.failure_streak = 0
    endpoint.failing_since = None
    endpoint.disabled_at = None
    endpoint.disabled_reason = None


def _disable(endpoint: WebhookEndpoint, reason: str) -> None:
    endpoint.enabled = False
    endpoint.disabled_at = utcnow()
    endpoint.disabled_reason = reason


# --- deliveries ---------------------------------------------------------------------


def subscriptions() -> dict:
    """What the plugin subscribes to: every declared event (fanned out) and
    its own delivery requests. Built once per app, as it is asked at each delivery."""
    cache = current_app.extensions.setdefault("webhook", {})
    if "subscriptions" not in cache:
        cache["subscriptions"] = {
            **{name: fan_out for name in subscribable()},
            WEBHOOK_DELIVERY_REQUESTED.name: deliver,
        }
    return cache["subscriptions"]


def _delivery_request(endpoint_uuid, event_id, name, sequence, created_at, payload) -> dict:
    return {
        "endpoint_uuid": str(endpoint_uuid),
        "event": {
            "id": event_id,
            "name": name,
            "sequence": sequence,
            "created_at": format_timestamp(created_at),
            "payload": payload,
        },
    }


def _enabled_endpoints() -> list[tuple[str, frozenset]]:
    """``(uuid, events)`` of each enabled endpoint, read once per delivery
    batch (app.events.delivery_batch_state): an endpoint enabled, disabled or
    changed meanwhile counts from the next batch on, a second or so later."""
    state = delivery_batch_state("webhook")
    if "enabled" not in state:
        state["enabled"] = [
            (str(endpoint_uuid), frozenset(events))
            for endpoint_uuid, events in db.session.execute(
                sa.select(WebhookEndpoint.uuid, WebhookEndpoint.events)
                .where(WebhookEndpoint.enabled.is_(True))
                .order_by(WebhookEndpoint.webhook_endpoint_id)
            )
        ]
        db.session.rollback()  # most events go nowhere: no write transaction for them
    return state["enabled"]


def fan_out(event: Event) -> None:
    """Subscriber of every declared event: one ``webhook_delivery_requested``
    per enabled endpoint that wants it, emitted in one transaction."""
    wanting = [
        endpoint_uuid
        for endpoint_uuid, events in _enabled_endpoints()
        if EVERYTHING in events or event.name in events
    ]
    if not wanting:
        return
    with transaction():
        for endpoint_uuid in wanting:
            emit(
                WEBHOOK_DELIVERY_REQUESTED,
                _delivery_request(
                    endpoint_uuid,
                    event.uuid,
                    event.name,
                    event.sequence,
                    event.created_at,
                    event.payload,
                ),
            )


def deliver(event: Event) -> None:
    """Subscriber of ``webhook_delivery_requested``: one attempt to POST the
    event to its endpoint.

    Returns without sending when the endpoint was deleted or disabled (its
    pending deliveries stop). Raises :class:`DeliveryFailed` when the attempt
    failed, so that the outbox retries it with backoff, unless that failure
    disabled the endpoint.
    """
    request = event.payload
    original = request["event"]
    endpoint = db.session.scalar(
        sa.select(WebhookEndpoint).where(
            WebhookEndpoint.uuid == uuid.UUID(request["endpoint_uuid"])
        )
    )
    if endpoint is None or not endpoint.enabled:
        db.session.rollback()
        return
    endpoint_id, url, sealed = endpoint.webhook_endpoint_id, endpoint.url, endpoint.secret
    db.session.rollback()  # no transaction stays open while the receiver is called
    # A ping has no event of its own in the outbox: its delivery's sequence stands in.
    sequence = original["sequence"] if original["sequence"] is not None else event.sequence
    body = json.dumps(
        {
            "id": original["id"],
            "name": original["name"],
            "sequence": sequence,
            "created_at": original["created_at"],
            "data": original["payload"],
        },
        separators=(",", ":"),
        ensure_ascii=False,
    ).encode()
    outcome = _attempt(url, sealed, original["id"], original["name"], event.attempt, body)
    delivery_finished(request["endpoint_uuid"], original["name"], event.attempt, outcome)
    stopped = _record(endpoint_id, original, sequence, event.attempt, outcome)
    if not outcome.ok and not stopped:
        raise DeliveryFailed(
            f"webhook endpoint {request['endpoint_uuid']} ({addresses.origin(url)}),"
            f" attempt {event.attempt}: {outcome.error}"
        )


def _attempt(url: str, sealed: str, event_id: str, name: str, attempt: int, body: bytes):
    """Check the URL's addresses again, sign and POST."""
    config = current_app.config
    started = time.monotonic()
    try:
        target = addresses.check(url, config["WEBHOOK_ALLOW_PRIVATE"], config["WEBHOOK_ALLOW_HTTP"])
        secret = unseal(sealed)
    except (addresses.Refused, SecretUnreadable) as refused:
        elapsed = round((time.monotonic() - started) * 1000)
        return Outcome(ok=False, status=None, duration_ms=elapsed, error=f"refused: {refused}")
    timestamp = int(time.time())
    headers = {
        "X-Webhook-Id": event_id,
        "X-Webhook-Event": name,
        "X-Webhook-Timestamp": str(timestamp),
        "X-Webhook-Attempt": str(attempt),
        "X-Webhook-Signature": signature(secret, timestamp, body),
    }
    return sending.post(
        target, body, headers, config["WEBHOOK_TIMEOUT"], config["WEBHOOK_CA_BUNDLE"]
    )


def delivery_finished(endpoint_uuid: str, event_name: str, attempt: int, outcome: Outcome) -> None:
    """The one place where every delivery attempt's outcome and duration are
    known (``outcome.ok``, ``outcome.status``, ``outcome.duration_ms``): count
    and time deliveries here."""
    result = "delivered" if outcome.ok else "rejected" if outcome.status else "failed"
    metrics.observe_webhook_delivery(result, outcome.duration_ms / 1000)
    log.info(
        "webhook delivery to %s: %s attempt %d %s in %d ms%s",
        endpoint_uuid,
        event_name,
        attempt,
        "succeeded" if outcome.ok else "failed",
        outcome.duration_ms,
        f" ({outcome.error})" if outcome.error else "",
    )


def _record(endpoint_id: int, original: dict, sequence, attempt: int, outcome: Outcome) -> bool:
    """Log the attempt and update the endpoint's failure streak, disabling it
    (and emitting ``webhook_endpoint_disabled``) once the streak is long enough
    in count and in time. Old log entries are pruned on the way.

    :return: whether the endpoint takes no more deliveries (disabled or gone).
    """
    config = current_app.config
    now = utcnow()
    with transaction():
        endpoint = db.session.scalar(
            sa.select(WebhookEndpoint)
            .where(WebhookEndpoint.webhook_endpoint_id == endpoint_id)
            .with_for_update()
        )
        if endpoint is None:  # deleted meanwhile, with its log
            return True
        db.session.add(
            WebhookDelivery(
                webhook_endpoint_id=endpoint_id,
                event_id=uuid.UUID(original["id"]),
                event_name=original["name"],
                sequence=sequence,
                attempt=attempt,
                success=outcome.ok,
                status=outcome.status,
                duration_ms=outcome.duration_ms,
                error=outcome.error,
                created_at=now,
            )
        )
        if outcome.ok:
            endpoint.failure_streak = 0
            endpoint.failing_since = None
        else:
            endpoint.failure_streak += 1
            endpoint.failing_since = endpoint.failing_since or now
            failing_for = now - as_utc(endpoint.failing_since)
            if (
                endpoint.enabled
                and endpoint.failure_streak >= config["WEBHOOK_MAX_CONSECUTIVE_FAILURES"]
                and failing_for >= timedelta(seconds=config["WEBHOOK_MIN_FAILING_SECONDS"])
            ):
                _disable(
                    endpoint,
                    f"{endpoint.failure_streak} failed attempts in a row since"
                    f" {format_timestamp(endpoint.failing_since)}; last: {outcome.error}",
                )
                log.warning(
                    "webhook endpoint %s (%s) disabled: %s",
                    endpoint.uuid,
                    addresses.origin(endpoint.url),
                    endpoint.disabled_reason,
                )
                emit(WEBHOOK_ENDPOINT_DISABLED, _disabled_payload(endpoint))
        db.session.execute(
            sa.delete(WebhookDelivery).where(
                WebhookDelivery.created_at
                < now - timedelta(days=config["WEBHOOK_DELIVERY_LOG_DAYS"])
            )
        )
        return not endpoint.enabled


def _disabled_payload(endpoint: WebhookEndpoint) -> dict:
    shown = endpoint.to_dict()
    return {
        "origin": addresses.origin(endpoint.url),
        **{
            name: shown[name]
            for name in (
                "uuid",
                "description",
                "failure_streak",
                "failing_since",
                "disabled_at",
                "disabled_reason",
            )
        },
    }
