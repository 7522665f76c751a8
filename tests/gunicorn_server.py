"""The real service under gunicorn on PostgreSQL, for end-to-end tests.

Import what a test needs::

    from tests.gunicorn_server import Client, database_url, running_gunicorn  # noqa: F401

``database_url`` is a fixture (a fresh, empty PostgreSQL database for one
test); :func:`fresh_database` makes one for any scope. :func:`secrets_env` is
the environment of a production process, :func:`run_flask` runs the documented
``flask --app wsgi …`` commands (:func:`spawn_flask` starts a long-running one,
such as ``events run``), and :func:`running_gunicorn` serves ``gunicorn
wsgi:app`` from the repository root until the ``with`` block ends;
:class:`GunicornInstance` is one that a test stops and starts again.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
import uuid
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest
import sqlalchemy as sa

from tests.conftest import PG_URL, _drop_pg_database, _pg_url

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent  # the virtualenv's scripts: flask, gunicorn

needs_postgresql = pytest.mark.skipif(
    not PG_URL, reason="needs PostgreSQL (TEST_DATABASE_URL), as production does"
)


def free_port() -> int:
    """A loopback port that nothing listens on (at the time of asking)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@contextmanager
def fresh_database(label: str = "e2e") -> Iterator[str]:
    """A fresh, empty PostgreSQL database beside TEST_DATABASE_URL's, as a plain
    ``postgresql://`` URL; dropped when the block ends."""
    url = _pg_url(PG_URL)
    name = f"{url.database}_{label}_{uuid.uuid4().hex[:8]}"
    engine = sa.create_engine(url.set(database="postgres"), isolation_level="AUTOCOMMIT")
    with engine.connect() as conn:
        conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    engine.dispose()
    made = url.set(drivername="postgresql", database=name)
    try:
        yield made.render_as_string(hide_password=False)
    finally:
        _drop_pg_database(made.set(drivername="postgresql+psycopg").render_as_string(False))


@pytest.fixture
def database_url():
    """A fresh, empty PostgreSQL database, as a plain ``postgresql://`` URL."""
    with fresh_database() as url:
        yield url


def secrets_env(home: Path) -> dict:
    """The environment of a production process: its secrets, and no more."""
    return {
        "PATH": f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}",
        "HOME": str(home),
        "LANG": "C.UTF-8",
        "APP_ENV": "production",
        "SECRET_KEY": "e2e-secret-key-0123456789abcdef0123456789",
        "JWT_ADMIN_SECRET": "e2e-admin-secret-0123456789abcdef012345",
        "JWT_ADMIN_REFRESH_SECRET": "e2e-admin-refresh-secret-0123456789abcd",
        "JWT_CUSTOMER_SECRET": "e2e-customer-secret-0123456789abcdef0123",
        "JWT_CUSTOMER_REFRESH_SECRET": "e2e-customer-refresh-secret-0123456789a",
        # No installed package's plugin loads unless a test names it.
        "PLUGINS_ONLY": "",
    }


def run_flask(env: dict, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        ["flask", "--app", "wsgi", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def spawn_flask(env: dict, log: Path, *args: str) -> subprocess.Popen:
    """Start ``flask --app wsgi …`` in a session of its own, its output in
    ``log``; stop it with :func:`stop_process`."""
    with log.open("w") as output:
        return subprocess.Popen(
            ["flask", "--app", "wsgi", *args],
            cwd=ROOT,
            env=env,
            stdout=output,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )


class Client:
    """The README's curl lines, over urllib: bodies sent as ``--data-raw`` does
    (JSON with curl's form Content-Type)."""

    def __init__(self, base: str, timeout: float = 30):
        self.base = base
        self.timeout = timeout

    def __call__(self, method, path, body=None, token=None, query=None, headers=None):
        url = self.base + path + (f"?{urllib.parse.urlencode(query)}" if query else "")
        sent = {"Accept": "application/json", **(headers or {})}
        data = None
        if body is not None:
            data = json.dumps(body).encode()
            sent["Content-Type"] = "application/x-www-form-urlencoded"
        if token:
            sent["Authorization"] = f"Bearer {token}"
        request = urllib.request.Request(url, data=data, headers=sent, method=method)
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as response:
                return response.status, response.headers, json.loads(response.read())
        except urllib.error.HTTPError as error:
            with error:
                return error.code, error.headers, json.loads(error.read())


def wait_until_ready(process: subprocess.Popen, client: Client, logs: Path) -> dict:
    """``/readyz``'s 200 answer once gunicorn serves; fails the test if gunicorn
    exits or is not ready within 60 s, with its log."""
    deadline = time.monotonic() + 60
    last = None
    while time.monotonic() < deadline:
        if process.poll() is not None:
            pytest.fail(f"gunicorn exited with {process.returncode}:\n{logs.read_text()}")
        try:
            status, _, body = client("GET", "/readyz")
        except OSError as error:  # not listening yet
            last = error
        else:
            if status == 200:
                return body
            last = body
        time.sleep(0.2)
    pytest.fail(f"gunicorn was not ready within 60 s (last answer: {last}):\n{logs.read_text()}")


@dataclass(frozen=True)
class Gunicorn:
    """A running gunicorn: its process, address and log files."""

    process: subprocess.Popen
    port: int
    access_log: Path
    error_log: Path

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def address(self) -> str:
        """``host:port``, as an nginx upstream names it."""
        return f"127.0.0.1:{self.port}"


def stop_process(process: subprocess.Popen, timeout: float = 60) -> int:
    """Stop a process started in a session of its own with SIGTERM, as a
    supervisor would (SIGKILL to its whole group after ``timeout`` seconds);
    its exit status."""
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=30)
    return process.returncode


class GunicornInstance:
    """``command`` served from the repository root with ``env`` (whose ``PORT``
    it listens on, on 127.0.0.1), which can be stopped and started again on
    the same port. Each start logs to files of its own in ``directory``."""

    def __init__(
        self, env: dict, directory: Path, command: Sequence[str] = ("gunicorn", "wsgi:app")
    ):
        self.env = env
        self.directory = directory
        self.command = list(command)
        self.port = int(env["PORT"])
        self.starts = 0
        self.server: Gunicorn | None = None

    @property
    def address(self) -> str:
        """``host:port``, as an nginx upstream names it."""
        return f"127.0.0.1:{self.port}"

    def start(self) -> Gunicorn:
        """Start gunicorn and return once ``/readyz`` says ready (the database
        must already be migrated); fails the test if it exits first."""
        assert self.server is None, "gunicorn is already running"
        self.starts += 1
        self.directory.mkdir(parents=True, exist_ok=True)
        # The first start's logs keep the names other tests read.
        suffix = "" if self.starts == 1 else f"-{self.starts}"
        access_log = self.directory / f"gunicorn-access{suffix}.log"
        error_log = self.directory / f"gunicorn-error{suffix}.log"
        with access_log.open("w") as stdout, error_log.open("w") as stderr:
            process = subprocess.Popen(
                self.command,
                cwd=ROOT,
                env=self.env,
                stdout=stdout,
                stderr=stderr,
                start_new_session=True,
            )
        self.server = Gunicorn(process, self.port, access_log, error_log)
        try:
            wait_until_ready(process, Client(self.server.base_url), error_log)
        except BaseException:
            self.stop()
            raise
        return self.server

    def stop(self) -> int | None:
        """SIGTERM (gunicorn lets requests in flight finish), SIGKILL after
        60 s; gunicorn's exit status, or None if it was not running."""
        if self.server is None:
            return None
        server, self.server = self.server, None
        return stop_process(server.process)


@contextmanager
def running_gunicorn(
    env: dict, directory: Path, command: Sequence[str] = ("gunicorn", "wsgi:app")
) -> Iterator[Gunicorn]:
    """Serve ``command`` from the repository root with ``env`` (whose ``PORT``
    it listens on, on 127.0.0.1) until the block ends, then stop it with
    SIGTERM (SIGKILL after 60 s). Logs go to ``directory``; the database must
    already be migrated, as the block starts once ``/readyz`` says ready."""
    instance = GunicornInstance(env, directory, command)
    try:
        yield instance.start()
    finally:
        instance.stop()
