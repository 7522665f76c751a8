"""Many instances: the layout of docs/operations.md, "Growing past one
machine", on real processes.

One stack for the module: a fresh PostgreSQL database of its own; two
gunicorn instances (two sync workers each) as the two servers of one nginx
upstream with the repository's site file; two ``flask events run`` workers;
the rate-limit counters in Redis. Every process has ``EVENTS_DELIVERY=worker``
(only the workers deliver), the ``file_recorder`` subscriber, and two webhook
endpoints whose receivers record what they get. Writes go through nginx while
one instance is stopped with SIGTERM and started again.
"""

from __future__ import annotations

import collections
import contextlib
import json
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path

import pytest
import sqlalchemy as sa

from tests.gunicorn_server import (
    Client,
    GunicornInstance,
    free_port,
    fresh_database,
    needs_postgresql,
    run_flask,
    secrets_env,
    spawn_flask,
    stop_process,
)
from tests.nginx import Nginx, require_nginx
from tests.redis_store import REDIS_URL, remove_keys, require_redis
from tests.webhook_receiver import Receiver

pytestmark = needs_postgresql

ADMIN_EMAIL = "admin@example.com"
ADMIN_PASSWORD = "many-instances-admin-1"
PASSWORD = "customer-password-1"
WRONG_PASSWORD = "not-the-password"
LOGIN_FAILURES = 4  # RATELIMIT_LOGIN_FAILURES: failed logins of an account from an address
LOCKED = {
    "error": {"status": 429, "message": "Too many failed logins for this account: try again later."}
}
# Each step of the restart waits at most this long.
PATIENCE = 30.0
# Seconds each writer waits between writes: enough writes to meet the stop
# and the restart, few enough for the workers to deliver soon after.
WRITE_PAUSE = 0.25


@dataclass
class Stack:
    instances: list[GunicornInstance]
    nginx: Nginx
    receivers: list[Receiver]
    recorded: Path  # the file_recorder subscriber's file
    workers: list
    database_url: str
    token: str  # an admin's access token

    @property
    def api(self) -> Client:
        """The service through nginx."""
        return Client(self.nginx.base_url)


def wait_for(condition, what: str, timeout: float = PATIENCE) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.1)
    pytest.fail(f"not within {timeout:.0f} s: {what}")


def all_at_once(calls) -> list:
    """Call each of ``calls`` in a thread of its own; their results, once all
    have returned (the first exception is raised)."""
    with ThreadPoolExecutor(len(calls)) as pool:
        return [future.result() for future in [pool.submit(call) for call in calls]]


def login(api: Client, path: str, email: str, password: str, forwarded_for: str | None = None):
    headers = {"X-Forwarded-For": forwarded_for} if forwarded_for else None
    return api("POST", path, {"email": email, "password": password}, headers=headers)


@pytest.fixture(scope="module")
def stack(tmp_path_factory):
    """Two gunicorn instances behind nginx, two event workers, PostgreSQL and Redis."""
    require_nginx()
    require_redis()
    directory = tmp_path_factory.mktemp("many-instances")
    recorded = directory / "recorded.jsonl"
    recorded.touch()
    prefix = f"test-many-instances-{uuid.uuid4().hex}"
    with contextlib.ExitStack() as cleanup:
        database_url = cleanup.enter_context(fresh_database("many_instances"))
        env = {
            **secrets_env(directory),
            "PYTHONPATH": str(Path(__file__).resolve().parent.parent),
            "DATABASE_URL": database_url,
            "HOST": "127.0.0.1",
            "WEB_CONCURRENCY": "2",
            "BCRYPT_ROUNDS": "4",
            "TRUSTED_PROXIES": "127.0.0.1",
            # Only the two workers deliver: a web instance holds no events,
            # and starts no worker of its own.
            "EVENTS_DELIVERY": "worker",
            "EVENTS_WORKERS": "0",
            "CUSTOMER_EMAIL_VERIFICATION": "off",
            "PLUGINS": "tests.plugins.file_recorder",
            "RECORDER_FILE": str(recorded),
            "WEBHOOK_ALLOW_PRIVATE": "true",
            "WEBHOOK_ALLOW_HTTP": "true",
            "RATELIMIT_STORAGE_URI": REDIS_URL,
            "RATELIMIT_KEY_PREFIX": prefix,
            "RATELIMIT_TOKENS": "1000/minute",
            "RATELIMIT_LOGIN_FAILURES": f"{LOGIN_FAILURES}/15minutes",
        }
        cleanup.callback(remove_keys, prefix)
        migrated = run_flask(env, "db", "upgrade")
        assert migrated.returncode == 0, migrated.stderr
        created = run_flask(
            env, "user", "create", "--email", ADMIN_EMAIL, "--password", ADMIN_PASSWORD
        )
        assert created.returncode == 0, created.stderr

        receivers = [Receiver().start(), Receiver().start()]
        for receiver in receivers:
            cleanup.callback(receiver.stop)
        instances = [
            GunicornInstance({**env, "PORT": str(free_port())}, directory / f"instance-{number}")
            for number in (1, 2)
        ]
        workers = [
            spawn_flask(
                env, directory / f"worker-{number}.log", "events", "run", "--interval", "0.1"
            )
            for number in (1, 2)
        ]
        # Stopped together at the end: each takes seconds to exit.
        cleanup.callback(
            all_at_once,
            [instance.stop for instance in instances]
            + [partial(stop_process, worker) for worker in workers],
        )
        all_at_once([instance.start for instance in instances])
        proxy = Nginx([instance.address for instance in instances], directory / "nginx")
        cleanup.callback(proxy.stop)
        proxy.start()

        status, _, body = login(
            Client(proxy.base_url), "/api/user/tokens", ADMIN_EMAIL, ADMIN_PASSWORD
        )
        assert status == 200, body
        token = body["data"]["accessToken"]
        for receiver in receivers:
            status, _, body = Client(proxy.base_url)(
                "POST", "/api/webhooks", {"url": receiver.url(), "events": ["*"]}, token=token
            )
            assert status == 201, body
        yield Stack(instances, proxy, receivers, recorded, workers, database_url, token)


# --- writes while an instance restarts -------------------------------------------------


@dataclass
class Writers:
    """``count`` clients, each creating customers through nginx one after
    another until the block ends; every answer is kept."""

    stack: Stack
    count: int = 2
    answers: list[tuple[str, int, dict]] = field(default_factory=list)
    _stop: threading.Event = field(default_factory=threading.Event)
    _threads: list[threading.Thread] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def _write(self, number: int) -> None:
        api = self.stack.api
        sequence = 0
        while not self._stop.is_set():
            sequence += 1
            email = f"writer-{number}-{sequence}-{uuid.uuid4().hex[:8]}@example.com"
            body = {"email": email, "password": PASSWORD, "full_name": "Many Instances"}
            try:
                status, _, answer = api("POST", "/api/customers", body, token=self.stack.token)
            except OSError as error:  # no answer at all: a lost request too
                status, answer = 0, {"error": repr(error)}
            with self._lock:
                self.answers.append((email, status, answer))
            self._stop.wait(WRITE_PAUSE)

    @property
    def done(self) -> int:
        with self._lock:
            return len(self.answers)

    def wait_for_more(self, count: int) -> None:
        target = self.done + count
        wait_for(lambda: self.done >= target, f"{count} more writes")

    def __enter__(self) -> Writers:
        for number in range(self.count):
            thread = threading.Thread(target=self._write, args=(number,), daemon=True)
            thread.start()
            self._threads.append(thread)
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join(timeout=60)


def scalars(database_url: str, sql: str, **params) -> list:
    """The first column of a query's rows, read straight from the database."""
    engine = sa.create_engine(database_url.replace("postgresql://", "postgresql+psycopg://", 1))
    try:
        with engine.connect() as conn:
            return list(conn.execute(sa.text(sql), params).scalars())
    finally:
        engine.dispose()


def stored_emails(database_url: str, emails: list[str]) -> collections.Counter:
    """How many customers the database holds with each of ``emails``."""
    return collections.Counter(
        scalars(
            database_url, "SELECT email FROM customer WHERE email = ANY(:emails)", emails=emails
        )
    )


def served_writes(log: Path) -> int:
    """The customer creations in a gunicorn access log."""
    lines = [json.loads(line) for line in log.read_text().splitlines() if line.startswith("{")]
    return sum(
        1 for line in lines if (line.get("method"), line.get("path")) == ("POST", "/api/customers")
    )


def test_no_write_is_lost_while_one_instance_is_stopped_and_started_again(stack):
    stopping = stack.instances[0]
    with Writers(stack) as writers:
        # Given clients creating customers through nginx, served by both instances
        writers.wait_for_more(6)
        first_run = stopping.server
        wait_for(lambda: served_writes(first_run.access_log) > 0, "writes served by instance 1")

        # When one instance is stopped gracefully while they write
        try:
            assert stopping.stop() == 0, first_run.error_log.read_text()
            writers.wait_for_more(6)
        finally:
            # and started again
            second_run = stopping.start()
        # Then nginx sends it writes again
        wait_for(lambda: served_writes(second_run.access_log) > 0, "writes served after restart")
        writers.wait_for_more(4)

    # And the other instance served writes too
    assert served_writes(stack.instances[1].server.access_log) > 0
    # and every write was answered 201 and stored exactly once
    failed = [(email, status, body) for email, status, body in writers.answers if status != 201]
    assert failed == []
    emails = [email for email, _, _ in writers.answers]
    assert stored_emails(stack.database_url, emails) == collections.Counter(emails)
    # while nginx found the stopped instance refusing connections, and passed
    # those requests on to the other one
    assert "Connection refused" in (stack.nginx.logs / "customer-service.error.log").read_text()


# --- events ----------------------------------------------------------------------------


def outbox_size(database_url: str) -> int:
    return scalars(database_url, "SELECT count(*) FROM event_outbox")[0]


def recorded_lines(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def test_every_event_is_delivered_once_to_each_subscriber_and_webhook_by_two_workers(stack):
    # Given customers created through nginx, on both instances
    created = []
    for number in range(40):
        status, _, body = stack.api(
            "POST",
            "/api/customers",
            {
                "email": f"event-{number}-{uuid.uuid4().hex[:8]}@example.com",
                "password": PASSWORD,
                "full_name": "Many Instances",
            },
            token=stack.token,
        )
        assert status == 201, body
        created.append(body["data"]["uuid"])

    # When the two workers have emptied the outbox
    wait_for(lambda: outbox_size(stack.database_url) == 0, "an empty outbox")

    # Then each webhook got each customer's registration once, and no event twice
    for receiver in stack.receivers:
        ids = collections.Counter(request.headers["x-webhook-id"] for request in receiver.requests)
        assert [event for event, count in ids.items() if count > 1] == []
        registered = collections.Counter(
            request.json["data"]["uuid"]
            for request in receiver.requests
            if request.json["name"] == "customer_registered"
        )
        assert {customer: registered[customer] for customer in created} == dict.fromkeys(created, 1)

    # and so did the recording subscriber,
    lines = recorded_lines(stack.recorded)
    events = collections.Counter(line["uuid"] for line in lines)
    assert [event for event, count in events.items() if count > 1] == []
    mine = collections.Counter(
        line["email"] for line in lines if line["email"].startswith("event-")
    )
    assert len(mine) == len(created) and set(mine.values()) == {1}
    # delivered by both workers, each taking the events the other had not
    assert {line["pid"] for line in lines} == {worker.pid for worker in stack.workers}


# --- rate limits -----------------------------------------------------------------------


def test_failed_logins_are_counted_across_both_instances(stack):
    # Given a customer
    email = f"limited-{uuid.uuid4().hex[:8]}@example.com"
    status, _, body = stack.api(
        "POST",
        "/api/customers",
        {"email": email, "password": PASSWORD, "full_name": "Many Instances"},
        token=stack.token,
    )
    assert status == 201, body
    address = "203.0.113.77"  # the client, as a trusted proxy forwards it
    instances = [Client(instance.server.base_url) for instance in stack.instances]

    # When its failed logins from one address alternate between the two instances
    statuses = [
        login(instances[n % 2], "/api/customer/tokens", email, WRONG_PASSWORD, address)[0]
        for n in range(LOGIN_FAILURES)
    ]

    # Then the limit is reached at its configured count, not at twice it
    assert statuses == [401] * LOGIN_FAILURES
    for api in instances:
        status, headers, body = login(api, "/api/customer/tokens", email, PASSWORD, address)
        assert (status, body) == (429, LOCKED)
        assert int(headers["Retry-After"]) > 0
