"""Metrics under the real gunicorn with two workers, on PostgreSQL, as
production runs (docs/operations.md, "Metrics"): each worker writes its counts
to PROMETHEUS_MULTIPROC_DIR and a scrape adds them up, through either worker
on the service's port (with METRICS_TOKEN) or through the master on
METRICS_PORT, whose outbox gauges come from a query of its own."""

from __future__ import annotations

import os
import signal
import time
import urllib.error
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import pytest
import sqlalchemy as sa
from prometheus_client.multiprocess import MultiProcessCollector
from prometheus_client.parser import text_string_to_metric_families

from tests.conftest import _pg_url
from tests.gunicorn_server import (
    Client,
    Gunicorn,
    free_port,
    fresh_database,
    needs_postgresql,
    run_flask,
    running_gunicorn,
    secrets_env,
)

pytestmark = needs_postgresql

TOKEN = "gunicorn-metrics-token-0123456789abcdef"
HEALTHZ = {"method": "GET", "route": "/healthz", "status": "200"}


@dataclass(frozen=True)
class Served:
    gunicorn: Gunicorn
    metrics_port: int
    metrics_dir: Path
    database_url: str

    def scrape_service(self, token: str | None = TOKEN) -> tuple[int, str]:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        return get(f"{self.gunicorn.base_url}/metrics", headers)

    def scrape_master(self) -> tuple[int, str]:
        return get(f"http://127.0.0.1:{self.metrics_port}/metrics")


def get(url: str, headers: dict | None = None) -> tuple[int, str]:
    request = urllib.request.Request(url, headers=headers or {})
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as error:
        with error:
            return error.code, error.read().decode()


def samples(text: str) -> list:
    return [sample for family in text_string_to_metric_families(text) for sample in family.samples]


def value(text: str, name: str, **labels: str) -> float:
    found = [s.value for s in samples(text) if s.name == name and s.labels == labels]
    return found[0] if found else 0.0


def worker_pids(text: str) -> set[str]:
    """The workers that serve now: each has its own pool gauges."""
    return {s.labels["pid"] for s in samples(text) if s.name == "db_pool_size"}


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    """Production under gunicorn: two workers, METRICS_TOKEN, METRICS_PORT,
    events left in the outbox for the worker (none runs here)."""
    directory = tmp_path_factory.mktemp("metrics")
    metrics_dir = directory / "prometheus"
    metrics_dir.mkdir()
    metrics_port = free_port()
    with fresh_database("metrics") as database_url:
        env = {
            **secrets_env(directory),
            "DATABASE_URL": database_url,
            "HOST": "127.0.0.1",
            "PORT": str(free_port()),
            "WEB_CONCURRENCY": "2",
            "EVENTS_DELIVERY": "worker",
            # Only web workers, so that the pool gauges' pids are theirs
            # (tests/test_event_workers.py covers the event workers' metrics).
            "EVENTS_WORKERS": "0",
            "MAIL_SERVER": "127.0.0.1",
            "METRICS_TOKEN": TOKEN,
            "METRICS_PORT": str(metrics_port),
            "PROMETHEUS_MULTIPROC_DIR": str(metrics_dir),
        }
        migrated = run_flask(env, "db", "upgrade")
        assert migrated.returncode == 0, migrated.stderr
        with running_gunicorn(env, directory / "gunicorn") as server:
            yield Served(server, metrics_port, metrics_dir, database_url)


def test_counts_from_both_workers_add_up_in_one_scrape(served):
    # Given the count of /healthz so far
    _, text = served.scrape_service()
    before = value(text, "http_requests_total", **HEALTHZ)
    pids = worker_pids(text)
    assert len(pids) == 2, text

    # When requests come in on 4 connections at once, 60 at a time, until
    # both workers have served some (on a loaded machine one worker can take
    # a whole batch while the other waits for a core)
    def ask(_):
        return Client(served.gunicorn.base_url)("GET", "/healthz")[0]

    def counted_by(pid: str) -> float:
        path = served.metrics_dir / f"counter_{pid}.db"
        if not path.exists():  # a worker's file appears with its first count
            return 0.0
        return sum(
            s.value
            for family in MultiProcessCollector.merge([str(path)])
            for s in family.samples
            if s.name == "http_requests_total" and s.labels == HEALTHZ
        )

    sent = 0
    with ThreadPoolExecutor(4) as pool:
        for _ in range(10):
            assert set(pool.map(ask, range(60))) == {200}
            sent += 60
            per_worker = {pid: counted_by(pid) for pid in pids}
            if all(count > 0 for count in per_worker.values()):
                break

    # Then each worker counted some of them in its own file, and the scrape adds them up
    _, text = served.scrape_service()
    assert value(text, "http_requests_total", **HEALTHZ) == before + sent
    per_worker = {pid: counted_by(pid) for pid in pids}
    assert all(count > 0 for count in per_worker.values()), per_worker
    assert sum(per_worker.values()) == before + sent


def test_a_scrape_through_either_port_parses_as_prometheus_text(served):
    for status, text in (served.scrape_service(), served.scrape_master()):
        assert status == 200
        families = {family.name: family.type for family in text_string_to_metric_families(text)}
        assert families["http_requests"] == "counter"
        assert families["http_request_duration_seconds"] == "histogram"
        assert families["events_outbox_backlog"] == "gauge"


def test_the_service_port_refuses_a_scrape_without_the_token(served):
    status, body = served.scrape_service(token=None)

    assert status == 401
    assert "http_requests_total" not in body


def test_the_metrics_port_answers_without_a_token(served):
    status, text = served.scrape_master()

    assert status == 200
    assert len(worker_pids(text)) == 2


def test_the_masters_scrape_reads_the_outbox_of_the_database(served):
    # Given a sign-up, whose events wait in the outbox for the event worker
    client = Client(served.gunicorn.base_url)
    status, _, body = client(
        "POST",
        "/api/customers",
        {"email": "metrics@example.com", "password": "metrics-pass-1", "full_name": "M"},
    )
    assert status == 201, body
    engine = sa.create_engine(_pg_url(served.database_url))
    try:
        with engine.connect() as conn:
            waiting = conn.scalar(sa.text("SELECT count(*) FROM event_outbox"))
    finally:
        engine.dispose()
    assert waiting > 0

    # Then both scrapes say so
    for _, text in (served.scrape_master(), served.scrape_service()):
        assert value(text, "events_outbox_backlog") == waiting
        assert 0 <= value(text, "events_outbox_oldest_age_seconds") < 60
        assert value(text, "events_outbox_failed") == 0


def test_a_dead_workers_gauges_go_and_its_counts_stay(served):
    # Given the counts so far, and the two workers
    _, text = served.scrape_master()
    before = value(text, "http_requests_total", **HEALTHZ)
    pids = worker_pids(text)

    # When one worker dies and gunicorn replaces it
    dead = sorted(pids)[0]
    os.kill(int(dead), signal.SIGKILL)
    deadline = time.monotonic() + 30
    while True:
        _, text = served.scrape_master()
        now = worker_pids(text)
        if dead not in now and len(now) == 2:
            break
        assert time.monotonic() < deadline, text
        time.sleep(0.2)

    # Then its pool gauges are gone, its requests still count
    assert now - pids and dead not in now
    assert value(text, "http_requests_total", **HEALTHZ) == before
