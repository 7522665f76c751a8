"""End to end: the Dockerfile's command serves the README's walk-through.

A fresh PostgreSQL database is migrated and given an admin user with the
documented commands; gunicorn then starts with exactly the Dockerfile's CMD,
from the repository root as the image's working directory, configured as
production is (``APP_ENV=production``, secrets and ``DATABASE_URL`` from the
environment, two workers); the README's requests run against it over HTTP,
and SIGTERM stops it cleanly. ``docker build`` itself is not run here.
"""

from __future__ import annotations

import http.client
import json
import os
import re
import signal
import subprocess
import time
import urllib.parse
import uuid

import pytest
from alembic.config import Config
from alembic.script import ScriptDirectory

from tests.gunicorn_server import (  # noqa: F401 (database_url is a fixture)
    ROOT,
    Client,
    database_url,
    free_port,
    needs_postgresql,
    run_flask,
    secrets_env,
    wait_until_ready,
)
from tests.smtp import SMTPServer, smtp_server  # noqa: F401 (a fixture)

ADMIN_EMAIL = "admin@example.com"
ADMIN_PASSWORD = "change-me-now"
EMAIL = "john.smith@example.com"
PASSWORD = "a-long-password"
NEW_PASSWORD = "another-long-password"
REQUEST_ID = "e2e-walkthrough-create-customer"


def dockerfile_command() -> list[str]:
    """The exec-form CMD of the Dockerfile."""
    found = re.findall(r"^CMD\s+(\[.*\])\s*$", (ROOT / "Dockerfile").read_text(), re.MULTILINE)
    assert len(found) == 1, "the Dockerfile has one exec-form CMD"
    return json.loads(found[0])


def migrations_head() -> str:
    config = Config()
    config.set_main_option("script_location", str(ROOT / "migrations"))
    return ", ".join(sorted(ScriptDirectory.from_config(config).get_heads()))


@pytest.fixture
def production_env(database_url, smtp_server, tmp_path):  # noqa: F811
    port = free_port()
    return {
        **secrets_env(tmp_path),
        "DATABASE_URL": database_url,
        "EVENTS_DELIVERY": "thread",
        "MAIL_SERVER": smtp_server.host,
        "MAIL_PORT": str(smtp_server.port),
        "HOST": "127.0.0.1",
        "PORT": str(port),
        "WEB_CONCURRENCY": "2",
    }


def wait_for_reset_token(smtp: SMTPServer) -> str:
    """The token of the reset link mailed to the customer, once a worker's event
    thread has delivered the request."""
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        for received in smtp.messages:
            if received.rcpt_tos == [EMAIL]:
                found = re.search(r"/reset-password\?token=(\S+)", received.part("plain"))
                assert found, received.part("plain")
                return urllib.parse.unquote(found.group(1))
        time.sleep(0.2)
    pytest.fail("no reset email within 30 s")


@needs_postgresql
def test_dockerfile_command_serves_the_readme_walkthrough(
    production_env,
    smtp_server,  # noqa: F811
    tmp_path,
):
    # Given the Dockerfile's command
    command = dockerfile_command()
    assert command == ["gunicorn", "wsgi:app"]

    # and a database migrated, with an admin user, by the documented commands
    migrated = run_flask(production_env, "db", "upgrade")
    assert migrated.returncode == 0, migrated.stderr
    created = run_flask(
        production_env,
        "user",
        "create",
        "--email",
        ADMIN_EMAIL,
        "--password",
        ADMIN_PASSWORD,
        "--full-name",
        "Store Admin",
    )
    assert created.returncode == 0, created.stderr
    assert created.stdout.startswith(f"Created admin user {ADMIN_EMAIL} (")

    # When gunicorn serves with exactly that command from the image's working directory
    access_log, error_log = tmp_path / "access.log", tmp_path / "error.log"
    with access_log.open("w") as stdout, error_log.open("w") as stderr:
        process = subprocess.Popen(
            command,
            cwd=ROOT,
            env=production_env,
            stdout=stdout,
            stderr=stderr,
            start_new_session=True,
        )
    try:
        api = Client(f"http://127.0.0.1:{production_env['PORT']}")
        ready = wait_until_ready(process, api, error_log)
        _walk_through(api, ready, smtp_server)

        # And SIGTERM stops it cleanly
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=60) == 0, error_log.read_text()
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=30)

    # The access log names each request with its request id, and leaves out
    # query strings (the list's keyword here)
    # (one JSON object each: LOG_FORMAT is json in production)
    lines = [json.loads(line) for line in access_log.read_text().splitlines()]
    requests = [
        (line["method"], line["path"], line["status"], line["request_id"]) for line in lines
    ]
    assert ("POST", "/api/customers", 201, REQUEST_ID) in requests, access_log.read_text()
    assert any(request[:3] == ("GET", "/api/customers", 200) for request in requests)
    assert "keyword" not in access_log.read_text()
    assert "Shutting down: Master" in error_log.read_text()


def _walk_through(api: Client, ready: dict, smtp: SMTPServer) -> None:
    """The README's walk-through, step by step, with the answers it promises."""
    assert ready == {"data": {"status": "ready", "revision": migrations_head()}}
    assert api("GET", "/healthz")[2] == {"data": {"status": "ok"}}

    # 2. An admin token.
    status, _, body = api(
        "POST", "/api/user/tokens", {"email": ADMIN_EMAIL, "password": ADMIN_PASSWORD}
    )
    assert status == 200, body
    assert set(body["data"]) == {"accessToken", "refreshToken"}
    token = body["data"]["accessToken"]

    # 3. Create a customer.
    status, headers, body = api(
        "POST",
        "/api/customers",
        {"email": EMAIL, "password": PASSWORD, "full_name": "John Smith"},
        token=token,
        headers={"X-Request-ID": REQUEST_ID},
    )
    assert status == 201, body
    assert headers["X-Request-ID"] == REQUEST_ID
    customer = body["data"]
    assert isinstance(customer["customer_id"], int)
    assert (customer["email"], customer["full_name"]) == (EMAIL, "John Smith")
    assert (customer["status"], customer["group_id"]) == (1, 1)
    assert "password" not in customer
    customer_uuid = customer["uuid"]
    assert str(uuid.UUID(customer_uuid)) == customer_uuid
    assert headers["Location"].endswith(f"/api/customers/{customer_uuid}")

    # 4. Update it, read it, list customers.
    status, _, body = api(
        "PATCH", f"/api/customers/{customer_uuid}", {"full_name": "John A. Smith"}, token=token
    )
    assert status == 200, body
    assert body["data"]["full_name"] == "John A. Smith"

    status, _, body = api("GET", f"/api/customers/{customer_uuid}", token=token)
    assert status == 200, body
    assert (body["data"]["uuid"], body["data"]["full_name"]) == (customer_uuid, "John A. Smith")

    status, _, body = api(
        "GET", "/api/customers", token=token, query={"keyword": "smith", "limit": 10}
    )
    assert status == 200, body
    assert [item["uuid"] for item in body["data"]["items"]] == [customer_uuid]
    assert body["data"]["total"] == 1

    # 5. The customer logs in and reads its own account.
    status, _, body = api("POST", "/api/customer/tokens", {"email": EMAIL, "password": PASSWORD})
    assert status == 200, body
    customer_token = body["data"]["accessToken"]
    status, _, body = api("GET", "/api/customers/me", token=customer_token)
    assert status == 200, body
    assert (body["data"]["uuid"], body["data"]["email"]) == (customer_uuid, EMAIL)

    # 6. Give it an address (its first becomes its default) and list them.
    address = {
        "full_name": "John Smith",
        "address_1": "123 Main St",
        "city": "New York",
        "province": "NY",
        "country": "US",
        "postcode": "10001",
    }
    status, _, body = api("POST", f"/api/customers/{customer_uuid}/addresses", address, token=token)
    assert status == 201, body
    assert {key: body["data"][key] for key in address} == address
    assert body["data"]["is_default"] is True
    address_uuid = body["data"]["uuid"]
    status, _, body = api("GET", "/api/customers/me/addresses", token=customer_token)
    assert status == 200, body
    assert [(item["uuid"], item["is_default"]) for item in body["data"]] == [(address_uuid, True)]

    # GraphQL: the admin's customer query and the storefront's currentCustomer.
    status, _, body = api(
        "POST",
        "/api/admin/graphql",
        {
            "query": "query ($id: String) { customer(id: $id) "
            "{ uuid email fullName status group { groupName } "
            "addresses { address1 city country { code } isDefault } } }",
            "variables": {"id": customer_uuid},
        },
        token=token,
    )
    assert status == 200, body
    assert body == {
        "data": {
            "customer": {
                "uuid": customer_uuid,
                "email": EMAIL,
                "fullName": "John A. Smith",
                "status": 1,
                "group": {"groupName": "Default"},
                "addresses": [
                    {
                        "address1": "123 Main St",
                        "city": "New York",
                        "country": {"code": "US"},
                        "isDefault": True,
                    }
                ],
            }
        }
    }
    status, _, body = api(
        "POST",
        "/api/graphql",
        {"query": "{ currentCustomer { uuid email fullName } }"},
        token=customer_token,
    )
    assert status == 200, body
    assert body == {
        "data": {
            "currentCustomer": {"uuid": customer_uuid, "email": EMAIL, "fullName": "John A. Smith"}
        }
    }

    # Forgotten password: the link is mailed (by a worker's event thread) and
    # its token sets a new password, which replaces the old one.
    status, _, body = api("POST", "/api/customers/reset-password", {"email": EMAIL})
    assert (status, body) == (200, {"data": {"success": True}})
    reset_token = wait_for_reset_token(smtp)
    status, _, body = api(
        "POST", "/api/customers/password", {"token": reset_token, "password": NEW_PASSWORD}
    )
    assert (status, body) == (200, {"data": {"success": True}})
    status, _, body = api("POST", "/api/customer/tokens", {"email": EMAIL, "password": PASSWORD})
    assert status == 401, body
    status, _, body = api(
        "POST", "/api/customer/tokens", {"email": EMAIL, "password": NEW_PASSWORD}
    )
    assert status == 200, body

    # 7. Delete it (its addresses and reset tokens go with it).
    status, _, body = api("DELETE", f"/api/customers/{customer_uuid}", token=token)
    assert status == 200, body
    assert body["data"]["uuid"] == customer_uuid
    status, _, body = api("GET", f"/api/customers/{customer_uuid}", token=token)
    assert status == 404, body
    assert body["error"]["status"] == 404


def test_dockerfile_command_refuses_to_start_without_a_secret(tmp_path):
    # Given a production environment that lacks SECRET_KEY
    env = {
        **secrets_env(tmp_path),
        "DATABASE_URL": "postgresql://127.0.0.1:1/never-reached",
        "HOST": "127.0.0.1",
        "PORT": str(free_port()),
        "WEB_CONCURRENCY": "2",
    }
    del env["SECRET_KEY"]

    # When gunicorn starts with the Dockerfile's command
    finished = subprocess.run(
        dockerfile_command(), cwd=ROOT, env=env, capture_output=True, text=True, timeout=60
    )

    # Then it stops at once, before any worker, with one line saying what to set
    assert finished.returncode == 1
    assert (
        "configuration error: APP_ENV=production needs these environment variables set: "
        "SECRET_KEY\n"
    ) in finished.stderr
    assert "Booting worker" not in finished.stderr
    assert "Traceback" not in finished.stderr


def _post_chunked(port: int, path: str, chunks: list[bytes]) -> tuple[int, dict]:
    """POST ``chunks`` with Transfer-Encoding: chunked (no Content-Length)."""
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    try:
        connection.request(
            "POST",
            path,
            body=iter(chunks),
            headers={"Content-Type": "application/json"},
            encode_chunked=True,
        )
        response = connection.getresponse()
        return response.status, json.loads(response.read())
    finally:
        connection.close()


def test_gunicorn_answers_a_chunked_body_over_the_limit_with_413(tmp_path):
    # Given gunicorn serving with a body limit of 1024 bytes (no database is
    # needed: bodies are refused or read before one is)
    port = free_port()
    env = {
        **secrets_env(tmp_path),
        "APP_ENV": "development",
        "DATABASE_URL": f"sqlite:///{tmp_path / 'unused.sqlite3'}",
        "EVENTS_DELIVERY": "worker",
        "MAX_CONTENT_LENGTH": "1024",
        "HOST": "127.0.0.1",
        "PORT": str(port),
        "WEB_CONCURRENCY": "1",
    }
    logs = tmp_path / "gunicorn.log"
    with logs.open("w") as output:
        process = subprocess.Popen(
            dockerfile_command(),
            cwd=ROOT,
            env=env,
            stdout=output,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        client = Client(f"http://127.0.0.1:{port}")
        deadline = time.monotonic() + 60
        while True:
            assert process.poll() is None, logs.read_text()
            try:
                if client("GET", "/healthz")[0] == 200:
                    break
            except OSError:  # not listening yet
                pass
            assert time.monotonic() < deadline, logs.read_text()
            time.sleep(0.2)

        # When a JSON body of 1,100 bytes comes in chunks, without Content-Length
        body = json.dumps({"email": "x" * 1080}).encode()
        too_large = _post_chunked(port, "/api/customers/reset-password", [body[:600], body[600:]])

        # and a small one the same way
        small = _post_chunked(port, "/api/customers/reset-password", [b'{"email":', b' "nope"}'])
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=60)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=30)

    # Then the large one is refused as too large, not read cut short
    assert too_large == (
        413,
        {"error": {"status": 413, "message": "The request body is too large."}},
    )
    # and the small one is read whole (and refused for its email only)
    assert small[0] == 400
    assert small[1]["error"]["errors"] == [
        {"field": "email", "message": "Not a valid email address."}
    ]
