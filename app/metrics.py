"""Prometheus metrics (docs/operations.md, "Metrics").

Each metric is defined here, once per process. Under gunicorn every worker
writes its values to files in ``PROMETHEUS_MULTIPROC_DIR`` (prometheus-client's
multiprocess mode, set up by gunicorn.conf.py), and a scrape adds the
workers' values up; elsewhere they live in the process's memory.

What the rest of the code calls, each a few microseconds:

* :func:`count_delivery` — a subscriber handled an event, or failed on it;
* :func:`count_refusal` — a rate limit refused a request (a 429);
* :func:`observe_webhook_delivery` — a webhook was sent (for the webhook plugin);
* :data:`BCRYPT_HASH` and :data:`BCRYPT_VERIFY` — ``with BCRYPT_HASH.time(): ...``.

Requests and the database pool are counted by :func:`init_app`'s hooks; the
outbox is read at scrape time by :class:`OutboxCollector`, one query.

A scrape is ``GET /metrics`` on the service's port (with ``METRICS_TOKEN`` as
a bearer token when it is set; in production only then), or any path on
``METRICS_PORT``, which gunicorn's master serves (:func:`serve`).
"""

from __future__ import annotations

import hmac
import logging
import os
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime

import sqlalchemy as sa
from flask import Blueprint, Flask, Response, current_app, g, request
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
    multiprocess,
    start_http_server,
)
from prometheus_client.core import GaugeMetricFamily
from sqlalchemy.pool import NullPool

from app.errors import Unauthorized

log = logging.getLogger(__name__)

# The route label of a request that no route matched (a routing 404 or 405).
UNMATCHED = "unmatched"
# Methods named as they are; any other is "other", so that a client cannot
# make new series by inventing methods.
METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
# Seconds PostgreSQL may take over the outbox query of a scrape.
SCRAPE_STATEMENT_TIMEOUT_MS = 3000

# --- the metrics ---------------------------------------------------------------------

HTTP_REQUESTS = Counter(
    "http_requests_total",
    "Requests answered, by method, route template and status.",
    ["method", "route", "status"],
)
HTTP_REQUEST_DURATION = Histogram(
    "http_request_duration_seconds",
    "Time from the start of a request's handling to its answer, by method and route template.",
    ["method", "route"],
)
EVENT_DELIVERIES = Counter(
    "events_deliveries_total",
    "Deliveries of an event to a subscriber, by subscriber (plugin), event and outcome"
    " (delivered or failed).",
    ["subscriber", "event", "outcome"],
)
RATELIMIT_REFUSALS = Counter(
    "ratelimit_refusals_total",
    "Requests refused with 429 by a rate limit, by the limit's name.",
    ["limit"],
)
BCRYPT_DURATION = Histogram(
    "password_hash_duration_seconds",
    "Time bcrypt took to hash a password or check one, by operation (hash or verify).",
    ["operation"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.2, 0.4, 0.8, 1.6, 3.2, 6.4),
)
BCRYPT_HASH = BCRYPT_DURATION.labels(operation="hash")
BCRYPT_VERIFY = BCRYPT_DURATION.labels(operation="verify")

#: Webhook deliveries, for the webhook plugin: call :func:`observe_webhook_delivery`.
WEBHOOK_OUTCOMES = ("delivered", "rejected", "failed")
WEBHOOK_DELIVERIES = Counter(
    "webhook_deliveries_total",
    "Webhook requests sent, by outcome: delivered (a 2xx answer), rejected (another"
    " answer) or failed (no answer: connection refused, timeout, TLS).",
    ["outcome"],
)
WEBHOOK_DELIVERY_DURATION = Histogram(
    "webhook_delivery_duration_seconds",
    "Time a webhook request took, from connecting to the end of the answer (or the failure).",
    buckets=(0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30),
)

# The pool's gauges, one series per process (the label ``pid`` under gunicorn):
# made on first use, so that gunicorn's master, which serves no request, has none.
_pool_gauges: tuple[Gauge, Gauge, Gauge] | None = None


def _pool_metrics() -> tuple[Gauge, Gauge, Gauge]:
    global _pool_gauges
    if _pool_gauges is None:
        _pool_gauges = (
            Gauge(
                "db_pool_checked_out",
                "Database connections this process has taken from its pool now.",
                multiprocess_mode="liveall",
            ),
            Gauge(
                "db_pool_size",
                "Connections this process's pool keeps open.",
                multiprocess_mode="liveall",
            ),
            Gauge(
                "db_pool_max_overflow",
                "Connections this process may open beyond db_pool_size at busy times.",
                multiprocess_mode="liveall",
            ),
        )
    return _pool_gauges


# --- what the rest of the code calls -------------------------------------------------


def count_delivery(subscriber: str, event: str, ok: bool) -> None:
    """A subscriber handled ``event`` (``ok``), or raised on it."""
    EVENT_DELIVERIES.labels(subscriber, event, "delivered" if ok else "failed").inc()


def count_refusal(limit: str) -> None:
    """A request refused with 429 by the limit named ``limit``."""
    RATELIMIT_REFUSALS.labels(limit).inc()


def observe_webhook_delivery(outcome: str, seconds: float) -> None:
    """Count one webhook request and how long it took.

    :param outcome: ``delivered`` (the receiver answered 2xx), ``rejected``
        (it answered anything else) or ``failed`` (no answer).
    :raises ValueError: for any other outcome (each would be a new series).
    """
    if outcome not in WEBHOOK_OUTCOMES:
        raise ValueError(f"outcome must be one of {', '.join(WEBHOOK_OUTCOMES)}, got {outcome!r}")
    WEBHOOK_DELIVERIES.labels(outcome).inc()
    WEBHOOK_DELIVERY_DURATION.observe(seconds)


# --- requests --------------------------------------------------------------------------

# (method, route, status) -> (counter, histogram) children: a dict lookup
# instead of prometheus-client's label checks on every request.
_request_series: dict[tuple[str, str, int], tuple] = {}


def _observe_request(response):
    method = request.method if request.method in METHODS else "other"
    rule = request.url_rule
    route = rule.rule if rule is not None else UNMATCHED
    key = (method, route, response.status_code)
    series = _request_series.get(key)
    if series is None:
        series = _request_series[key] = (
            HTTP_REQUESTS.labels(method, route, str(response.status_code)),
            HTTP_REQUEST_DURATION.labels(method, route),
        )
    series[0].inc()
    started = g.get("request_started")
    if started is not None:
        series[1].observe(time.perf_counter() - started)
    return response


# --- the database pool -----------------------------------------------------------------


def _watch_pool(engine: sa.Engine) -> None:
    """Keep the pool gauges as this engine's pool checks connections out and in.

    The gauge is set from the pool's own count rather than counted up and
    down, so that it cannot drift (a detached connection, say, is never
    checked in). The ``checkin`` event comes before the pool takes the
    connection back, hence the ``- 1``. Pools without a count (SQLite in
    memory) are not watched.
    """
    pool = engine.pool
    if not isinstance(pool, sa.pool.QueuePool):
        return
    checked_out, size, overflow = _pool_metrics()
    size.set(pool.size())
    # The pool says its overflow limit only as this attribute (-1: no limit).
    overflow.set(max(getattr(pool, "_max_overflow", 0), 0))
    sa.event.listen(engine, "checkout", lambda *_: checked_out.set(engine.pool.checkedout()))
    sa.event.listen(engine, "checkin", lambda *_: checked_out.set(engine.pool.checkedout() - 1))


# --- the outbox, read at scrape time -----------------------------------------------------


class OutboxCollector:
    """The outbox's backlog, the age of its oldest waiting event and its
    given-up events, read with one query at each scrape.

    :param connect: returns a new database connection (a context manager).
    """

    def __init__(self, connect: Callable[[], sa.Connection]):
        self.connect = connect

    def collect(self) -> Iterator[GaugeMetricFamily]:
        try:
            waiting, oldest, failed = self._read()
        except sa.exc.SQLAlchemyError as error:
            # The other metrics still answer; the alert on absent outbox metrics says it.
            log.warning(
                "metrics: the outbox could not be read: %s",
                " ".join(str(getattr(error, "orig", None) or error).split())[:300],
            )
            return
        age = 0.0
        if oldest is not None:
            created = oldest if oldest.tzinfo else oldest.replace(tzinfo=UTC)
            age = max((datetime.now(UTC) - created).total_seconds(), 0.0)
        yield GaugeMetricFamily(
            "events_outbox_backlog",
            "Events in the outbox waiting for delivery (due or backing off), not given up.",
            value=waiting,
        )
        yield GaugeMetricFamily(
            "events_outbox_oldest_age_seconds",
            "Age of the oldest event waiting for delivery (0 when none waits).",
            value=age,
        )
        yield GaugeMetricFamily(
            "events_outbox_failed",
            "Events given up after EVENTS_MAX_AGE (flask events failed lists them).",
            value=failed,
        )

    def _read(self) -> tuple[int, datetime | None, int]:
        from app.events import EventOutbox

        table = EventOutbox.__table__
        waiting = table.c.failed_at.is_(None)
        query = sa.select(
            sa.func.count().filter(waiting),
            sa.func.min(table.c.created_at).filter(waiting),
            sa.func.count().filter(table.c.failed_at.is_not(None)),
        )
        with self.connect() as conn, conn.begin():
            if conn.dialect.name == "postgresql":
                conn.execute(
                    sa.text(f"SET LOCAL statement_timeout = {SCRAPE_STATEMENT_TIMEOUT_MS}")
                )
            count, oldest, failed = conn.execute(query).one()
        return count or 0, oldest, failed or 0


class _ThisProcess:
    """The metrics of this process's default registry, for a process that is
    not in multiprocess mode."""

    def collect(self):
        return REGISTRY.collect()


def multiprocess_dir() -> str | None:
    return os.environ.get("PROMETHEUS_MULTIPROC_DIR") or None


def scrape_registry(connect: Callable[[], sa.Connection] | None) -> CollectorRegistry:
    """What a scrape answers: every process's metrics (multiprocess mode) or
    this process's, and the outbox through ``connect`` when given."""
    registry = CollectorRegistry()
    if multiprocess_dir():
        multiprocess.MultiProcessCollector(registry)
    else:
        registry.register(_ThisProcess())
    if connect is not None:
        registry.register(OutboxCollector(connect))
    return registry


def scrape_engine(database_url: str) -> sa.Engine:
    """An engine for scrapes outside the app (gunicorn's master): no pool, so
    that no connection is held between scrapes, and a short connect timeout."""
    url = sa.make_url(database_url)
    connect_args = {"connect_timeout": 3} if url.get_backend_name() == "postgresql" else {}
    return sa.create_engine(url, poolclass=NullPool, connect_args=connect_args)


def serve(port: int, host: str, database_url: str) -> None:
    """Answer scrapes on ``host:port`` from a thread of this process (gunicorn's
    master calls it). Raises OSError when the port cannot be had."""
    engine = scrape_engine(database_url)
    start_http_server(port, addr=host, registry=scrape_registry(engine.connect))


# --- GET /metrics --------------------------------------------------------------------------

blueprint = Blueprint("metrics", __name__)


@blueprint.get("/metrics")
def scrape():
    """The metrics in Prometheus' text format. With ``METRICS_TOKEN`` set, only
    for ``Authorization: Bearer <METRICS_TOKEN>`` (401 otherwise)."""
    token = current_app.config["METRICS_TOKEN"]
    if token is not None:
        scheme, _, given = request.headers.get("Authorization", "").strip().partition(" ")
        if scheme.lower() != "bearer" or not hmac.compare_digest(
            given.strip().encode(), token.encode()
        ):
            g.bearer_challenge = True
            raise Unauthorized("Send the metrics token: Authorization: Bearer <METRICS_TOKEN>.")
    registry = current_app.extensions["metrics_registry"]
    return Response(generate_latest(registry), content_type=CONTENT_TYPE_LATEST)


def init_app(app: Flask) -> None:
    """Count requests and watch the pool; serve ``GET /metrics`` unless in
    production without ``METRICS_TOKEN`` (then only ``METRICS_PORT`` serves them)."""
    from app.db import db

    app.after_request(_observe_request)
    with app.app_context():
        _watch_pool(db.engine)
    app.extensions["metrics_registry"] = scrape_registry(lambda: db.engine.connect())
    if app.config["METRICS_TOKEN"] is not None or app.config["APP_ENV"] != "production":
        app.register_blueprint(blueprint)
