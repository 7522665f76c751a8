"""gunicorn's master keeps ``EVENTS_WORKERS`` event workers beside the web
workers (docs/operations.md, "The event worker"): they deliver what the web
workers only write to the outbox, are started again when they exit, and stop
with gunicorn."""

from __future__ import annotations

import os
import signal
import time
import urllib.request
from pathlib import Path

import pytest

from tests.gunicorn_server import (  # noqa: F401 (database_url is a fixture)
    Client,
    database_url,
    free_port,
    needs_postgresql,
    run_flask,
    running_gunicorn,
    secrets_env,
)
from tests.smtp import smtp_server  # noqa: F401 (a fixture)

pytestmark = needs_postgresql

EMAIL = "john.smith@example.com"
PASSWORD = "a-long-password"


@pytest.fixture
def env(database_url, smtp_server, tmp_path):  # noqa: F811
    settings = {
        **secrets_env(tmp_path),
        "DATABASE_URL": database_url,
        "MAIL_SERVER": smtp_server.host,
        "MAIL_PORT": str(smtp_server.port),
        "HOST": "127.0.0.1",
        "PORT": str(free_port()),
        "WEB_CONCURRENCY": "2",
        "LOG_FORMAT": "text",
    }
    migrated = run_flask(settings, "db", "upgrade")
    assert migrated.returncode == 0, migrated.stderr
    return settings


def _children(pid: int) -> dict[int, str]:
    """The processes whose parent is ``pid``, with their command lines."""
    found = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            ppid = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
            command = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode()
        except (OSError, IndexError, ValueError):
            continue  # gone meanwhile
        if ppid == pid:
            found[int(entry.name)] = command
    return found


def _event_workers(pid: int) -> list[int]:
    return [child for child, command in _children(pid).items() if " events run " in command]


def _alive(pid: int) -> bool:
    try:
        state = (Path("/proc") / str(pid) / "stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


def _wait_for(predicate, timeout: float = 30, message: str = ""):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.1)
    pytest.fail(message or "condition not met in time")


def _reset_emails(smtp) -> list:
    return [
        m
        for m in smtp.messages
        if m.rcpt_tos == [EMAIL] and "/reset-password?token=" in m.part("plain")
    ]


def _sign_up_and_request_reset(api: Client) -> None:
    status, _, body = api(
        "POST", "/api/customers", {"email": EMAIL, "password": PASSWORD, "full_name": "John Smith"}
    )
    assert status == 201, body
    status, _, body = api("POST", "/api/customers/reset-password", {"email": EMAIL})
    assert status == 200, body


def test_gunicorn_starts_one_event_worker_that_delivers_the_reset_email(
    env,
    smtp_server,  # noqa: F811
    tmp_path,
):
    with running_gunicorn(env, tmp_path / "logs") as server:
        workers = _wait_for(
            lambda: _event_workers(server.process.pid), message="no event worker started"
        )
        assert len(workers) == 1

        _sign_up_and_request_reset(Client(server.base_url))

        _wait_for(lambda: _reset_emails(smtp_server), message="the reset email did not arrive")
        assert "Started the event worker" in server.error_log.read_text()


def test_the_web_workers_leave_delivery_to_the_event_worker(
    env,
    smtp_server,  # noqa: F811
    tmp_path,
):
    # With the event worker stopped, a request's event waits in the outbox:
    # the web worker that wrote it does not deliver it.
    with running_gunicorn(env, tmp_path / "logs") as server:
        worker = _wait_for(lambda: _event_workers(server.process.pid))[0]
        os.kill(worker, signal.SIGSTOP)
        try:
            _sign_up_and_request_reset(Client(server.base_url))
            time.sleep(2)
            assert _reset_emails(smtp_server) == []
        finally:
            os.kill(worker, signal.SIGCONT)
        _wait_for(
            lambda: _reset_emails(smtp_server),
            message="the event worker did not deliver once it went on",
        )


def test_an_event_worker_that_exits_is_started_again(env, tmp_path):
    with running_gunicorn(env, tmp_path / "logs") as server:
        first = _wait_for(lambda: _event_workers(server.process.pid))[0]
        os.kill(first, signal.SIGKILL)

        second = _wait_for(
            lambda: [p for p in _event_workers(server.process.pid) if p != first],
            message="no new event worker",
        )
        assert len(second) == 1
        assert "exited with status" in server.error_log.read_text()


def test_event_workers_stop_with_gunicorn(env, tmp_path):
    with running_gunicorn(env, tmp_path / "logs") as server:
        worker = _wait_for(lambda: _event_workers(server.process.pid))[0]
        server.process.send_signal(signal.SIGTERM)
        assert server.process.wait(timeout=60) == 0, server.error_log.read_text()
    _wait_for(lambda: not _alive(worker), message="the event worker outlived gunicorn")


def test_an_event_worker_stops_when_gunicorn_is_killed(env, tmp_path):
    with running_gunicorn(env, tmp_path / "logs") as server:
        worker = _wait_for(lambda: _event_workers(server.process.pid))[0]
        server.process.kill()
        server.process.wait(timeout=30)
    _wait_for(lambda: not _alive(worker), message="the event worker outlived a killed gunicorn")


def test_events_workers_zero_starts_none_and_the_web_workers_deliver(
    env,
    smtp_server,  # noqa: F811
    tmp_path,
):
    env = {**env, "EVENTS_WORKERS": "0"}
    with running_gunicorn(env, tmp_path / "logs") as server:
        _sign_up_and_request_reset(Client(server.base_url))
        _wait_for(
            lambda: _reset_emails(smtp_server),
            message="the web workers did not deliver",
        )
        assert _event_workers(server.process.pid) == []


def test_a_bad_events_workers_value_stops_gunicorn_with_one_line(env, tmp_path):
    env = {**env, "EVENTS_WORKERS": "two"}
    with (
        pytest.raises(pytest.fail.Exception, match="EVENTS_WORKERS must be a whole number"),
        running_gunicorn(env, tmp_path / "logs"),
    ):
        pass


def test_the_event_workers_deliveries_are_in_the_metrics(
    env,
    smtp_server,  # noqa: F811
    tmp_path,
):
    env = {**env, "METRICS_TOKEN": "metrics-token-0123456789abcdef"}
    with running_gunicorn(env, tmp_path / "logs") as server:
        api = Client(server.base_url)
        _sign_up_and_request_reset(api)
        _wait_for(lambda: _reset_emails(smtp_server), message="the reset email did not arrive")

        def delivered_resets() -> list[str]:
            request = urllib.request.Request(
                server.base_url + "/metrics",
                headers={"Authorization": f"Bearer {env['METRICS_TOKEN']}"},
            )
            with urllib.request.urlopen(request, timeout=10) as response:
                text = response.read().decode()
            return [
                line
                for line in text.splitlines()
                if line.startswith("events_deliveries_total{")
                and 'event="reset_password_requested"' in line
                and 'outcome="delivered"' in line
            ]

        assert _wait_for(delivered_resets, message="no delivery counted")
