"""A real SMTP server on a loopback port, for tests that send mail.

Import the fixtures into a test module::

    from tests.smtp import smtp_server, smtp_server_not_started  # noqa: F401

``smtp_server`` is listening; ``smtp_server_not_started`` has a free port
where nothing listens (connections are refused) until the test calls its
``start()``; ``silent_smtp_server`` accepts connections and never answers.
The first two collect every message they accept, parsed with :mod:`email`,
in ``messages``; all are stopped when the test ends.
"""

from __future__ import annotations

import email
import socket
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from email import policy
from email.message import EmailMessage

import pytest
from aiosmtpd.controller import Controller

HOST = "127.0.0.1"


@dataclass(frozen=True)
class Received:
    """One message as the server took it."""

    mail_from: str
    rcpt_tos: list[str]
    message: EmailMessage

    @property
    def subject(self) -> str:
        return str(self.message["Subject"])

    def part(self, subtype: str) -> str:
        """The decoded ``text/<subtype>`` body, e.g. ``part("plain")``."""
        body = self.message.get_body(preferencelist=(subtype,))
        assert body is not None, f"no text/{subtype} part in the message"
        assert body.get_content_type() == f"text/{subtype}"
        return body.get_content()


@dataclass
class _Collector:
    """The aiosmtpd handler: keeps what it accepts."""

    messages: list[Received] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)
    # Called with each message before the server answers "250 OK", i.e.
    # while the sender still waits for its email to be taken.
    on_message: Callable[[Received], None] | None = None

    async def handle_DATA(self, server, session, envelope):  # noqa: N802 (aiosmtpd's name)
        parsed = email.message_from_bytes(envelope.content, policy=policy.default)
        received = Received(envelope.mail_from, list(envelope.rcpt_tos), parsed)
        if self.on_message is not None:
            self.on_message(received)
        with self.lock:
            self.messages.append(received)
        return "250 OK"


def free_port() -> int:
    """A loopback port that nothing listens on (at the time of asking)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind((HOST, 0))
        return probe.getsockname()[1]


class SMTPServer:
    """An SMTP server on ``HOST:port``; ``start()`` and ``stop()`` may be
    called at any time, and ``messages`` survives a restart."""

    def __init__(self, port: int | None = None, on_message=None):
        self.host = HOST
        self.port = port or free_port()
        self._collector = _Collector(on_message=on_message)
        self._controller: Controller | None = None

    @property
    def messages(self) -> list[Received]:
        with self._collector.lock:
            return list(self._collector.messages)

    @property
    def running(self) -> bool:
        return self._controller is not None

    def start(self) -> SMTPServer:
        assert self._controller is None, "the SMTP server is already running"
        controller = Controller(self._collector, hostname=self.host, port=self.port)
        controller.start()
        self._controller = controller
        return self

    def stop(self) -> None:
        if self._controller is not None:
            self._controller.stop()
            self._controller = None


def _refuses_connections(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.settimeout(1.0)
        return probe.connect_ex((HOST, port)) != 0


@pytest.fixture
def smtp_server():
    """A running SMTP server; its ``port`` goes into ``MAIL_PORT``."""
    server = SMTPServer().start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def smtp_server_not_started():
    """A port where connections are refused, until the test calls ``start()``
    to serve SMTP on that same port."""
    server = SMTPServer()
    assert _refuses_connections(server.port), f"port {server.port} is unexpectedly in use"
    try:
        yield server
    finally:
        server.stop()


class SilentServer:
    """A listener that accepts connections and never says a word: an SMTP
    server that hangs. ``accepted`` is set once a client has connected."""

    def __init__(self):
        self.host = HOST
        self._socket = socket.create_server((HOST, 0))
        self.port = self._socket.getsockname()[1]
        self.accepted = threading.Event()
        self._held: list[socket.socket] = []
        self._thread = threading.Thread(target=self._accept, daemon=True)
        self._thread.start()

    def _accept(self) -> None:
        while True:
            try:
                conn, _ = self._socket.accept()
            except OSError:
                return
            self._held.append(conn)
            self.accepted.set()

    def stop(self) -> None:
        self._socket.close()
        for conn in self._held:
            conn.close()


@pytest.fixture
def silent_smtp_server():
    """A mail server that accepts connections and never answers."""
    server = SilentServer()
    try:
        yield server
    finally:
        server.stop()
