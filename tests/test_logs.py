"""Logs: one access line per request on ``app.access``, with nothing of the
request but its method and path; and no secret in any log record of any
logger, at any level, in any of its parts or in the JSON and text lines the
service writes of it, through the whole README walk-through (docs/api.md, "Customers": the
password hash never leaves the service, in any log line)."""

from __future__ import annotations

import json
import logging
import re
import signal
import urllib.parse
import uuid

import pytest
import sqlalchemy as sa

from app.auth.models import AdminUser
from app.db import db
from app.events import EventOutbox
from app.logs import JsonFormatter, TextFormatter
from app.plugins import hookimpl
from plugins.customer.models import Customer
from plugins.password.models import ResetPasswordToken
from tests.conftest import Auth
from tests.gunicorn_server import Client, free_port, run_flask, running_gunicorn, secrets_env
from tests.smtp import smtp_server  # noqa: F401 (fixture)

ACCESS = "app.access"
ACCESS_FIELDS = {
    "time",
    "level",
    "logger",
    "request_id",
    "message",
    "event",
    "method",
    "path",
    "route",
    "status",
    "duration_ms",
}
STOREFRONT = "https://shop.example"
TOKEN_IN_LINK = r"/reset-password\?token=([^\s\"'<>&]+)"

ADMIN_EMAIL = "admin@example.com"
ADMIN_PASSWORD = "admin-walkthrough-pass-1"
CUSTOMER_EMAIL = "john.smith@example.com"
CUSTOMER_PASSWORD = "customer-walkthrough-pass-1"
NEW_PASSWORD = "customer-brand-new-pass-2"
WRONG_PASSWORD = "customer-wrong-guess-3"

SUCCESS = {"data": {"success": True}}
# The test's own SMTP server (aiosmtpd) logs what it receives; it is not the service.
TEST_SMTP_LOGGERS = ("mail.log",)
SQL_ECHO = "sqlalchemy.engine"


# --- capturing ---------------------------------------------------------------------


@pytest.fixture
def all_logs(caplog):
    """Capture every logger at DEBUG: each one's level is set to DEBUG (the
    libraries' own included), and those that do not propagate to the root get
    the capturing handler too. SQLAlchemy's engine is set to INFO, its
    ``echo=True``: every statement with its parameters (at DEBUG it would also
    print every row it reads, the database's content itself). Call it after
    the app is built (the factory sets the root level); levels are restored."""
    attached = []

    def start():
        caplog.set_level(logging.DEBUG)
        for name, logger in list(logging.root.manager.loggerDict.items()):
            if not isinstance(logger, logging.Logger):
                continue
            level = logging.INFO if name.startswith(SQL_ECHO) else logging.DEBUG
            caplog.set_level(level, logger=name)
            if not logger.propagate:
                logger.addHandler(caplog.handler)
                attached.append(logger)
        caplog.clear()
        return caplog

    yield start
    for logger in attached:
        logger.removeHandler(caplog.handler)


def access_lines(caplog) -> list[dict]:
    """The access lines, as the service writes them with ``LOG_FORMAT=json``."""
    lines = []
    for record in caplog.records:
        if record.name == ACCESS:
            assert record.levelno == logging.INFO
            lines.append(json.loads(JsonFormatter().format(record)))
    return lines


def service_records(caplog) -> list[logging.LogRecord]:
    return [record for record in caplog.records if not record.name.startswith(TEST_SMTP_LOGGERS)]


def record_texts(record: logging.LogRecord) -> list[str]:
    """Everything of a record that a log handler could write: its parts, and
    the lines of both LOG_FORMATs (the JSON one holds every extra field)."""
    texts = [record.getMessage(), str(record.msg), repr(record.args)]
    texts += [JsonFormatter().format(record), TextFormatter().format(record)]
    if record.exc_info:
        texts.append(logging.Formatter().formatException(record.exc_info))
    if record.exc_text:
        texts.append(record.exc_text)
    if record.stack_info:
        texts.append(record.stack_info)
    return texts


def assert_logged_nowhere(caplog, secrets: dict[str, str]) -> None:
    leaks = []
    for record in service_records(caplog):
        for text in record_texts(record):
            for name, secret in secrets.items():
                if secret in text:
                    leaks.append((name, record.name, record.levelname, text[:200]))
    assert leaks == []


def assert_access_line(
    line: dict, method: str, path: str, status: int, request_id: str, route="the path"
) -> None:
    """``route`` is the route's template, the path itself by default; None
    when no route matched."""
    assert set(line) == ACCESS_FIELDS
    assert (line["level"], line["logger"], line["event"]) == ("INFO", ACCESS, "request")
    assert line["method"] == method
    assert line["path"] == path
    assert line["route"] == (path if route == "the path" else route)
    assert line["status"] == status
    assert line["request_id"] == request_id
    assert isinstance(line["duration_ms"], int | float)
    assert not isinstance(line["duration_ms"], bool)
    assert line["duration_ms"] >= 0
    assert line["message"] == f"{method} {path} {status} {line['duration_ms']}ms"


# --- the access line -------------------------------------------------------------------


def test_a_request_logs_one_access_line_with_method_path_status_duration_and_request_id(
    app, client, all_logs
):
    caplog = all_logs()

    response = client.post("/api/customers/reset-password", json={"email": "a@example.com"})

    assert response.status_code == 200, response.json
    [line] = access_lines(caplog)
    assert_access_line(
        line, "POST", "/api/customers/reset-password", 200, response.headers["X-Request-ID"]
    )


def test_access_line_carries_the_request_id_the_client_sent(app, client, all_logs):
    caplog = all_logs()

    response = client.get("/api/health", headers={"X-Request-ID": "trace-42.a"})

    assert response.headers["X-Request-ID"] == "trace-42.a"
    [line] = access_lines(caplog)
    assert line["request_id"] == "trace-42.a"
    assert line["status"] == response.status_code


def test_every_request_logs_exactly_one_access_line_in_order(app, client, auth, all_logs):
    # Given
    headers = auth.admin_headers()
    caplog = all_logs()

    # When
    responses = [
        ("GET", "/api/customers", client.get("/api/customers", headers=headers)),
        ("GET", "/api/customers/me", client.get("/api/customers/me", headers=headers)),
        ("DELETE", "/api/customers", client.delete("/api/customers", headers=headers)),
    ]

    # Then (a method no route takes matches no route)
    lines = access_lines(caplog)
    assert len(lines) == 3
    routes = ["/api/customers", "/api/customers/me", None]
    for line, (method, path, response), route in zip(lines, responses, routes, strict=True):
        assert_access_line(
            line, method, path, response.status_code, response.headers["X-Request-ID"], route
        )
    assert [line["status"] for line in lines] == [200, 403, 405]


def test_access_line_holds_no_query_string_and_no_body(app, client, auth, all_logs):
    # Given
    headers = auth.admin_headers()
    caplog = all_logs()

    # When a request carries values in its query string, its body and a header
    response = client.get(
        "/api/customers?keyword=query-secret-value&limit=5",
        headers={**headers, "X-Custom": "header-secret-value"},
    )
    body_response = client.post(
        "/api/customer/tokens",
        json={"email": "body-secret@example.com", "password": "body-secret-password"},
    )

    # Then the access lines hold none of them
    assert response.status_code == 200, response.json
    assert body_response.status_code == 401, body_response.json
    lines = access_lines(caplog)
    assert [line["path"] for line in lines] == ["/api/customers", "/api/customer/tokens"]
    for line in lines:
        assert set(line) == ACCESS_FIELDS
        text = json.dumps(line)
        for value in (
            "query-secret-value",
            "keyword",
            "header-secret-value",
            "body-secret",
            "body-secret-password",
            "Bearer",
        ):
            assert value not in text


def test_access_line_for_a_404(app, client, all_logs):
    caplog = all_logs()

    response = client.get("/api/nothing-here")

    assert response.status_code == 404
    [line] = access_lines(caplog)
    assert_access_line(
        line, "GET", "/api/nothing-here", 404, response.headers["X-Request-ID"], route=None
    )


def test_access_line_for_a_401(app, client, all_logs):
    caplog = all_logs()

    response = client.get("/api/customers/me", headers={"Authorization": "Bearer not-a-token"})

    assert response.status_code == 401
    [line] = access_lines(caplog)
    assert_access_line(line, "GET", "/api/customers/me", 401, response.headers["X-Request-ID"])
    assert "not-a-token" not in caplog.text


class _Crash:
    """A plugin with a bug: it fails before a customer is created."""

    @hookimpl
    def customer_before_create(self, data, context):
        raise RuntimeError("the plugin broke")


def test_access_line_for_a_500_from_a_plugin(app, client, auth, register_plugin, all_logs):
    # Given a plugin that crashes in a before-hook
    headers = auth.admin_headers()
    register_plugin(_Crash())
    caplog = all_logs()

    # When
    response = client.post(
        "/api/customers",
        json={"email": "jane@example.com", "password": "jane-password-1", "full_name": "Jane"},
        headers=headers,
    )

    # Then the 500 has its access line, and the fault is logged with the request id
    assert response.status_code == 500
    request_id = response.headers["X-Request-ID"]
    [line] = access_lines(caplog)
    assert_access_line(line, "POST", "/api/customers", 500, request_id)
    [fault] = [record for record in caplog.records if record.name == "app.errors"]
    assert fault.levelno == logging.ERROR
    assert request_id in fault.getMessage()
    assert fault.exc_info is not None
    assert "jane-password-1" not in caplog.text


def test_access_line_for_a_429(make_app, all_logs):
    # Given a budget of one token request, spent
    app = make_app(
        RATELIMIT_ENABLED=True, RATELIMIT_STORAGE_URI="memory://", RATELIMIT_TOKENS="1/minute"
    )
    client = app.test_client()
    caplog = all_logs()
    client.post("/api/customer/token/refresh", json={"refreshToken": "not-a-token"})

    # When
    response = client.post("/api/customer/token/refresh", json={"refreshToken": "not-a-token"})

    # Then
    assert response.status_code == 429
    lines = access_lines(caplog)
    assert [line["status"] for line in lines] == [401, 429]
    assert_access_line(
        lines[1], "POST", "/api/customer/token/refresh", 429, response.headers["X-Request-ID"]
    )


# --- no secret in any log --------------------------------------------------------------


def _db_value(app, statement):
    with app.app_context():
        value = db.session.scalar(statement)
        db.session.remove()
    return value


def _reset_token(smtp_server) -> tuple[str, str]:  # noqa: F811
    """The token and the whole link of the last reset email."""
    text = smtp_server.messages[-1].part("plain")
    [token] = re.findall(TOKEN_IN_LINK, text)
    return token, f"{STOREFRONT}/reset-password?token={token}"


def test_readme_walk_through_logs_no_password_token_link_or_hash(
    make_app,
    smtp_server,  # noqa: F811
    all_logs,
):
    # Given the service with the limits on, events delivered at once, mail to a real server
    app = make_app(
        EVENTS_DELIVERY="inline",
        EVENTS_RETRY_DELAY=0,
        MAIL_SERVER=smtp_server.host,
        MAIL_PORT=smtp_server.port,
        STOREFRONT_URL=STOREFRONT,
        RATELIMIT_ENABLED=True,
        RATELIMIT_STORAGE_URI="memory://",
        LOG_LEVEL="DEBUG",
    )
    client = app.test_client()
    caplog = all_logs()
    secrets = {
        "admin password": ADMIN_PASSWORD,
        "customer password": CUSTOMER_PASSWORD,
        "new customer password": NEW_PASSWORD,
        "wrong password": WRONG_PASSWORD,
    }

    # 1. An admin user, from the command line
    result = app.test_cli_runner().invoke(
        args=[
            "user",
            "create",
            "--email",
            ADMIN_EMAIL,
            "--password",
            ADMIN_PASSWORD,
            "--full-name",
            "Store Admin",
        ]
    )
    assert result.exit_code == 0, result.output

    # 2. An admin token, and a fresh one from its refresh token
    response = client.post(
        "/api/user/tokens", json={"email": ADMIN_EMAIL, "password": ADMIN_PASSWORD}
    )
    assert response.status_code == 200, response.json
    secrets["admin access token"] = response.json["data"]["accessToken"]
    secrets["admin refresh token"] = response.json["data"]["refreshToken"]
    response = client.post(
        "/api/user/token/refresh", json={"refreshToken": secrets["admin refresh token"]}
    )
    assert response.status_code == 200, response.json
    secrets["admin refreshed access token"] = response.json["data"]["accessToken"]
    admin = {"Authorization": f"Bearer {secrets['admin refreshed access token']}"}

    # 3. A customer with a password, as the seed's curl line sends it
    response = client.post(
        "/api/customers",
        data=json.dumps(
            {"email": CUSTOMER_EMAIL, "password": CUSTOMER_PASSWORD, "full_name": "John Smith"}
        ),
        headers={**admin, "Accept": "application/json"},
        content_type="application/x-www-form-urlencoded",
    )
    assert response.status_code == 201, response.json
    customer_uuid = response.json["data"]["uuid"]

    # 4. Update it, read it, list customers
    response = client.patch(
        f"/api/customers/{customer_uuid}", json={"full_name": "John A. Smith"}, headers=admin
    )
    assert response.status_code == 200, response.json
    assert client.get(f"/api/customers/{customer_uuid}", headers=admin).status_code == 200
    response = client.get("/api/customers?keyword=smith&limit=10", headers=admin)
    assert response.status_code == 200, response.json
    assert response.json["data"]["total"] == 1

    # 5. The customer fails once, then logs in, refreshes, and reads its own account
    response = client.post(
        "/api/customer/tokens", json={"email": CUSTOMER_EMAIL, "password": WRONG_PASSWORD}
    )
    assert response.status_code == 401, response.json
    response = client.post(
        "/api/customer/tokens", json={"email": CUSTOMER_EMAIL, "password": CUSTOMER_PASSWORD}
    )
    assert response.status_code == 200, response.json
    secrets["customer access token"] = response.json["data"]["accessToken"]
    secrets["customer refresh token"] = response.json["data"]["refreshToken"]
    response = client.post(
        "/api/customer/token/refresh", json={"refreshToken": secrets["customer refresh token"]}
    )
    assert response.status_code == 200, response.json
    secrets["customer refreshed access token"] = response.json["data"]["accessToken"]
    customer = {"Authorization": f"Bearer {secrets['customer access token']}"}
    response = client.get("/api/customers/me", headers=customer)
    assert response.status_code == 200, response.json

    # 6. An address, and the customer's list of them
    response = client.post(
        f"/api/customers/{customer_uuid}/addresses",
        json={
            "full_name": "John Smith",
            "address_1": "123 Main St",
            "city": "New York",
            "province": "NY",
            "country": "US",
            "postcode": "10001",
        },
        headers=admin,
    )
    assert response.status_code == 201, response.json
    response = client.get("/api/customers/me/addresses", headers=customer)
    assert response.status_code == 200, response.json

    # 7. A forgotten password: the emailed link, and a new password with its token
    old_hash = _db_value(
        app, sa.select(Customer.password).where(Customer.uuid == uuid.UUID(customer_uuid))
    )
    response = client.post("/api/customers/reset-password", json={"email": CUSTOMER_EMAIL})
    assert response.status_code == 200, response.json
    assert response.json == SUCCESS
    assert len(smtp_server.messages) == 1
    secrets["reset token"], secrets["reset link"] = _reset_token(smtp_server)
    response = client.post(
        "/api/customers/password",
        json={"token": secrets["reset token"], "password": NEW_PASSWORD},
    )
    assert response.status_code == 200, response.json
    assert response.json == SUCCESS
    response = client.post(
        "/api/customer/tokens", json={"email": CUSTOMER_EMAIL, "password": NEW_PASSWORD}
    )
    assert response.status_code == 200, response.json
    secrets["new customer access token"] = response.json["data"]["accessToken"]
    secrets["new customer refresh token"] = response.json["data"]["refreshToken"]

    # 8. GraphQL, for the admin and for the storefront
    response = client.post(
        "/api/admin/graphql",
        json={
            "query": "query ($id: String) { customer(id: $id) { uuid email fullName } "
            "customers { total items { email } } }",
            "variables": {"id": customer_uuid},
        },
        headers=admin,
    )
    assert response.status_code == 200, response.json
    assert response.json["data"]["customer"]["email"] == CUSTOMER_EMAIL
    response = client.post(
        "/api/graphql",
        json={"query": "{ currentCustomer { uuid email } }"},
        headers={"Authorization": f"Bearer {secrets['new customer access token']}"},
    )
    assert response.status_code == 200, response.json
    assert response.json["data"]["currentCustomer"]["uuid"] == customer_uuid

    # 9. The hashes, as stored, before the customer goes
    secrets["old customer hash"] = old_hash
    secrets["new customer hash"] = _db_value(
        app, sa.select(Customer.password).where(Customer.uuid == uuid.UUID(customer_uuid))
    )
    secrets["admin hash"] = _db_value(
        app, sa.select(AdminUser.password).where(AdminUser.email == ADMIN_EMAIL)
    )
    assert secrets["old customer hash"].startswith("$2b$")
    assert secrets["new customer hash"].startswith("$2b$")
    assert secrets["old customer hash"] != secrets["new customer hash"]
    assert secrets["admin hash"].startswith("$2b$")

    # 10. Delete the customer
    response = client.delete(f"/api/customers/{customer_uuid}", headers=admin)
    assert response.status_code == 200, response.json

    # Then every request was logged, and no log record of any logger holds a secret
    assert len(access_lines(caplog)) == 18
    assert all(secrets.values())
    assert_logged_nowhere(caplog, secrets)


def test_production_without_mail_server_logs_no_reset_link_and_keeps_the_event(make_app, all_logs):
    # Given a production-like service with no mail server
    app = make_app(
        APP_ENV="production",
        MAIL_SERVER=None,
        EVENTS_DELIVERY="inline",
        STOREFRONT_URL=STOREFRONT,
        LOG_LEVEL="DEBUG",
    )
    client = app.test_client()
    Auth(app, client).create_customer(email=CUSTOMER_EMAIL, password=CUSTOMER_PASSWORD)
    caplog = all_logs()

    # When the customer asks for a reset
    response = client.post("/api/customers/reset-password", json={"email": CUSTOMER_EMAIL})

    # Then the answer is the usual one, no link is written to any log, and the
    # request waits in the outbox for a retry, with no token kept meanwhile
    assert response.status_code == 200, response.json
    assert response.json == SUCCESS
    for record in caplog.records:
        for text in record_texts(record):
            assert "reset-password?token=" not in text
            assert "token=" not in text
    with app.app_context():
        rows = db.session.execute(
            sa.select(EventOutbox.name, EventOutbox.attempts, EventOutbox.last_error).where(
                EventOutbox.name == "reset_password_submitted"
            )
        ).all()
        tokens = db.session.scalars(sa.select(ResetPasswordToken.token)).all()
        db.session.remove()
    assert len(rows) == 1
    name, attempts, last_error = rows[0]
    assert attempts == 1
    assert "MAIL_SERVER is not set" in last_error
    assert tokens == []


# --- no secret in any line gunicorn writes --------------------------------------------------------


def test_walk_through_under_gunicorn_at_debug_writes_no_secret_in_any_json_line(
    smtp_server,  # noqa: F811
    tmp_path,
):
    # Given gunicorn with two workers, every logger at DEBUG, JSON lines, real mail
    env = {
        **secrets_env(tmp_path),
        "APP_ENV": "development",
        "LOG_FORMAT": "json",
        "LOG_LEVEL": "DEBUG",
        "DATABASE_URL": f"sqlite:///{tmp_path / 'service.sqlite3'}",
        # Delivered by the request itself, so that its email is there when it
        # answers: no event worker to race it for the event.
        "EVENTS_DELIVERY": "inline",
        "EVENTS_WORKERS": "0",
        "MAIL_SERVER": smtp_server.host,
        "MAIL_PORT": str(smtp_server.port),
        "STOREFRONT_URL": STOREFRONT,
        "HOST": "127.0.0.1",
        "PORT": str(free_port()),
        "WEB_CONCURRENCY": "2",
    }
    for command in (
        ("db", "upgrade"),
        ("user", "create", "--email", ADMIN_EMAIL, "--password", ADMIN_PASSWORD),
    ):
        finished = run_flask(
            env, *command, *(("--full-name", "Admin") if "user" in command else ())
        )
        assert finished.returncode == 0, finished.stderr
    secrets = {"admin password": ADMIN_PASSWORD}

    with running_gunicorn(env, tmp_path / "logs") as server:
        api = Client(server.base_url)
        # When the README's walk-through runs against it
        secrets.update(_walk_through_over_http(api, smtp_server, hashes(env["DATABASE_URL"])))
        server.process.send_signal(signal.SIGTERM)
        assert server.process.wait(timeout=60) == 0

    # Then every line it wrote is one JSON object, and none holds a secret or a hash
    assert len(secrets) == 12
    assert all(secrets.values())
    written = server.access_log.read_text() + server.error_log.read_text()
    lines = [json.loads(text) for text in written.splitlines()]
    for line in lines:
        assert list(line)[:5] == ["time", "level", "logger", "request_id", "message"], line
    assert {line["level"] for line in lines} >= {"DEBUG", "INFO"}, written
    assert [name for name, secret in secrets.items() if secret in written] == []
    assert "reset-password?token=" not in written


def hashes(database_url: str):
    """Reads the stored password hashes of the admin and the customer."""

    def read() -> dict[str, str]:
        engine = sa.create_engine(database_url)
        with engine.connect() as conn:
            found = {
                "admin hash": conn.scalar(sa.select(AdminUser.password)),
                "customer hash": conn.scalar(sa.select(Customer.password)),
            }
        engine.dispose()
        return found

    return read


def _walk_through_over_http(api: Client, smtp, read_hashes) -> dict[str, str]:
    """Tokens, logins, a customer, a reset and GraphQL over HTTP; the secrets
    it used, and the hashes stored before the customer is deleted."""
    secrets = {}
    status, _, body = api(
        "POST", "/api/user/tokens", {"email": ADMIN_EMAIL, "password": ADMIN_PASSWORD}
    )
    assert status == 200, body
    secrets["admin access token"] = body["data"]["accessToken"]
    secrets["admin refresh token"] = body["data"]["refreshToken"]
    status, _, body = api(
        "POST", "/api/user/token/refresh", {"refreshToken": secrets["admin refresh token"]}
    )
    assert status == 200, body
    admin = secrets["admin access token"]
    customer = {"email": CUSTOMER_EMAIL, "password": CUSTOMER_PASSWORD, "full_name": "John"}
    status, _, body = api("POST", "/api/customers", customer, token=admin)
    assert status == 201, body
    customer_uuid = body["data"]["uuid"]
    secrets["customer password"] = CUSTOMER_PASSWORD
    wrong = {"email": CUSTOMER_EMAIL, "password": WRONG_PASSWORD}
    assert api("POST", "/api/customer/tokens", wrong)[0] == 401
    secrets["wrong password"] = WRONG_PASSWORD
    status, _, body = api(
        "POST", "/api/customer/tokens", {"email": CUSTOMER_EMAIL, "password": CUSTOMER_PASSWORD}
    )
    assert status == 200, body
    secrets["customer access token"] = body["data"]["accessToken"]
    secrets["customer refresh token"] = body["data"]["refreshToken"]
    status, _, body = api(
        "POST", "/api/customer/token/refresh", {"refreshToken": secrets["customer refresh token"]}
    )
    assert status == 200, body
    assert api("GET", "/api/customers/me", token=secrets["customer access token"])[0] == 200
    status, _, body = api("POST", "/api/customers/reset-password", {"email": CUSTOMER_EMAIL})
    assert (status, body) == (200, SUCCESS)
    assert len(smtp.messages) == 1
    secrets["reset token"], secrets["reset link"] = _reset_token(smtp)
    status, _, body = api(
        "POST",
        "/api/customers/password",
        {"token": urllib.parse.unquote(secrets["reset token"]), "password": NEW_PASSWORD},
    )
    assert (status, body) == (200, SUCCESS)
    secrets["new customer password"] = NEW_PASSWORD
    status, _, body = api(
        "POST",
        "/api/admin/graphql",
        {"query": "{ customers { total items { email } } }"},
        token=admin,
    )
    assert status == 200, body
    secrets.update(read_hashes())
    assert api("DELETE", f"/api/customers/{customer_uuid}", token=admin)[0] == 200
    return secrets
