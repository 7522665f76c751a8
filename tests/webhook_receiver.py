"""A real HTTP server on a loopback port that receives webhook deliveries,
for the webhook tests.

Import the fixtures into a test module::

    from tests.webhook_receiver import receiver, receiver_not_started  # noqa: F401

Each receiver records every request it gets (``requests``) and answers the
next ones as a test scripts them with :meth:`Receiver.answer` (status, delay,
headers, or a status line trickled a byte at a time); unscripted requests get
``200``. ``receiver_not_started`` holds a free port where nothing listens
(connections are refused) until the test calls its ``start()``.
"""

from __future__ import annotations

import contextlib
import json
import socket
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

HOST = "127.0.0.1"


@dataclass(frozen=True)
class Answer:
    status: int = 200
    delay: float = 0.0  # seconds to wait before answering
    headers: dict = field(default_factory=dict)
    trickle: float = 0.0  # seconds between the bytes of the status line and headers


@dataclass(frozen=True)
class Request:
    path: str
    headers: dict[str, str]
    body: bytes

    @property
    def json(self) -> dict:
        return json.loads(self.body)


class Receiver:
    def __init__(self, port: int = 0):
        self.port = port
        self.requests: list[Request] = []
        self._script: list[Answer] = []
        self._lock = threading.Lock()
        self._server: ThreadingHTTPServer | None = None

    def url(self, path: str = "/hook", host: str = HOST) -> str:
        return f"http://{host}:{self.port}{path}"

    def answer(self, *answers: Answer) -> None:
        """Answer the next requests so, in order."""
        with self._lock:
            self._script.extend(answers)

    def _next(self, request: Request) -> Answer:
        with self._lock:
            self.requests.append(request)
            return self._script.pop(0) if self._script else Answer()

    def start(self) -> Receiver:
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):  # noqa: N802 (http.server's name)
                length = int(self.headers.get("Content-Length", 0))
                body = self.rfile.read(length)
                headers = {name.lower(): value for name, value in self.headers.items()}
                answer = receiver._next(Request(self.path, headers, body))
                time.sleep(answer.delay)
                head = f"HTTP/1.1 {answer.status} Status\r\nContent-Length: 2\r\n"
                head += "".join(f"{name}: {value}\r\n" for name, value in answer.headers.items())
                head += "Connection: close\r\n\r\n"
                with contextlib.suppress(OSError):  # the client may have given up
                    if answer.trickle:
                        for byte in head.encode():
                            self.wfile.write(bytes([byte]))
                            self.wfile.flush()
                            time.sleep(answer.trickle)
                    else:
                        self.wfile.write(head.encode())
                    self.wfile.write(b"ok")
                self.close_connection = True

            def log_message(self, *args):
                pass

        self._server = ThreadingHTTPServer((HOST, self.port), Handler)
        self._server.daemon_threads = True
        self.port = self._server.server_address[1]
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind((HOST, 0))
        return probe.getsockname()[1]


@pytest.fixture
def receiver():
    running = Receiver().start()
    yield running
    running.stop()


@pytest.fixture
def another_receiver():
    running = Receiver().start()
    yield running
    running.stop()


@pytest.fixture
def receiver_not_started():
    waiting = Receiver(free_port())
    yield waiting
    waiting.stop()
