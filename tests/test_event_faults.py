"""The email and event path under faults (docs/operations.md, "When things
fail"): a mail server down for longer than the whole retry schedule, a mail
server that accepts and never answers, a link used the moment it arrives,
events given up after EVENTS_MAX_AGE and retried by an operator, and the event
worker outliving its database connections."""

from __future__ import annotations

import json
import logging
import os
import re
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
import sqlalchemy as sa

from app.config import SECRET_SETTINGS, ConfigError, load_config
from app.db import db
from app.events import EventOutbox
from plugins.password.models import ResetPasswordToken
from tests.conftest import Auth
from tests.smtp import (  # noqa: F401 (fixtures)
    silent_smtp_server,
    smtp_server,
    smtp_server_not_started,
)

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent

EMAIL = "john.smith@example.com"
PASSWORD = "customer-pass-1"
NEW_PASSWORD = "brand-new-pass-2"
STOREFRONT = "https://shop.example"
SUBMITTED = "reset_password_submitted"
TOKEN_IN_LINK = re.escape(STOREFRONT) + r"/reset-password\?token=([^\s\"'<>&]+)"


# --- helpers --------------------------------------------------------------------------


def request_reset(client, email=EMAIL):
    response = client.post("/api/customers/reset-password", json={"email": email})
    assert response.status_code == 200, response.json
    return response


def set_password(client, token, password=NEW_PASSWORD):
    return client.post("/api/customers/password", json={"token": token, "password": password})


def run_worker(app) -> str:
    result = app.test_cli_runner().invoke(args=["events", "run", "--once"])
    assert result.exit_code == 0, (result.output, result.exception)
    return result.output


def outbox(app) -> list[dict]:
    table = EventOutbox.__table__
    with app.app_context():
        rows = db.session.execute(sa.select(table).order_by(table.c.event_outbox_id)).mappings()
        found = [dict(row) for row in rows]
        db.session.remove()
    return found


def token_count(app) -> int:
    with app.app_context():
        found = db.session.scalar(sa.select(sa.func.count()).select_from(ResetPasswordToken))
        db.session.remove()
    return found


def token_in(message) -> str:
    (token,) = re.findall(TOKEN_IN_LINK, message.part("plain"))
    return token


def with_customer(app):
    """A customer, and its sign-up event delivered (no subscriber has it)."""
    client = app.test_client()
    Auth(app, client).create_customer()
    run_worker(app)
    return client


def mail_app(make_app, server, **config):
    return make_app(
        EVENTS_DELIVERY="worker",
        EVENTS_RETRY_DELAY=0,
        MAIL_SERVER=server.host,
        MAIL_PORT=server.port,
        STOREFRONT_URL=STOREFRONT,
        **config,
    )


# --- a mail server down for longer than the retry schedule ------------------------------


def test_reset_email_arrives_after_an_outage_longer_than_the_reset_email_cap(
    make_app,
    smtp_server_not_started,  # noqa: F811
):
    # Given the per-account cap of 3 reset emails an hour, and no mail server
    server = smtp_server_not_started
    app = mail_app(
        make_app,
        server,
        RATELIMIT_ENABLED=True,
        RATELIMIT_RESET_EMAILS="3/hour",
        EVENTS_RETRY_MAX_DELAY=0,
    )
    client = with_customer(app)
    request_reset(client)

    # When delivery fails ten times, far beyond the cap
    for _ in range(10):
        assert run_worker(app) == "delivered 0, failed 1\n"

    # Then the event still waits, with no token left behind
    (waiting,) = [row for row in outbox(app) if row["name"] == SUBMITTED]
    assert waiting["attempts"] == 10
    assert waiting["failed_at"] is None
    assert token_count(app) == 0

    # When the server comes back
    server.start()
    assert run_worker(app) == "delivered 1, failed 0\n"

    # Then the email arrives and its link works
    (message,) = server.messages
    assert message.rcpt_tos == [EMAIL]
    assert [row["name"] for row in outbox(app)] == ["reset_password_requested"]
    assert set_password(client, token_in(message)).status_code == 200


def test_reset_email_cap_counts_only_emails_the_server_took(make_app, smtp_server):  # noqa: F811
    # Given a cap of 2 emails an hour
    app = mail_app(make_app, smtp_server, RATELIMIT_ENABLED=True, RATELIMIT_RESET_EMAILS="2/hour")
    client = with_customer(app)

    # When three resets are asked for and delivered
    for _ in range(3):
        request_reset(client)
        run_worker(app)

    # Then two emails went out and the third request was answered alike, silently
    assert len(smtp_server.messages) == 2
    assert token_count(app) == 2
    assert SUBMITTED not in [row["name"] for row in outbox(app)]


# --- given up after EVENTS_MAX_AGE, retried by an operator --------------------------------


@pytest.fixture
def given_up(make_app, smtp_server_not_started, caplog):  # noqa: F811
    """An app whose reset email failed past EVENTS_MAX_AGE (0 s): given up."""
    app = mail_app(make_app, smtp_server_not_started, EVENTS_MAX_AGE=0)
    client = with_customer(app)
    request_reset(client)
    with caplog.at_level(logging.WARNING, logger="app.events"):
        assert run_worker(app) == "delivered 0, failed 1\n"
    return app


def test_event_failing_past_its_maximum_age_is_given_up_with_a_warning(given_up, caplog):
    (row,) = outbox(given_up)
    assert row["failed_at"] is not None
    assert row["attempts"] == 1
    logged = caplog.get_records("setup")
    warnings = [r for r in logged if r.name == "app.events" and r.levelname == "WARNING"]
    assert len(warnings) == 1
    message = warnings[0].getMessage()
    assert f"event {SUBMITTED} {row['uuid']}" in message
    assert f"flask events retry {row['event_outbox_id']}" in message


def test_event_given_up_is_not_delivered_again_by_the_worker(given_up):
    assert run_worker(given_up) == ""
    (row,) = outbox(given_up)
    assert row["attempts"] == 1


def test_flask_events_failed_lists_the_events_given_up(given_up):
    (row,) = outbox(given_up)

    result = given_up.test_cli_runner().invoke(args=["events", "failed"])

    assert result.exit_code == 0, result.output
    (line,) = result.output.splitlines()
    fields = line.split("\t")
    assert fields[:3] == [str(row["event_outbox_id"]), SUBMITTED, str(row["uuid"])]
    assert fields[5] == "attempts 1"


def test_flask_events_failed_says_so_when_there_are_none(app):
    result = app.test_cli_runner().invoke(args=["events", "failed"])

    assert result.exit_code == 0
    assert result.output == "no failed events\n"


def test_flask_events_retry_sends_a_failed_event_again(given_up, smtp_server_not_started):  # noqa: F811
    (row,) = outbox(given_up)
    runner = given_up.test_cli_runner()

    result = runner.invoke(args=["events", "retry", str(row["event_outbox_id"])])

    assert result.exit_code == 0, result.output
    assert result.output == "1 event will be sent again\n"
    given_up.config["EVENTS_MAX_AGE"] = 3600
    smtp_server_not_started.start()
    assert run_worker(given_up) == "delivered 1, failed 0\n"
    assert len(smtp_server_not_started.messages) == 1


def test_flask_events_retry_all_resets_every_failed_event(given_up):
    result = given_up.test_cli_runner().invoke(args=["events", "retry", "--all"])

    assert result.exit_code == 0, result.output
    assert result.output == "1 event will be sent again\n"
    (row,) = outbox(given_up)
    assert row["failed_at"] is None
    assert row["attempts"] == 0


def test_flask_events_retry_needs_ids_or_all(given_up):
    result = given_up.test_cli_runner().invoke(args=["events", "retry"])

    assert result.exit_code == 2
    assert "Give the ids of failed events, or --all." in result.output
    assert outbox(given_up)[0]["failed_at"] is not None


# --- a mail server that accepts and never answers -------------------------------------------


def idle_in_transaction(app) -> int:
    """Sessions of the test database left inside a transaction."""
    engine = sa.create_engine(app.config["SQLALCHEMY_DATABASE_URI"])
    try:
        with engine.connect() as conn:
            return conn.scalar(
                sa.text(
                    "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database()"
                    " AND state LIKE 'idle in transaction%' AND pid <> pg_backend_pid()"
                )
            )
    finally:
        engine.dispose()


def test_hung_mail_server_costs_the_worker_no_more_than_mail_timeout(
    make_app,
    silent_smtp_server,  # noqa: F811
):
    # Given a mail server that accepts connections and never speaks
    app = mail_app(make_app, silent_smtp_server, MAIL_TIMEOUT=1)
    client = with_customer(app)
    request_reset(client)

    # When the worker delivers the reset email
    started = time.monotonic()
    output = run_worker(app)

    # Then it gave up on the server after its timeout, and the event waits
    assert silent_smtp_server.accepted.is_set()
    assert output == "delivered 0, failed 1\n"
    assert time.monotonic() - started < 10
    (row,) = outbox(app)
    assert row["attempts"] == 1
    assert "timed out" in row["last_error"]
    assert token_count(app) == 0


def test_hung_mail_server_leaves_no_transaction_open(backend, make_app, silent_smtp_server):  # noqa: F811
    if backend != "postgresql":
        pytest.skip("pg_stat_activity shows open transactions on PostgreSQL")
    # Given a mail server that hangs for the whole MAIL_TIMEOUT
    app = mail_app(make_app, silent_smtp_server, MAIL_TIMEOUT=3)
    client = with_customer(app)
    request_reset(client)

    # When the worker is waiting for the server
    worker = threading.Thread(target=run_worker, args=(app,))
    worker.start()
    try:
        assert silent_smtp_server.accepted.wait(timeout=10), "the worker never connected"
        time.sleep(0.5)

        # Then no database session is left inside a transaction meanwhile
        assert idle_in_transaction(app) == 0
    finally:
        worker.join(timeout=20)
    assert not worker.is_alive()


# --- the link works the moment it arrives ---------------------------------------------------


def test_reset_link_works_while_the_email_is_still_being_handed_over(make_app, smtp_server):  # noqa: F811
    # Given a mail server that, before it even says "250 OK", follows the link
    answers = []
    app = mail_app(make_app, smtp_server)
    client = app.test_client()
    smtp_server._collector.on_message = lambda message: answers.append(
        set_password(app.test_client(), token_in(message)).status_code
    )
    Auth(app, client).create_customer()
    request_reset(client)

    # When the email is sent
    run_worker(app)

    # Then the link worked at once
    assert len(smtp_server.messages) == 1
    assert answers == [200]


# --- the event worker outlives its database connections ------------------------------------


needs_postgresql = pytest.mark.skipif(
    not os.environ.get("TEST_DATABASE_URL"), reason="terminates PostgreSQL backends"
)


@pytest.fixture
def worker_process(app, backend, tmp_path):
    """``flask events run`` as a process of its own on the test's database,
    with a subscriber recording customer events in a file."""
    if backend != "postgresql":
        pytest.skip("terminating backends is a PostgreSQL operation")
    recorded = tmp_path / "events.jsonl"
    recorded.touch()
    url = sa.make_url(app.config["SQLALCHEMY_DATABASE_URI"])
    env = {
        "PATH": f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}",
        "HOME": str(tmp_path),
        "PYTHONPATH": str(ROOT),
        "DATABASE_URL": url.render_as_string(hide_password=False),
        "PLUGINS": "tests.plugins.file_recorder",
        "PLUGINS_ONLY": "",
        "RECORDER_FILE": str(recorded),
        "EVENTS_DELIVERY": "worker",
        "SECRET_KEY": "worker-secret-key-0123456789abcdef0123456789",
        **{name: app.config[name] for name in SECRET_SETTINGS},
    }
    started = []

    def start(**extra):
        process = subprocess.Popen(
            [str(BIN / "flask"), "--app", "wsgi", "events", "run", "--interval", "0.2"],
            cwd=ROOT,
            env={**env, **extra},
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        started.append(process)
        return process

    yield start, recorded
    for process in started:
        if process.poll() is None:
            process.kill()
            process.wait(timeout=10)


def lines(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def wait_for(condition, timeout=15.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.05)
    return False


def terminate_backends(app) -> int:
    engine = sa.create_engine(app.config["SQLALCHEMY_DATABASE_URI"], isolation_level="AUTOCOMMIT")
    try:
        with engine.connect() as conn:
            return conn.scalar(
                sa.text(
                    "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity"
                    " WHERE datname = current_database() AND pid <> pg_backend_pid()"
                )
            )
    finally:
        engine.dispose()


@needs_postgresql
def test_event_worker_keeps_delivering_after_its_connections_are_terminated(
    app, auth, worker_process
):
    # Given a running worker that has delivered an event
    start, recorded = worker_process
    worker = start()
    auth.create_customer()
    assert wait_for(lambda: len(lines(recorded)) == 1), worker.stderr

    # When every other connection to the database is terminated
    with app.app_context():
        db.session.remove()
        db.engine.dispose()
    assert terminate_backends(app) >= 1

    # Then the worker carries on and delivers the next event
    auth.create_customer(email="jane.roe@example.com", full_name="Jane Roe")
    assert wait_for(lambda: len(lines(recorded)) == 2)
    assert [line["email"] for line in lines(recorded)] == [EMAIL, "jane.roe@example.com"]
    assert worker.poll() is None

    # And it stops cleanly on SIGTERM, having logged one line for the outage
    worker.send_signal(signal.SIGTERM)
    assert worker.wait(timeout=15) == 0
    stderr = worker.stderr.read()
    assert "Traceback" not in stderr
    assert stderr.count("the database is unreachable") <= 1


@needs_postgresql
def test_event_worker_finishes_the_event_in_hand_on_sigterm(app, auth, worker_process):
    # Given a worker in the middle of a slow delivery
    start, recorded = worker_process
    worker = start(RECORDER_DELAY="1.5")
    auth.create_customer()
    assert wait_for(lambda: any("started" in line for line in lines(recorded)))

    # When it is asked to stop
    worker.send_signal(signal.SIGTERM)

    # Then it finishes that delivery, records it, and exits with status 0
    assert worker.wait(timeout=15) == 0
    assert [line.get("email") for line in lines(recorded) if "name" in line] == [EMAIL]
    assert outbox(app) == []


# --- settings --------------------------------------------------------------------------------


def test_retries_back_off_to_fifteen_minutes_and_go_on_for_a_day_by_default(tmp_path):
    config = load_config(str(tmp_path), {})

    assert config["EVENTS_RETRY_MAX_DELAY"] == 900
    assert config["EVENTS_MAX_AGE"] == 86400
    assert config["MAIL_TIMEOUT"] == 10


@pytest.mark.parametrize(("name", "value"), [("MAIL_TIMEOUT", "0"), ("EVENTS_LEASE", "5")])
def test_timeouts_too_short_to_work_are_a_start_up_error(tmp_path, name, value):
    with pytest.raises(ConfigError) as raised:
        load_config(str(tmp_path), {name: value})

    assert str(raised.value).startswith(f"{name} must be at least")


# --- expected failures -------------------------------------------------------------------


def test_subscriber_raising_retry_later_is_retried_and_logged_without_a_traceback(
    app, auth, register_plugin, caplog
):
    from app.events import RetryLater
    from tests.test_events import hookimpl as evershop_hookimpl

    class Receiver:
        @evershop_hookimpl
        def subscribe(self):
            def handle(event):
                raise RetryLater("the CRM answered 503")

            return {"customer_registered": handle}

    register_plugin(Receiver(), name="crm")
    auth.create_customer()

    with caplog.at_level(logging.WARNING, logger="app.events"):
        assert run_worker(app) == "delivered 0, failed 1\n"

    (row,) = outbox(app)
    assert row["last_error"] == "crm: RetryLater: the CRM answered 503"
    (record,) = [r for r in caplog.records if r.name == "app.events"]
    assert record.levelname == "WARNING"
    assert record.exc_info is None
    assert "the CRM answered 503" in record.getMessage()
