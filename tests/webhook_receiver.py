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
import datetime
import json
import socket
import ssl
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

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
    def __init__(self, port: int = 0, tls: ssl.SSLContext | None = None):
        self.port = port
        self.tls = tls
        self.requests: list[Request] = []
        self._script: list[Answer] = []
        self._lock = threading.Lock()
        self._server: ThreadingHTTPServer | None = None

    def url(self, path: str = "/hook", host: str = HOST) -> str:
        scheme = "https" if self.tls else "http"
        return f"{scheme}://{host}:{self.port}{path}"

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
        if self.tls is not None:
            self._server.socket = self.tls.wrap_socket(self._server.socket, server_side=True)
        self.port = self._server.server_address[1]
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None


def certificates(folder: Path, name: str) -> tuple[Path, ssl.SSLContext]:
    """A CA made for the test, and a server context whose certificate that CA
    issued for the DNS name ``name``: ``(the CA's PEM file, the context)``."""
    now = datetime.datetime.now(datetime.UTC)

    def issue(subject, issuer, public_key, signing_key, extensions):
        builder = (
            x509.CertificateBuilder()
            .subject_name(subject)
            .issuer_name(issuer)
            .public_key(public_key)
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(minutes=5))
            .not_valid_after(now + datetime.timedelta(hours=1))
        )
        for extension, critical in extensions:
            builder = builder.add_extension(extension, critical=critical)
        return builder.sign(signing_key, hashes.SHA256())

    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "webhook test CA")])
    ca = issue(
        ca_name,
        ca_name,
        ca_key.public_key(),
        ca_key,
        [
            (x509.BasicConstraints(ca=True, path_length=None), True),
            (
                x509.KeyUsage(
                    digital_signature=True,
                    content_commitment=False,
                    key_encipherment=False,
                    data_encipherment=False,
                    key_agreement=False,
                    key_cert_sign=True,
                    crl_sign=True,
                    encipher_only=False,
                    decipher_only=False,
                ),
                True,
            ),
        ],
    )
    key = ec.generate_private_key(ec.SECP256R1())
    leaf = issue(
        x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)]),
        ca_name,
        key.public_key(),
        ca_key,
        [(x509.SubjectAlternativeName([x509.DNSName(name)]), False)],
    )
    ca_file = folder / "ca.pem"
    ca_file.write_bytes(ca.public_bytes(serialization.Encoding.PEM))
    chain = folder / "server.pem"
    chain.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
        + leaf.public_bytes(serialization.Encoding.PEM)
    )
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(chain)
    return ca_file, context


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
