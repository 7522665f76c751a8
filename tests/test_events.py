"""docs/api.md, "Events" and docs/architecture.md, "Events": which requests emit which
events, the outbox written in the transaction of the change, delivery to the
``subscribe`` hook (inline, from a thread, by ``flask events run``), retries
with backoff, and several workers at once. The reset flow and its email are in
tests/password_reset/; here only the events it emits."""

from __future__ import annotations

import json
import logging
import re
import threading
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

import pluggy
import pytest
import sqlalchemy as sa

from app.db import as_utc, db, utcnow
from app.errors import Forbidden
from app.events import Event, EventOutbox, deliver, deliver_one

hookimpl = pluggy.HookimplMarker("evershop")

CUSTOMERS = "/api/customers"
CONTRACT_EVENTS = (
    "customer_registered",
    "account_created",
    "customer_updated",
    "customer_deleted",
    "address_created",
    "address_updated",
    "address_deleted",
    "reset_password_requested",
    "password_updated",
)
# The password plugin's own event: a reset was asked for (any email).
RESET_SUBMITTED = "reset_password_submitted"

EMAIL = "john.smith@example.com"
PASSWORD = "customer-pass-1"
NEW_PASSWORD = "brand-new-pass-2"
NEW_ADDRESS = {
    "full_name": "John Smith",
    "telephone": "+1 212 555 0100",
    "address_1": "123 Main St",
    "city": "New York",
    "province": "NY",
    "country": "US",
    "postcode": "10001",
}
RETRY_DELAY = 600
BROKEN = "CRM is down"
VETO = "Sign-ups are closed today."
CANONICAL_UUID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")


# --- the app of each test ---------------------------------------------------------


@pytest.fixture
def config() -> dict:
    """Extra config for this test's app; a test sets it with ``with_config``."""
    return {}


@pytest.fixture
def app(make_app, config):
    # Overrides conftest's ``app``, so ``client``, ``auth``, ``runner``,
    # ``events`` and ``register_plugin`` all use the configured app.
    return make_app(**config)


def with_config(**config):
    """Build the test's app with these settings (on each database)."""
    label = "-".join(
        f"{key.removeprefix('EVENTS_').lower()}={value}" for key, value in config.items()
    )
    return pytest.mark.parametrize("config", [config], ids=[label])


INLINE = with_config(EVENTS_DELIVERY="inline", EVENTS_RETRY_DELAY=RETRY_DELAY)
WORKER = with_config(EVENTS_DELIVERY="worker", EVENTS_RETRY_DELAY=RETRY_DELAY)
# No polling: the delivery thread only wakes for committed events, and never
# touches the outbox of a later test.
THREAD = with_config(EVENTS_DELIVERY="thread", EVENTS_POLL_INTERVAL=0)


# --- subscribers ------------------------------------------------------------------------


class Recorder:
    """Subscribes to ``names`` and records every event it receives, with the
    thread that delivered it; ``called`` is set on the first one."""

    def __init__(self, *names: str):
        self.names = names or CONTRACT_EVENTS
        self.received: list[Event] = []
        self.threads: list[threading.Thread] = []
        self.called = threading.Event()
        self._lock = threading.Lock()

    @hookimpl
    def subscribe(self):
        return {name: self.handle for name in self.names}

    def handle(self, event: Event) -> None:
        with self._lock:
            self.received.append(event)
            self.threads.append(threading.current_thread())
        self.called.set()

    def names_received(self) -> list[str]:
        return [event.name for event in self.received]

    def clear(self) -> None:
        with self._lock:
            self.received.clear()
            self.threads.clear()


class Failing(Recorder):
    """Records, then raises until ``broken`` is set to False."""

    def __init__(self, *names: str):
        super().__init__(*names)
        self.broken = True

    def handle(self, event: Event) -> None:
        super().handle(event)
        if self.broken:
            raise RuntimeError(BROKEN)


class Blocking(Recorder):
    """Records, then holds the delivery until ``release`` is set."""

    def __init__(self, *names: str):
        super().__init__(*names)
        self.release = threading.Event()

    def handle(self, event: Event) -> None:
        super().handle(event)
        assert self.release.wait(timeout=10), "the test never released the subscriber"


class Slow(Recorder):
    """Records, then sleeps a little, so that workers overlap."""

    def handle(self, event: Event) -> None:
        super().handle(event)
        time.sleep(0.005)


class VetoSignUp:
    @hookimpl
    def customer_before_create(self):
        raise Forbidden(VETO)


class VetoDelete:
    @hookimpl
    def customer_before_delete(self):
        raise Forbidden(VETO)


# --- helpers ------------------------------------------------------------------------------


def outbox(app) -> list[dict]:
    """Every outbox row, oldest first, as plain values."""
    table = EventOutbox.__table__
    with app.app_context():
        rows = [
            dict(row)
            for row in db.session.execute(
                sa.select(table).order_by(table.c.event_outbox_id)
            ).mappings()
        ]
        db.session.remove()
    for row in rows:
        row["uuid"] = str(row["uuid"])
        row["next_attempt_at"] = as_utc(row["next_attempt_at"])
        row["created_at"] = as_utc(row["created_at"])
    return rows


def make_due(app) -> None:
    """Every outbox row due an hour ago."""
    table = EventOutbox.__table__
    with app.app_context():
        with db.engine.begin() as conn:
            conn.execute(sa.update(table).values(next_attempt_at=utcnow() - timedelta(hours=1)))
        db.session.remove()


def postpone(app, delay: timedelta) -> None:
    table = EventOutbox.__table__
    with app.app_context():
        with db.engine.begin() as conn:
            conn.execute(sa.update(table).values(next_attempt_at=utcnow() + delay))
        db.session.remove()


def count(app, table: str) -> int:
    with app.app_context():
        found = db.session.scalar(sa.text(f"SELECT COUNT(*) FROM {table}"))
        db.session.remove()
    return found


def run_worker(runner):
    result = runner.invoke(args=["events", "run", "--once"])
    assert result.exception is None, result.output
    return result


def wait_until(condition, timeout: float = 5.0) -> bool:
    """Poll ``condition`` until it holds or ``timeout`` seconds passed."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.02)
    return True


def without(obj: dict, *keys: str) -> dict:
    return {key: value for key, value in obj.items() if key not in keys}


def sign_up(client, email=EMAIL) -> dict:
    body = {"email": email, "password": PASSWORD, "full_name": "John Smith"}
    response = client.post(CUSTOMERS, json=body)
    assert response.status_code == 201, response.json
    return response.json["data"]


def add_address(client, auth, customer: dict, **fields) -> dict:
    response = client.post(
        f"{CUSTOMERS}/{customer['uuid']}/addresses",
        json={**NEW_ADDRESS, **fields},
        headers=auth.admin_headers(),
    )
    assert response.status_code == 201, response.json
    data = response.json["data"]
    assert data.pop("insertId") == data["customer_address_id"]  # the answer's only
    return data


def read_customer(client, auth, customer: dict) -> dict:
    response = client.get(f"{CUSTOMERS}/{customer['uuid']}", headers=auth.admin_headers())
    assert response.status_code == 200, response.json
    return response.json["data"]


def request_reset_token(client, caplog, email=EMAIL) -> str:
    """Ask for a reset link and read the token from the logged email (no MAIL_SERVER)."""
    caplog.clear()
    with caplog.at_level(logging.INFO, logger="app.mail"):
        response = client.post(f"{CUSTOMERS}/reset-password", json={"email": email})
    assert response.status_code == 200, response.json
    assert response.json == {"data": {"success": True}}
    (token,) = re.findall(r"/reset-password\?token=([A-Za-z0-9_-]+)", caplog.text)
    return token


def only_event(recorder: Recorder, name: str) -> dict:
    """The payload of the one event the recorder received, which must be ``name``."""
    assert recorder.names_received() == [name]
    payload = recorder.received[0].payload
    assert "password" not in payload
    return payload


# --- each event of docs/api.md, "Events", from a real request ------------------------------------


@INLINE
def test_admin_create_emits_customer_registered(auth, register_plugin):
    recorder = register_plugin(Recorder(), name="recorder")
    auth.admin_headers()

    customer = auth.create_customer()

    assert only_event(recorder, "customer_registered") == without(customer, "links")


@INLINE
def test_sign_up_emits_customer_registered(client, register_plugin):
    recorder = register_plugin(Recorder(), name="recorder")

    customer = sign_up(client)

    assert customer.pop("insertId") == customer["customer_id"]  # the answer's only
    assert only_event(recorder, "customer_registered") == without(customer, "links")


@INLINE
def test_create_of_an_inactive_customer_emits_account_created(auth, register_plugin):
    recorder = register_plugin(Recorder(), name="recorder")
    auth.admin_headers()

    customer = auth.create_customer(status=0)

    assert customer["status"] == 0
    assert only_event(recorder, "account_created") == without(customer, "links")


@INLINE
def test_customer_update_emits_customer_updated(client, auth, register_plugin):
    customer = auth.create_customer()
    recorder = register_plugin(Recorder(), name="recorder")

    response = client.patch(
        f"{CUSTOMERS}/{customer['uuid']}",
        json={"full_name": "Jane Smith", "password": NEW_PASSWORD},
        headers=auth.admin_headers(),
    )

    assert response.status_code == 200, response.json
    assert response.json["data"]["full_name"] == "Jane Smith"
    assert only_event(recorder, "customer_updated") == without(response.json["data"], "links")


@INLINE
def test_customer_delete_emits_customer_deleted(client, auth, register_plugin):
    customer = auth.create_customer()
    recorder = register_plugin(Recorder(), name="recorder")

    response = client.delete(f"{CUSTOMERS}/{customer['uuid']}", headers=auth.admin_headers())

    assert response.status_code == 200, response.json
    assert response.json["data"] == without(customer, "links")
    assert only_event(recorder, "customer_deleted") == response.json["data"]


@INLINE
def test_address_create_emits_address_created(client, auth, register_plugin):
    customer = auth.create_customer()
    recorder = register_plugin(Recorder(), name="recorder")

    address = add_address(client, auth, customer)

    assert only_event(recorder, "address_created") == address


@INLINE
def test_address_update_emits_address_updated(client, auth, register_plugin):
    customer = auth.create_customer()
    address = add_address(client, auth, customer)
    recorder = register_plugin(Recorder(), name="recorder")

    response = client.patch(
        f"{CUSTOMERS}/{customer['uuid']}/addresses/{address['uuid']}",
        json={"city": "Boston"},
        headers=auth.admin_headers(),
    )

    assert response.status_code == 200, response.json
    assert response.json["data"]["city"] == "Boston"
    shown = dict(response.json["data"])
    assert shown.pop("updatedId") == shown["customer_address_id"]  # the answer's only
    assert only_event(recorder, "address_updated") == shown


@INLINE
def test_address_delete_emits_address_deleted(client, auth, register_plugin):
    customer = auth.create_customer()
    address = add_address(client, auth, customer)
    recorder = register_plugin(Recorder(), name="recorder")

    response = client.delete(
        f"{CUSTOMERS}/{customer['uuid']}/addresses/{address['uuid']}",
        headers=auth.admin_headers(),
    )

    assert response.status_code == 200, response.json
    assert response.json["data"] == address
    assert only_event(recorder, "address_deleted") == address


@INLINE
def test_reset_request_emits_reset_password_requested(client, auth, register_plugin, caplog):
    customer = auth.create_customer()
    recorder = register_plugin(Recorder(), name="recorder")

    request_reset_token(client, caplog)

    assert only_event(recorder, "reset_password_requested") == without(customer, "links")


@INLINE
def test_reset_request_for_an_unknown_email_emits_no_contract_event(client, auth, register_plugin):
    auth.create_customer()
    recorder = register_plugin(Recorder(), name="recorder")

    response = client.post(f"{CUSTOMERS}/reset-password", json={"email": "nobody@example.com"})

    assert response.status_code == 200, response.json
    assert response.json == {"data": {"success": True}}
    assert recorder.received == []


@INLINE
def test_password_reset_emits_customer_updated_and_password_updated(
    client, auth, register_plugin, caplog
):
    customer = auth.create_customer()
    token = request_reset_token(client, caplog)
    recorder = register_plugin(Recorder(), name="recorder")

    response = client.post(f"{CUSTOMERS}/password", json={"token": token, "password": NEW_PASSWORD})

    assert response.status_code == 200, response.json
    assert response.json == {"data": {"success": True}}
    # The password changes through the customer service: customer_updated too.
    shown = without(read_customer(client, auth, customer), "addresses")
    assert recorder.names_received() == ["customer_updated", "password_updated"]
    assert [event.payload for event in recorder.received] == [shown, shown]


@INLINE
def test_no_payload_carries_a_password_hash(client, auth, register_plugin, caplog, app):
    # Given a subscriber of every event, the contract's and the reset plugin's own
    recorder = register_plugin(Recorder(*CONTRACT_EVENTS, RESET_SUBMITTED), name="recorder")
    headers = auth.admin_headers()

    # When every kind of write runs, password changes included
    signed_up = sign_up(client, email="jane.doe@example.com")
    customer = auth.create_customer()
    auth.create_customer(email="inactive@example.com", status=0)
    address = add_address(client, auth, customer)
    one_address = f"{CUSTOMERS}/{customer['uuid']}/addresses/{address['uuid']}"
    token = request_reset_token(client, caplog)
    responses = [
        client.patch(
            f"{CUSTOMERS}/{customer['uuid']}", json={"password": "another-pass-3"}, headers=headers
        ),
        client.patch(one_address, json={"city": "Boston"}, headers=headers),
        client.delete(one_address, headers=headers),
        client.post(f"{CUSTOMERS}/password", json={"token": token, "password": NEW_PASSWORD}),
        client.delete(f"{CUSTOMERS}/{signed_up['uuid']}", headers=headers),
    ]
    assert [response.status_code for response in responses] == [200] * 5

    # Then every event was delivered, and none carries a hash
    assert sorted(set(recorder.names_received())) == sorted({*CONTRACT_EVENTS, RESET_SUBMITTED})
    with app.app_context():
        hashes = db.session.scalars(sa.text("SELECT password FROM customer")).all()
        db.session.remove()
    assert hashes and all(value.startswith("$2b$") for value in hashes)
    for event in recorder.received:
        text = json.dumps(event.payload)
        assert "$2b$" not in text, event.name
        assert not any(value in text for value in hashes), event.name
        assert "password" not in event.payload, event.name


# --- the outbox and the transaction -----------------------------------------------------


@INLINE
def test_vetoed_create_leaves_no_event(client, app, events, register_plugin):
    recorder = register_plugin(Recorder(), name="recorder")
    register_plugin(VetoSignUp(), name="veto")

    response = client.post(
        CUSTOMERS, json={"email": EMAIL, "password": PASSWORD, "full_name": "John Smith"}
    )

    assert response.status_code == 403, response.json
    assert response.json == {"error": {"status": 403, "message": VETO}}
    assert count(app, "customer") == 0
    assert events() == []
    assert recorder.received == []


@INLINE
def test_vetoed_delete_leaves_no_event(client, app, auth, events, register_plugin):
    customer = auth.create_customer()
    recorder = register_plugin(Recorder(), name="recorder")
    register_plugin(VetoDelete(), name="veto")

    response = client.delete(f"{CUSTOMERS}/{customer['uuid']}", headers=auth.admin_headers())

    assert response.status_code == 403, response.json
    assert response.json == {"error": {"status": 403, "message": VETO}}
    assert count(app, "customer") == 1
    assert events() == []
    assert recorder.received == []


@WORKER
def test_worker_mode_keeps_events_in_the_outbox_until_the_worker_runs(
    client, app, auth, register_plugin
):
    # Given a subscriber and three writes
    recorder = register_plugin(Recorder(), name="recorder")
    customer = auth.create_customer()
    add_address(client, auth, customer)
    response = client.patch(
        f"{CUSTOMERS}/{customer['uuid']}", json={"full_name": "Jane"}, headers=auth.admin_headers()
    )
    assert response.status_code == 200, response.json

    # Then nothing was delivered yet: the events wait in the outbox
    assert recorder.received == []
    waiting = outbox(app)
    assert [row["name"] for row in waiting] == [
        "customer_registered",
        "address_created",
        "customer_updated",
    ]
    assert all(row["attempts"] == 0 for row in waiting)


@WORKER
def test_worker_delivers_each_event_once_in_order_and_empties_the_outbox(
    client, app, auth, events, register_plugin, runner
):
    recorder = register_plugin(Recorder(), name="recorder")
    customer = auth.create_customer()
    add_address(client, auth, customer)
    client.patch(
        f"{CUSTOMERS}/{customer['uuid']}", json={"full_name": "Jane"}, headers=auth.admin_headers()
    )
    waiting = outbox(app)

    result = run_worker(runner)

    assert result.exit_code == 0
    assert result.output == "delivered 3, failed 0\n"
    assert [(event.name, event.uuid) for event in recorder.received] == [
        (row["name"], row["uuid"]) for row in waiting
    ]
    assert [event.payload for event in recorder.received] == [row["payload"] for row in waiting]
    assert events() == []


@WORKER
def test_event_without_subscribers_is_removed_once_delivered(app, auth, events, runner):
    auth.create_customer()
    assert [name for name, _ in events()] == ["customer_registered"]

    result = run_worker(runner)

    assert result.exit_code == 0
    assert result.output == "delivered 1, failed 0\n"
    assert events() == []


# --- inline and thread delivery --------------------------------------------------------


@INLINE
def test_inline_delivery_calls_the_subscriber_before_the_response(auth, register_plugin):
    recorder = register_plugin(Recorder(), name="recorder")
    auth.admin_headers()
    before = utcnow()

    customer = auth.create_customer()

    after = utcnow()
    assert recorder.threads == [threading.current_thread()]
    (event,) = recorder.received
    assert isinstance(event, Event)
    assert event.name == "customer_registered"
    assert event.payload == without(customer, "links")
    assert CANONICAL_UUID.match(event.uuid)
    assert event.uuid != customer["uuid"]
    assert event.created_at.tzinfo is not None
    assert before <= event.created_at <= after
    assert event.attempt == 1


@INLINE
def test_inline_delivery_deletes_the_event(auth, events, register_plugin):
    recorder = register_plugin(Recorder(), name="recorder")

    auth.create_customer()

    assert recorder.names_received() == ["customer_registered"]
    assert events() == []


@THREAD
def test_thread_delivery_calls_the_subscriber_after_the_response(auth, register_plugin):
    recorder = register_plugin(Recorder(), name="recorder")

    customer = auth.create_customer()

    assert recorder.called.wait(timeout=5), "the event was not delivered"
    (thread,) = recorder.threads
    assert thread is not threading.current_thread()
    assert thread.name == "events"
    (event,) = recorder.received
    assert event.name == "customer_registered"
    assert event.payload == without(customer, "links")
    assert event.attempt == 1


@THREAD
def test_thread_delivery_deletes_the_event(auth, events, register_plugin):
    recorder = register_plugin(Recorder(), name="recorder")

    auth.create_customer()

    assert recorder.called.wait(timeout=5), "the event was not delivered"
    assert wait_until(lambda: events() == []), events()
    assert recorder.names_received() == ["customer_registered"]


# --- failing subscribers and retries ---------------------------------------------------------


@INLINE
def test_failing_subscriber_does_not_fail_the_request(client, app, auth, register_plugin):
    failing = register_plugin(Failing(), name="crm")
    headers = auth.admin_headers()

    response = client.post(
        CUSTOMERS,
        json={"email": EMAIL, "password": PASSWORD, "full_name": "John Smith"},
        headers=headers,
    )

    assert response.status_code == 201, response.json
    assert response.json["data"]["email"] == EMAIL
    assert failing.names_received() == ["customer_registered"]
    assert count(app, "customer") == 1


@INLINE
def test_failed_event_stays_with_its_attempt_error_and_next_attempt(app, auth, register_plugin):
    register_plugin(Failing(), name="crm")
    auth.admin_headers()
    before = utcnow()

    auth.create_customer()

    after = utcnow()
    (row,) = outbox(app)
    assert row["name"] == "customer_registered"
    assert row["attempts"] == 1
    assert row["last_error"] == f"crm: RuntimeError: {BROKEN}"
    delay = timedelta(seconds=RETRY_DELAY)
    assert before + delay <= row["next_attempt_at"] <= after + delay


class LosingTheDatabase(Recorder):
    """Records, then fails as a subscriber whose connection was cut does."""

    def handle(self, event: Event) -> None:
        super().handle(event)
        raise sa.exc.OperationalError("SELECT 1", {}, Exception("server closed the connection"))


@INLINE
def test_subscriber_that_loses_the_database_is_retried_with_one_line_and_no_traceback(
    app, auth, register_plugin, caplog
):
    register_plugin(LosingTheDatabase(), name="crm")
    auth.admin_headers()

    with caplog.at_level(logging.WARNING, logger="app.events"):
        auth.create_customer()

    (row,) = outbox(app)
    assert row["attempts"] == 1
    assert row["last_error"].startswith("crm: OperationalError")
    (record,) = [r for r in caplog.records if r.name == "app.events"]
    assert record.levelno == logging.WARNING
    assert "subscriber crm lost the database on event customer_registered" in record.message
    assert record.exc_info is None


@INLINE
def test_subscriber_that_succeeded_is_not_called_again_on_retry(
    app, auth, events, register_plugin, runner
):
    # Given two subscribers of one event, one failing
    good = register_plugin(Recorder(), name="audit")
    failing = register_plugin(Failing(), name="crm")
    auth.create_customer()
    (row,) = outbox(app)
    # (The webhook plugin subscribes to every event, to fan it out to endpoints.)
    assert row["delivered_to"] == ["audit", "webhook"]

    # When the event is retried, and fails again
    make_due(app)
    result = run_worker(runner)

    # Then only the failing subscriber was called again
    assert result.output == "delivered 0, failed 1\n"
    assert good.names_received() == ["customer_registered"]
    assert [event.attempt for event in failing.received] == [1, 2]
    (row,) = outbox(app)
    assert row["attempts"] == 2
    assert row["delivered_to"] == ["audit", "webhook"]


@INLINE
def test_failing_event_does_not_block_later_events(client, app, auth, register_plugin, runner):
    # Given an event that failed and waits for its retry
    failing = register_plugin(Failing("customer_registered"), name="crm")
    recorder = register_plugin(Recorder("customer_updated"), name="audit")
    customer = auth.create_customer()

    # When a later event is emitted
    response = client.patch(
        f"{CUSTOMERS}/{customer['uuid']}", json={"full_name": "Jane"}, headers=auth.admin_headers()
    )

    # Then it is delivered, while the failed one still waits
    assert response.status_code == 200, response.json
    assert recorder.names_received() == ["customer_updated"]
    assert [row["name"] for row in outbox(app)] == ["customer_registered"]
    assert failing.names_received() == ["customer_registered"]


@with_config(EVENTS_DELIVERY="inline", EVENTS_RETRY_DELAY=0)
def test_failed_event_is_delivered_once_the_subscriber_is_fixed(
    app, auth, events, register_plugin, runner
):
    # Given an event whose subscriber failed, due again at once
    good = register_plugin(Recorder(), name="audit")
    failing = register_plugin(Failing(), name="crm")
    customer = auth.create_customer()
    assert [row["attempts"] for row in outbox(app)] == [1]

    # When the subscriber is fixed and the worker runs
    failing.broken = False
    result = run_worker(runner)

    # Then the event reached it, on its second attempt, and is gone
    assert result.exit_code == 0
    assert result.output == "delivered 1, failed 0\n"
    assert [event.attempt for event in failing.received] == [1, 2]
    assert [event.payload for event in failing.received] == [without(customer, "links")] * 2
    assert len({event.uuid for event in failing.received}) == 1
    assert good.names_received() == ["customer_registered"]
    assert events() == []


def delays_of_failed_attempts(app, runner, attempts: int) -> list[tuple]:
    """Retry the one outbox event ``attempts`` times; for each attempt, the
    bounds (earliest, latest) of next_attempt_at minus the time of delivery."""
    seen = []
    for attempt in range(1, attempts + 1):
        make_due(app)
        before = utcnow()
        result = run_worker(runner)
        after = utcnow()
        assert result.output == "delivered 0, failed 1\n"
        (row,) = outbox(app)
        assert row["attempts"] == attempt
        seen.append((row["next_attempt_at"] - after, row["next_attempt_at"] - before))
    return seen


def assert_delays(seen: list[tuple], seconds: list[int]) -> None:
    for (shortest, longest), expected in zip(seen, seconds, strict=True):
        assert shortest <= timedelta(seconds=expected) <= longest, (seen, seconds)


@with_config(EVENTS_DELIVERY="worker", EVENTS_RETRY_DELAY=60, EVENTS_RETRY_MAX_DELAY=3600)
def test_retry_delay_doubles_with_each_attempt(app, auth, register_plugin, runner):
    register_plugin(Failing(), name="crm")
    auth.create_customer()

    seen = delays_of_failed_attempts(app, runner, 3)

    assert_delays(seen, [60, 120, 240])


@with_config(EVENTS_DELIVERY="worker", EVENTS_RETRY_DELAY=60, EVENTS_RETRY_MAX_DELAY=100)
def test_retry_delay_stops_at_the_maximum(app, auth, register_plugin, runner):
    register_plugin(Failing(), name="crm")
    auth.create_customer()

    seen = delays_of_failed_attempts(app, runner, 3)

    assert_delays(seen, [60, 100, 100])


@WORKER
def test_event_not_due_is_not_delivered_by_the_worker(app, auth, register_plugin, runner):
    recorder = register_plugin(Recorder(), name="recorder")
    auth.create_customer()
    postpone(app, timedelta(minutes=5))

    result = run_worker(runner)

    assert result.exit_code == 0
    assert result.output == ""
    assert recorder.received == []
    (row,) = outbox(app)
    assert row["attempts"] == 0
    with app.app_context():
        assert deliver_one(row["event_outbox_id"]) is None
        db.session.remove()
    assert recorder.received == []


# --- flask events run ----------------------------------------------------------------------------


@WORKER
def test_events_run_once_prints_the_counts(client, app, auth, register_plugin, runner):
    register_plugin(Failing("account_created"), name="crm")
    auth.create_customer()
    auth.create_customer(email="inactive@example.com", status=0)

    result = run_worker(runner)

    assert result.exit_code == 0
    assert result.output == "delivered 1, failed 1\n"
    assert [row["name"] for row in outbox(app)] == ["account_created"]


@WORKER
def test_events_run_once_with_nothing_due_prints_nothing(events, runner):
    assert events() == []

    result = run_worker(runner)

    assert result.exit_code == 0
    assert result.output == ""


# --- several workers (PostgreSQL) ----------------------------------------------------------


@WORKER
def test_several_workers_deliver_every_event_exactly_once(backend, app, auth, register_plugin):
    # Given 40 events waiting in the outbox
    recorder = register_plugin(Slow(), name="recorder")
    for number in range(40):
        auth.create_customer(email=f"customer{number}@example.com")
    expected = [row["uuid"] for row in outbox(app)]
    assert len(expected) == 40

    # When four workers deliver at once until the outbox is empty
    def work() -> int:
        rounds = 0
        with app.app_context():
            deadline = time.monotonic() + 30
            while time.monotonic() < deadline:
                rounds += 1
                if not deliver().ids:
                    break
            db.session.remove()
        return rounds

    with ThreadPoolExecutor(max_workers=4) as pool:
        futures = [pool.submit(work) for _ in range(4)]
        for future in futures:
            future.result()

    # Then each event was handled exactly once
    assert Counter(event.uuid for event in recorder.received) == Counter(expected)
    assert outbox(app) == []


@WORKER
def test_event_held_by_one_worker_is_skipped_by_another(backend, app, auth, register_plugin):
    # Given a worker in the middle of delivering an event
    blocking = register_plugin(Blocking(), name="slow-crm")
    auth.create_customer()
    (row,) = outbox(app)
    event_id = row["event_outbox_id"]

    def hold():
        with app.app_context():
            try:
                return deliver_one(event_id)
            finally:
                db.session.remove()

    with ThreadPoolExecutor(max_workers=1) as pool:
        first = pool.submit(hold)
        try:
            assert blocking.called.wait(timeout=5), "the first worker never took the event"

            # When another worker tries the same event
            with app.app_context():
                second = deliver_one(event_id)
                db.session.remove()

            # Then it skips it, and the subscriber was called only by the first
            assert second is None
            assert len(blocking.received) == 1
        finally:
            blocking.release.set()
        assert first.result(timeout=10) is True

    assert len(blocking.received) == 1
    assert outbox(app) == []
