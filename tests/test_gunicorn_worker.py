"""gunicorn's workers told to stop (app/gunicorn_worker.py): they stop
listening at once, and answer the connections already queued to them.

gunicorn runs with one sync worker on a SQLite database (production settings
otherwise). A client that sends its headers slowly keeps that worker busy;
a second connection waits in the kernel's queue meanwhile.
"""

from __future__ import annotations

import http.client
import signal
import socket
import time

import pytest

from tests.gunicorn_server import GunicornInstance, free_port, run_flask, secrets_env

HOST = "127.0.0.1"


@pytest.fixture
def one_worker(tmp_path):
    env = {
        **secrets_env(tmp_path),
        "DATABASE_URL": f"sqlite:///{tmp_path / 'service.sqlite3'}",
        "ALLOW_SQLITE_IN_PRODUCTION": "true",
        "HOST": HOST,
        "PORT": str(free_port()),
        "WEB_CONCURRENCY": "1",
        "EVENTS_WORKERS": "0",
    }
    migrated = run_flask(env, "db", "upgrade")
    assert migrated.returncode == 0, migrated.stderr
    instance = GunicornInstance(env, tmp_path / "gunicorn")
    instance.start()
    yield instance
    instance.stop()


def connect(port: int) -> socket.socket:
    return socket.create_connection((HOST, port), timeout=10)


def answer_status(sock: socket.socket) -> int:
    response = http.client.HTTPResponse(sock)
    response.begin()
    response.read()
    return response.status


def refuses_connections(port: int, within: float) -> bool:
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        try:
            connect(port).close()
        except ConnectionRefusedError:
            return True
        time.sleep(0.05)
    return False


def test_a_stopping_worker_refuses_new_connections_and_answers_the_queued_ones(one_worker):
    port = one_worker.port
    process = one_worker.server.process
    # Given the only worker busy reading a slow client's headers
    slow = connect(port)
    slow.sendall(b"GET /healthz HTTP/1.1\r\nHost: slow.example\r\n")
    time.sleep(0.5)
    # and a whole request queued behind it
    queued = connect(port)
    queued.sendall(b"GET /healthz HTTP/1.1\r\nHost: queued.example\r\nConnection: close\r\n\r\n")
    time.sleep(0.2)

    # When gunicorn is told to stop while the slow client still sends
    process.send_signal(signal.SIGTERM)
    for byte in b"X-Slow: 1\r\n":
        slow.sendall(bytes([byte]))
        time.sleep(0.05)

    # Then new connections are refused before the slow request is done
    assert refuses_connections(port, within=5)

    # and the slow request and the queued one are both answered
    slow.sendall(b"Connection: close\r\n\r\n")
    assert answer_status(slow) == 200
    assert answer_status(queued) == 200
    slow.close()
    queued.close()

    # and gunicorn exits cleanly
    assert process.wait(timeout=60) == 0
