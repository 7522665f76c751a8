"""nginx in front of gunicorn's sync workers, as docs/operations.md says to
deploy the service ("Slow clients and the reverse proxy").

One stack for the module: the real service under ``gunicorn wsgi:app`` on a
fresh PostgreSQL database with two sync workers and ``TRUSTED_PROXIES`` set
to nginx's address, and a real nginx with deploy/nginx/customer-service.conf
in front of it. Slow clients are sockets that send their request headers, or
their body, a byte at a time.
"""

from __future__ import annotations

import http.client
import json
import re
import socket
import threading
import time
import uuid
from dataclasses import dataclass

import pytest

from app.config import load_config
from tests.gunicorn_server import (
    Gunicorn,
    free_port,
    fresh_database,
    needs_postgresql,
    run_flask,
    running_gunicorn,
    secrets_env,
)
from tests.nginx import SITE_CONFIG, Nginx, nginx, require_nginx  # noqa: F401 (a fixture)

WORKERS = 2
# A generous bound: a correctness check that nothing waits on the slow
# clients, not a benchmark (an answer takes milliseconds).
PROMPT = 2.0
CUSTOMER_REFRESH = "/api/customer/token/refresh"


@dataclass(frozen=True)
class Stack:
    gunicorn: Gunicorn
    nginx: Nginx


@pytest.fixture(scope="module")
def stack(tmp_path_factory):
    """gunicorn with two sync workers on PostgreSQL, behind nginx."""
    require_nginx()
    directory = tmp_path_factory.mktemp("reverse-proxy")
    with fresh_database("proxy") as database_url:
        env = {
            **secrets_env(directory),
            "DATABASE_URL": database_url,
            "HOST": "127.0.0.1",
            "PORT": str(free_port()),
            "WEB_CONCURRENCY": str(WORKERS),
            # The layout of docs/operations.md: nginx on the same host.
            "TRUSTED_PROXIES": "127.0.0.1",
            # Two processes share the rate-limit counters through Redis.
            "RATELIMIT_STORAGE_URI": "redis://127.0.0.1:6379/0",
            "RATELIMIT_KEY_PREFIX": f"test-reverse-proxy-{uuid.uuid4().hex}",
            "RATELIMIT_TOKENS": "2/minute",
        }
        migrated = run_flask(env, "db", "upgrade")
        assert migrated.returncode == 0, migrated.stderr
        with (
            running_gunicorn(env, directory / "gunicorn") as server,
            Nginx([server.address], directory / "nginx") as proxy,
        ):
            yield Stack(server, proxy)


class Tricklers:
    """``count`` connections to ``port`` that each send ``head`` at once, then
    ``rest`` one byte every ``interval`` seconds, until :meth:`finish` sends
    what is left of ``rest`` at once or the block ends."""

    def __init__(self, port: int, count: int, head: bytes, rest: bytes, interval: float = 0.1):
        self.port = port
        self.count = count
        self.head = head
        self.rest = rest
        self.interval = interval
        self.sent = 0
        self.sockets: list[socket.socket] = []
        self.errors: list[OSError] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._trickle, daemon=True)

    def __enter__(self) -> Tricklers:
        for _ in range(self.count):
            sock = socket.create_connection(("127.0.0.1", self.port), timeout=10)
            sock.sendall(self.head)
            self.sockets.append(sock)
        self._thread.start()
        return self

    def _trickle(self) -> None:
        # One byte short of the whole request, so that it never completes here.
        while self.sent < len(self.rest) - 1 and not self._stop.wait(self.interval):
            byte = self.rest[self.sent : self.sent + 1]
            for sock in self.sockets:
                try:
                    sock.sendall(byte)
                except OSError as error:
                    self.errors.append(error)
            self.sent += 1

    def _halt(self) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout=10)

    @property
    def trickling(self) -> bool:
        """Whether every connection is still sending, its request not complete."""
        return self._thread.is_alive() and not self.errors and self.sent < len(self.rest) - 1

    def finish(self) -> list[int]:
        """Send the rest of every request at once; the status each gets."""
        self._halt()
        statuses = []
        for sock in self.sockets:
            sock.sendall(self.rest[self.sent :])
            response = http.client.HTTPResponse(sock)
            response.begin()
            response.read()
            statuses.append(response.status)
        return statuses

    def __exit__(self, *exc) -> None:
        self._halt()
        for sock in self.sockets:
            sock.close()


def trickled_headers(port: int, count: int) -> Tricklers:
    """Clients that send ``GET /healthz``'s header lines a byte at a time."""
    lines = "".join(f"X-Slow-{number}: {number}\r\n" for number in range(50))
    return Tricklers(
        port,
        count,
        head=b"GET /healthz HTTP/1.1\r\nHost: slow.example\r\n",
        rest=f"{lines}Connection: close\r\n\r\n".encode(),
    )


def trickled_bodies(port: int, count: int) -> Tricklers:
    """Clients that send a GraphQL query's body a byte at a time (whitespace
    first, which JSON allows)."""
    body = b" " * 500 + b'{"query": "{ currentCustomer { uuid } }"}'
    head = (
        "POST /api/graphql HTTP/1.1\r\nHost: slow.example\r\n"
        f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n"
        "Connection: close\r\n\r\n"
    )
    return Tricklers(port, count, head=head.encode(), rest=body)


def get(port: int, path: str, timeout: float, headers: dict | None = None):
    """``GET path`` on 127.0.0.1:port: (status, headers, JSON body, seconds taken)."""
    started = time.monotonic()
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        connection.request("GET", path, headers=headers or {})
        response = connection.getresponse()
        body = json.loads(response.read())
        return response.status, response.headers, body, time.monotonic() - started
    finally:
        connection.close()


def post(port: int, path: str, body: bytes, headers: dict | None = None):
    """``POST path`` on 127.0.0.1:port: (status, headers, JSON body)."""
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    try:
        connection.request(
            "POST", path, body=body, headers={"Content-Type": "application/json", **(headers or {})}
        )
        response = connection.getresponse()
        return response.status, response.headers, json.loads(response.read())
    finally:
        connection.close()


def wait_for_line(path, text: str) -> str:
    """The first line of the log at ``path`` that contains ``text`` (logs are
    written just after the answer)."""
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        for line in path.read_text().splitlines():
            if text in line:
                return line
        time.sleep(0.1)
    pytest.fail(f"no line with {text!r} in {path.name}:\n{path.read_text()}")


# --- slow clients ----------------------------------------------------------------------


def assert_healthz_answers_promptly(port: int) -> None:
    """``/healthz`` on ``port`` answers 200 within PROMPT seconds, three times."""
    for _ in range(3):
        status, _, body, seconds = get(port, "/healthz", timeout=10)
        assert (status, body) == (200, {"data": {"status": "ok"}})
        assert seconds < PROMPT, f"/healthz took {seconds:.2f} s"


@needs_postgresql
def test_healthz_answers_promptly_through_nginx_while_more_clients_than_workers_trickle_headers(
    stack,
):
    # Given three times as many clients as workers, each sending its headers a byte at a time
    with trickled_headers(stack.nginx.port, count=3 * WORKERS) as slow:
        time.sleep(1.0)

        # When /healthz is asked through nginx while they trickle
        # Then it answers promptly
        assert_healthz_answers_promptly(stack.nginx.port)

        # and the slow clients were connected, mid-header, all along, and
        # are served once their headers are complete
        assert slow.trickling
        assert slow.finish() == [200] * (3 * WORKERS)


@needs_postgresql
def test_healthz_answers_promptly_through_nginx_while_more_clients_than_workers_trickle_bodies(
    stack,
):
    # Given three times as many clients as workers, each sending its body a byte at a time
    with trickled_bodies(stack.nginx.port, count=3 * WORKERS) as slow:
        time.sleep(1.0)

        # When /healthz is asked through nginx while they trickle
        # Then it answers promptly
        assert_healthz_answers_promptly(stack.nginx.port)

        # and the slow clients were connected, mid-body, all along, and are
        # served once their bodies are complete
        assert slow.trickling
        assert slow.finish() == [200] * (3 * WORKERS)


@needs_postgresql
def test_headers_trickled_straight_to_gunicorn_hold_both_sync_workers(stack):
    # Given as many clients as workers trickling headers straight to gunicorn
    with trickled_headers(stack.gunicorn.port, count=WORKERS) as slow:
        time.sleep(0.5)

        # When /healthz is asked of gunicorn directly, then no worker answers it
        with pytest.raises(TimeoutError):
            get(stack.gunicorn.port, "/healthz", timeout=3)
        assert slow.trickling

    # And once the slow clients have gone, the workers answer again
    status, _, body, _ = get(stack.gunicorn.port, "/healthz", timeout=10)
    assert (status, body) == (200, {"data": {"status": "ok"}})


# --- what nginx passes on --------------------------------------------------------------


@needs_postgresql
def test_nginx_passes_the_clients_request_id_to_the_service(stack):
    # When a client sends its own X-Request-ID through nginx
    request_id = f"proxy-test-{uuid.uuid4().hex}"
    status, headers, _, _ = get(
        stack.nginx.port, "/healthz", timeout=10, headers={"X-Request-ID": request_id}
    )

    # Then the service answers it, and both logs carry it
    assert status == 200
    assert headers["X-Request-ID"] == request_id
    served = json.loads(wait_for_line(stack.gunicorn.access_log, f'"request_id": "{request_id}"'))
    assert (served["method"], served["path"], served["status"]) == ("GET", "/healthz", 200)
    assert '"GET /healthz HTTP/1.1" 200' in wait_for_line(
        stack.nginx.access_log, f"request_id={request_id} "
    )


@needs_postgresql
def test_nginx_gives_a_request_without_an_id_its_own_which_the_service_uses(stack):
    # When a client sends no X-Request-ID
    status, headers, _, _ = get(stack.nginx.port, "/healthz", timeout=10)

    # Then the service answers nginx's id, which both logs carry
    assert status == 200
    request_id = headers["X-Request-ID"]
    assert re.fullmatch(r"[0-9a-f]{32}", request_id), request_id
    wait_for_line(stack.gunicorn.access_log, f'"request_id": "{request_id}"')
    wait_for_line(stack.nginx.access_log, f"request_id={request_id} ")


def bogus_refresh(port: int, forwarded_for: str):
    return post(
        port,
        CUSTOMER_REFRESH,
        b'{"refreshToken": "not-a-token"}',
        {"X-Forwarded-For": forwarded_for},
    )


@needs_postgresql
def test_rate_limits_count_the_client_address_nginx_forwards(stack):
    # Given one client, as nginx forwards it, spent its budget of 2 token requests
    first, second = "203.0.113.1", "203.0.113.2"
    assert [bogus_refresh(stack.nginx.port, first)[0] for _ in range(2)] == [401, 401]
    status, headers, body = bogus_refresh(stack.nginx.port, first)
    assert status == 429, body
    assert int(headers["Retry-After"]) > 0

    # When another client comes through the same nginx
    status, _, body = bogus_refresh(stack.nginx.port, second)

    # Then it has a budget of its own: the service counts the forwarded
    # address, not nginx's
    assert status == 401, body


# --- what nginx refuses itself ---------------------------------------------------------


@needs_postgresql
def test_nginx_refuses_a_body_over_max_content_length_in_the_error_envelope(stack, tmp_path):
    # When a body one byte over MAX_CONTENT_LENGTH is posted through nginx
    limit = load_config(str(tmp_path), {})["MAX_CONTENT_LENGTH"]
    request_id = f"too-large-{uuid.uuid4().hex}"
    status, headers, body = post(
        stack.nginx.port, "/api/customers", b" " * (limit + 1), {"X-Request-ID": request_id}
    )

    # Then nginx answers 413 in the service's envelope, and gunicorn never sees it
    assert status == 413
    assert headers["Content-Type"] == "application/json"
    assert headers["X-Request-ID"] == request_id
    assert body == {"error": {"status": 413, "message": "The request body is too large."}}
    assert " 413 " in wait_for_line(stack.nginx.access_log, f"request_id={request_id} ")
    assert request_id not in stack.gunicorn.access_log.read_text()


def test_nginx_answers_502_in_the_error_envelope_when_gunicorn_is_not_listening(nginx):  # noqa: F811
    # Given nginx in front of two addresses where nothing listens
    proxy = nginx([f"127.0.0.1:{free_port()}", f"127.0.0.1:{free_port()}"])

    # When a request comes
    status, headers, body, _ = get(proxy.port, "/healthz", timeout=10)

    # Then nginx answers 502 in the service's envelope
    assert status == 502
    assert headers["Content-Type"] == "application/json"
    assert re.fullmatch(r"[0-9a-f]{32}", headers["X-Request-ID"])
    assert body == {
        "error": {"status": 502, "message": "The service is not answering: try again later."}
    }


def test_nginx_body_limit_is_the_services_max_content_length(tmp_path):
    # Given the site file's client_max_body_size
    found = re.findall(r"^\s*client_max_body_size (\d+)([km]?);", SITE_CONFIG.read_text(), re.M)
    assert len(found) == 1, "one client_max_body_size in the site file"
    number, unit = found[0]
    size = int(number) * {"": 1, "k": 1024, "m": 1024 * 1024}[unit]

    # Then it is the service's default MAX_CONTENT_LENGTH
    assert size == load_config(str(tmp_path), {})["MAX_CONTENT_LENGTH"] == 1048576


def test_nginx_passes_a_request_to_the_next_instance_only_if_it_was_never_sent():
    # Given the site file's failover
    found = re.findall(r"^\s*proxy_next_upstream ([^;]+);", SITE_CONFIG.read_text(), re.M)

    # Then a request that cannot reach an instance goes to the next one, but
    # a POST that was sent is never sent again (non_idempotent), and no
    # answer of the service is retried elsewhere
    assert found == ["error timeout"]
