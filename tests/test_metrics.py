"""Metrics (docs/operations.md, "Metrics"): ``GET /metrics`` answers in
Prometheus' text format, read back here with prometheus-client's own parser.
Requests by route template, method and status with their latency, the
outbox, deliveries by subscriber, rate-limit refusals, the database pool,
bcrypt's time and webhook deliveries; and who may scrape.

Metrics live for the whole test process, so each test compares a scrape
before and after what it does."""

from __future__ import annotations

import time
import uuid
from datetime import timedelta

import pytest
import sqlalchemy as sa
from prometheus_client import CONTENT_TYPE_LATEST
from prometheus_client.parser import text_string_to_metric_families

from app import metrics
from app.db import IDLE_PING_SECONDS, db, utcnow
from app.events import EventOutbox, deliver
from app.plugins import hookimpl

CUSTOMER_ROUTE = "/api/customers/<uuid:customer_uuid>"
METRICS_TOKEN = "metrics-token-0123456789abcdef"


# --- reading a scrape ------------------------------------------------------------------------


class Scrape:
    """The samples of one scrape, by name and labels."""

    def __init__(self, text: str):
        self.families = {family.name: family for family in text_string_to_metric_families(text)}
        self.samples = [sample for family in self.families.values() for sample in family.samples]

    def value(self, name: str, **labels: str) -> float:
        """The sample's value; 0 when it is not there (a series not yet made)."""
        found = [s.value for s in self.samples if s.name == name and s.labels == labels]
        assert len(found) <= 1, found
        return found[0] if found else 0.0

    def type_of(self, name: str) -> str:
        return self.families[name].type


def scrape(client, **headers: str) -> Scrape:
    response = client.get("/metrics", headers=headers)
    assert response.status_code == 200, response.data
    assert response.content_type == CONTENT_TYPE_LATEST
    return Scrape(response.get_data(as_text=True))


# --- the format ------------------------------------------------------------------------------


def test_scrape_is_prometheus_text_with_every_metric_of_the_service(client):
    scraped = scrape(client)

    assert {
        name: scraped.type_of(name)
        for name in (
            "http_requests",
            "http_request_duration_seconds",
            "events_outbox_backlog",
            "events_outbox_oldest_age_seconds",
            "events_outbox_failed",
            "events_deliveries",
            "ratelimit_refusals",
            "db_pool_checked_out",
            "db_pool_size",
            "db_pool_max_overflow",
            "password_hash_duration_seconds",
            "webhook_deliveries",
            "webhook_delivery_duration_seconds",
        )
    } == {
        "http_requests": "counter",
        "http_request_duration_seconds": "histogram",
        "events_outbox_backlog": "gauge",
        "events_outbox_oldest_age_seconds": "gauge",
        "events_outbox_failed": "gauge",
        "events_deliveries": "counter",
        "ratelimit_refusals": "counter",
        "db_pool_checked_out": "gauge",
        "db_pool_size": "gauge",
        "db_pool_max_overflow": "gauge",
        "password_hash_duration_seconds": "histogram",
        "webhook_deliveries": "counter",
        "webhook_delivery_duration_seconds": "histogram",
    }


# --- requests --------------------------------------------------------------------------------


def test_a_request_is_counted_under_its_route_template_method_and_status(client, auth):
    headers = auth.admin_headers()
    labels = {"method": "GET", "route": CUSTOMER_ROUTE, "status": "404"}
    before = scrape(client).value("http_requests_total", **labels)
    unknown = uuid.uuid4()

    response = client.get(f"/api/customers/{unknown}", headers=headers)

    assert response.status_code == 404
    after = scrape(client)
    assert after.value("http_requests_total", **labels) == before + 1
    assert [s for s in after.samples if any(str(unknown) in v for v in s.labels.values())] == []


def test_a_path_no_route_matches_is_counted_as_unmatched(client):
    labels = {"method": "GET", "route": "unmatched", "status": "404"}
    before = scrape(client).value("http_requests_total", **labels)

    assert client.get(f"/api/nothing-here/{uuid.uuid4()}").status_code == 404
    assert client.get("/nothing/else").status_code == 404

    assert scrape(client).value("http_requests_total", **labels) == before + 2


def test_an_unknown_method_is_counted_as_other(client):
    labels = {"method": "other", "route": "unmatched", "status": "405"}
    before = scrape(client).value("http_requests_total", **labels)

    assert client.open("/healthz", method="BREW").status_code == 405

    assert scrape(client).value("http_requests_total", **labels) == before + 1


def test_each_request_is_observed_in_the_latency_histogram(client):
    labels = {"method": "GET", "route": "/healthz"}
    before = scrape(client)

    for _ in range(3):
        assert client.get("/healthz").status_code == 200

    after = scrape(client)
    count = "http_request_duration_seconds_count"
    assert after.value(count, **labels) == before.value(count, **labels) + 3
    total = "http_request_duration_seconds_sum"
    assert after.value(total, **labels) > before.value(total, **labels)
    bucket = "http_request_duration_seconds_bucket"
    assert after.value(bucket, **labels, le="+Inf") == before.value(bucket, **labels, le="+Inf") + 3


# --- the outbox --------------------------------------------------------------------------------


def outbox_ids(app) -> list[int]:
    with app.app_context():
        ids = db.session.scalars(
            sa.select(EventOutbox.event_outbox_id).order_by(EventOutbox.event_outbox_id)
        ).all()
        db.session.remove()
    return ids


def update_event(app, event_id: int, **values) -> None:
    with app.app_context(), db.engine.begin() as conn:
        conn.execute(
            sa.update(EventOutbox).where(EventOutbox.event_outbox_id == event_id).values(**values)
        )


def test_an_empty_outbox_has_no_backlog_and_no_age(client):
    scraped = scrape(client)

    assert scraped.value("events_outbox_backlog") == 0
    assert scraped.value("events_outbox_oldest_age_seconds") == 0
    assert scraped.value("events_outbox_failed") == 0


def test_outbox_backlog_counts_the_events_waiting_at_scrape_time(app, client, auth):
    # Given events left in the outbox (the tests' EVENTS_DELIVERY is worker)
    auth.create_customer()
    waiting = outbox_ids(app)
    assert waiting

    assert scrape(client).value("events_outbox_backlog") == len(waiting)


def test_outbox_oldest_age_is_the_age_of_the_oldest_waiting_event(app, client, auth):
    auth.create_customer()
    oldest = outbox_ids(app)[0]
    update_event(app, oldest, created_at=utcnow() - timedelta(minutes=10))

    age = scrape(client).value("events_outbox_oldest_age_seconds")

    assert 600 <= age < 660


def test_a_given_up_event_counts_as_failed_and_not_as_waiting(app, client, auth):
    auth.create_customer()
    ids = outbox_ids(app)
    update_event(app, ids[0], failed_at=utcnow(), created_at=utcnow() - timedelta(days=2))

    scraped = scrape(client)

    assert scraped.value("events_outbox_failed") == 1
    assert scraped.value("events_outbox_backlog") == len(ids) - 1
    assert scraped.value("events_outbox_oldest_age_seconds") < 60


# --- deliveries ---------------------------------------------------------------------------------


class Subscriber:
    """Subscribes to customer_registered; fails when ``fails`` is set."""

    def __init__(self, fails: bool):
        self.fails = fails

    @hookimpl
    def subscribe(self):
        return {"customer_registered": self.handle}

    def handle(self, event) -> None:
        if self.fails:
            raise RuntimeError("subscriber down")


def test_deliveries_and_failures_are_counted_by_subscriber_and_event(
    app, client, auth, register_plugin
):
    # Given one subscriber that handles customer_registered and one that fails on it
    register_plugin(Subscriber(fails=False), name="metrics-ok")
    register_plugin(Subscriber(fails=True), name="metrics-broken")
    before = scrape(client)
    auth.create_customer()

    # When the outbox is delivered
    with app.app_context():
        deliver()
        db.session.remove()

    # Then
    after = scrape(client)
    for subscriber, outcome in (("metrics-ok", "delivered"), ("metrics-broken", "failed")):
        labels = {"subscriber": subscriber, "event": "customer_registered", "outcome": outcome}
        assert after.value("events_deliveries_total", **labels) == (
            before.value("events_deliveries_total", **labels) + 1
        )
    labels = {"subscriber": "metrics-broken", "event": "customer_registered"}
    assert after.value("events_deliveries_total", **labels, outcome="delivered") == 0


# --- rate limits ---------------------------------------------------------------------------------


def test_a_refusal_of_a_named_limit_is_counted_under_its_name(make_app):
    app = make_app(
        RATELIMIT_ENABLED=True, RATELIMIT_STORAGE_URI="memory://", RATELIMIT_TOKENS="1/minute"
    )
    client = app.test_client()
    before = scrape(client).value("ratelimit_refusals_total", limit="tokens")

    client.post("/api/customer/token/refresh", json={"refreshToken": "not-a-token"})
    response = client.post("/api/customer/token/refresh", json={"refreshToken": "not-a-token"})

    assert response.status_code == 429
    assert scrape(client).value("ratelimit_refusals_total", limit="tokens") == before + 1


def test_a_locked_login_is_counted_under_its_limit_name(make_app):
    app = make_app(
        RATELIMIT_ENABLED=True,
        RATELIMIT_STORAGE_URI="memory://",
        RATELIMIT_LOGIN_FAILURES="1/15minutes",
    )
    client = app.test_client()
    before = scrape(client)
    wrong = {"email": "nobody@example.com", "password": "wrong-password-1"}

    first = client.post("/api/customer/tokens", json=wrong)
    second = client.post("/api/customer/tokens", json=wrong)

    assert (first.status_code, second.status_code) == (401, 429)
    after = scrape(client)
    for limit, more in (("login_failures", 1), ("login_failures_per_address", 0), ("tokens", 0)):
        assert after.value("ratelimit_refusals_total", limit=limit) == (
            before.value("ratelimit_refusals_total", limit=limit) + more
        )


# --- the database pool ---------------------------------------------------------------------------


def test_pool_gauges_show_the_connections_taken_and_the_pool_size(app, client):
    before = scrape(client).value("db_pool_checked_out")

    with app.app_context(), db.engine.connect():
        held = scrape(client)

    assert held.value("db_pool_checked_out") == before + 1
    assert scrape(client).value("db_pool_checked_out") == before
    assert held.value("db_pool_size") == 5
    assert held.value("db_pool_max_overflow") == 10


def test_a_checkout_that_replaces_a_dead_connection_counts_it_once(app, client, backend):
    if backend != "postgresql":
        pytest.skip("SQLite connections are never pinged: they cannot die")
    # Given a pooled connection that the server has closed while it sat idle
    with app.app_context():
        with db.engine.connect() as other:
            with db.engine.connect() as conn:
                pid = conn.exec_driver_sql("SELECT pg_backend_pid()").scalar()
            # the pool hands out the connection given back first: conn's
            other.exec_driver_sql(f"SELECT pg_terminate_backend({pid})")
        time.sleep(IDLE_PING_SECONDS + 0.1)
        before = scrape(client).value("db_pool_checked_out")

        # When a checkout meets it (its ping fails, and the pool connects again)
        with db.engine.connect() as conn:
            held = scrape(client).value("db_pool_checked_out")

    # Then the connection was counted once, and given back
    assert held == before + 1
    assert scrape(client).value("db_pool_checked_out") == before


# --- bcrypt --------------------------------------------------------------------------------------


def test_bcrypt_time_is_observed_when_a_password_is_hashed_and_checked(client, auth):
    auth.admin_headers()  # an admin, hashed and then checked at login
    before = scrape(client)

    auth.create_customer(password="customer-pass-1")
    auth.customer_tokens(password="customer-pass-1")

    after = scrape(client)
    count = "password_hash_duration_seconds_count"
    for operation in ("hash", "verify"):
        assert (
            after.value(count, operation=operation) == before.value(count, operation=operation) + 1
        )
    total = "password_hash_duration_seconds_sum"
    assert after.value(total, operation="hash") > before.value(total, operation="hash")


# --- webhooks ------------------------------------------------------------------------------------


def test_a_webhook_delivery_is_counted_by_outcome_with_its_duration(client):
    before = scrape(client)

    metrics.observe_webhook_delivery("delivered", 0.2)
    metrics.observe_webhook_delivery("rejected", 0.3)
    metrics.observe_webhook_delivery("failed", 10.0)
    metrics.observe_webhook_delivery("delivered", 0.1)

    after = scrape(client)
    for outcome, more in (("delivered", 2), ("rejected", 1), ("failed", 1)):
        assert after.value("webhook_deliveries_total", outcome=outcome) == (
            before.value("webhook_deliveries_total", outcome=outcome) + more
        )
    count = "webhook_delivery_duration_seconds_count"
    assert after.value(count) == before.value(count) + 4
    total = "webhook_delivery_duration_seconds_sum"
    assert after.value(total) == pytest.approx(before.value(total) + 10.6)


def test_an_unknown_webhook_outcome_is_refused_and_not_counted(client):
    before = scrape(client)

    with pytest.raises(ValueError, match="outcome must be one of delivered, rejected, failed"):
        metrics.observe_webhook_delivery("teapot", 0.1)

    after = scrape(client)
    assert after.value("webhook_deliveries_total", outcome="teapot") == 0
    count = "webhook_delivery_duration_seconds_count"
    assert after.value(count) == before.value(count)


# --- who may scrape ---------------------------------------------------------------------------


def test_with_a_metrics_token_a_scrape_without_it_is_refused(make_app):
    client = make_app(METRICS_TOKEN=METRICS_TOKEN).test_client()

    response = client.get("/metrics")

    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"] == "Bearer"
    assert response.json == {
        "error": {
            "status": 401,
            "message": "Send the metrics token: Authorization: Bearer <METRICS_TOKEN>.",
        }
    }


def test_with_a_metrics_token_a_scrape_with_another_token_is_refused(make_app):
    client = make_app(METRICS_TOKEN=METRICS_TOKEN).test_client()

    for header in (f"Bearer {METRICS_TOKEN[:-1]}", f"Bearer {METRICS_TOKEN}x", METRICS_TOKEN):
        response = client.get("/metrics", headers={"Authorization": header})
        assert response.status_code == 401, header
        assert b"http_requests_total" not in response.data


def test_with_a_metrics_token_a_scrape_with_it_is_answered(make_app):
    client = make_app(METRICS_TOKEN=METRICS_TOKEN).test_client()

    scraped = scrape(client, Authorization=f"Bearer {METRICS_TOKEN}")

    assert scraped.type_of("http_requests") == "counter"


def test_production_without_a_metrics_token_serves_no_metrics_on_the_service_port(make_app):
    client = make_app(APP_ENV="production").test_client()

    response = client.get("/metrics")

    assert response.status_code == 404
    assert b"http_requests_total" not in response.data


def test_production_with_a_metrics_token_serves_metrics_to_its_holder(make_app):
    client = make_app(APP_ENV="production", METRICS_TOKEN=METRICS_TOKEN).test_client()

    assert client.get("/metrics").status_code == 401
    scraped = scrape(client, Authorization=f"Bearer {METRICS_TOKEN}")
    assert scraped.type_of("events_outbox_backlog") == "gauge"
