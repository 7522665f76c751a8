"""The real service under gunicorn on PostgreSQL, for end-to-end tests.

Import what a test needs::

    from tests.gunicorn_server import Client, database_url, running_gunicorn  # noqa: F401

``database_url`` is a fixture (a fresh, empty PostgreSQL database for one
test); :func:`fresh_database` makes one for any scope. :func:`secrets_env` is
the environment of a production process, :func:`run_flask` runs the documented
``flask --app wsgi …`` commands, and :func:`running_gunicorn` serves
``gunicorn wsgi:app`` from the repository root until the ``with`` block ends.
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


@contextmanager
def running_gunicorn(
    env: dict, directory: Path, command: Sequence[str] = ("gunicorn", "wsgi:app")
) -> Iterator[Gunicorn]:
    """Serve ``command`` from the repository root with ``env`` (whose ``PORT``
    it listens on, on 127.0.0.1) until the block ends, then stop it with
    SIGTERM (SIGKILL after 60 s). Logs go to ``directory``; the database must
    already be migrated, as the block starts once ``/readyz`` says ready."""
    directory.mkdir(parents=True, exist_ok=True)
    access_log, error_log = directory / "gunicorn-access.log", directory / "gunicorn-error.log"
    with access_log.open("w") as stdout, error_log.open("w") as stderr:
        process = subprocess.Popen(
            list(command),
            cwd=ROOT,
            env=env,
            stdout=stdout,
            stderr=stderr,
            start_new_session=True,
        )
    try:
        server = Gunicorn(process, int(env["PORT"]), access_log, error_log)
        wait_until_ready(process, Client(server.base_url), error_log)
        yield server
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(timeout=60)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait(timeout=30)
