"""Health probes: ``/healthz`` says the process answers, ``/readyz`` that the
database answers and is migrated to the head revision (503 with the reason
otherwise). Neither takes a token."""

from __future__ import annotations

import contextlib
import shutil
import socket
import threading
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest
import sqlalchemy as sa
from alembic.config import Config
from alembic.script import ScriptDirectory
from flask_migrate import upgrade

from app import create_app
from app.db import db
from tests.conftest import _base_config, _drop_pg_database

ROOT = Path(__file__).resolve().parent.parent
SECRET_PASSWORD = "s3cret-db-password"


def _head() -> str:
    config = Config()
    config.set_main_option("script_location", str(ROOT / "migrations"))
    return ", ".join(sorted(ScriptDirectory.from_config(config).get_heads()))


HEAD = _head()


# --- fixtures ---------------------------------------------------------------------


@pytest.fixture
def build_app():
    """Apps on a database of the test's choosing; their engines are closed after."""
    made = []

    def build(url: str):
        app = create_app(_base_config(url))
        made.append(app)
        return app

    yield build
    for app in made:
        with app.app_context():
            db.session.remove()
            db.engine.dispose()


@pytest.fixture
def empty_database_url(backend, database_urls, tmp_path):
    """A database with no tables at all, on the test's backend."""
    if backend == "sqlite":
        yield f"sqlite:///{tmp_path / 'empty.sqlite3'}"
        return
    url = sa.make_url(database_urls["postgresql"])
    name = f"{url.database}_health_{uuid.uuid4().hex[:8]}"
    engine = sa.create_engine(url.set(database="postgres"), isolation_level="AUTOCOMMIT")
    with engine.connect() as conn:
        conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    engine.dispose()
    made = url.set(database=name).render_as_string(hide_password=False)
    yield made
    _drop_pg_database(made)


def _table_names(url: str) -> list[str]:
    engine = sa.create_engine(url)
    try:
        return sa.inspect(engine).get_table_names()
    finally:
        engine.dispose()


class TcpProxy:
    """A loopback port that forwards to PostgreSQL, and can be cut and restored
    (the machine's PostgreSQL itself keeps running)."""

    def __init__(self, host: str, port: int):
        self.upstream = (host, port)
        self.port = 0
        self._listener: socket.socket | None = None
        self._thread: threading.Thread | None = None
        self._open: set[socket.socket] = set()
        self._lock = threading.Lock()

    def start(self) -> None:
        listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind(("127.0.0.1", self.port))
        listener.listen(16)
        listener.settimeout(0.1)
        self.port = listener.getsockname()[1]
        self._listener = listener
        self._thread = threading.Thread(target=self._accept, args=(listener,), daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """Refuse new connections and drop the open ones."""
        if self._listener is not None:
            self._listener = None
            self._thread.join()  # it closes the listener on its way out
        with self._lock:
            sockets, self._open = self._open, set()
        for sock in sockets:
            _close(sock)

    def _accept(self, listener: socket.socket) -> None:
        with listener:
            while self._listener is listener:
                try:
                    client, _ = listener.accept()
                except TimeoutError:
                    continue
                try:
                    server = socket.create_connection(self.upstream, timeout=5)
                except OSError:
                    _close(client)
                    continue
                client.settimeout(None)
                server.settimeout(None)
                with self._lock:
                    self._open.update((client, server))
                for pair in ((client, server), (server, client)):
                    threading.Thread(target=self._pump, args=pair, daemon=True).start()

    def _pump(self, source: socket.socket, target: socket.socket) -> None:
        try:
            while chunk := source.recv(65536):
                target.sendall(chunk)
        except OSError:
            pass
        finally:
            for sock in (source, target):
                with self._lock:
                    self._open.discard(sock)
                _close(sock)


def _close(sock: socket.socket) -> None:
    with contextlib.suppress(OSError):
        sock.shutdown(socket.SHUT_RDWR)
    sock.close()


@dataclass
class Outage:
    url: str  # the migrated test database, reached through something that can fail
    cut: Callable[[], None]
    restore: Callable[[], None]


@pytest.fixture
def outage(backend, database_urls, tmp_path):
    """The migrated database behind a link the test can cut and restore.

    PostgreSQL: through a TCP proxy (and with a password in the URL, which must
    never show). SQLite: a copy of the database in a folder that is moved away
    and back.
    """
    if backend == "sqlite":
        live, away = tmp_path / "live", tmp_path / "away"
        live.mkdir()
        source = sa.make_url(database_urls["sqlite"]).database
        shutil.copy(source, live / "test.sqlite3")
        yield Outage(
            url=f"sqlite:///{live / 'test.sqlite3'}",
            cut=lambda: live.rename(away),
            restore=lambda: away.rename(live),
        )
        return
    url = sa.make_url(database_urls["postgresql"])
    proxy = TcpProxy(url.host or "127.0.0.1", url.port or 5432)
    proxy.start()
    through_proxy = url.set(host="127.0.0.1", port=proxy.port, password=SECRET_PASSWORD)
    yield Outage(
        url=through_proxy.render_as_string(hide_password=False),
        cut=proxy.stop,
        restore=proxy.start,
    )
    proxy.stop()


# --- /healthz -----------------------------------------------------------------------


def test_healthz_answers_ok_without_a_token(client):
    response = client.get("/healthz")

    assert response.status_code == 200
    assert response.json == {"data": {"status": "ok"}}
    assert response.headers["X-Request-ID"]


def test_healthz_answers_ok_while_the_database_is_unreachable(build_app, outage):
    # Given a service whose database cannot be reached
    client = build_app(outage.url).test_client()
    outage.cut()

    # When the process manager asks whether the process is alive
    response = client.get("/healthz")

    # Then it is: a database outage is no reason to restart it
    assert response.status_code == 200
    assert response.json == {"data": {"status": "ok"}}
    outage.restore()


# --- /readyz ------------------------------------------------------------------------


def test_readyz_is_ready_on_a_migrated_database_without_a_token(client):
    response = client.get("/readyz")

    assert response.status_code == 200
    assert response.json == {"data": {"status": "ready", "revision": HEAD}}


def test_readyz_is_not_ready_on_an_unmigrated_database(build_app, empty_database_url):
    # Given a database that was never migrated
    client = build_app(empty_database_url).test_client()

    # When the load balancer asks whether the service is ready
    response = client.get("/readyz")

    # Then it is not, and the answer says why
    assert response.status_code == 503
    assert response.json == {
        "error": {"status": 503, "message": f"migrations not at head: at none, head is {HEAD}"}
    }
    # and the probe created nothing, not even Alembic's version table
    assert _table_names(empty_database_url) == []


def test_readyz_is_not_ready_on_a_database_behind_the_head_revision(build_app, empty_database_url):
    # Given a database migrated to the first revision only
    app = build_app(empty_database_url)
    with app.app_context():
        upgrade(revision="0001")
        db.engine.dispose()

    # When the load balancer asks whether the service is ready
    response = app.test_client().get("/readyz")

    # Then it is not, naming both revisions
    assert response.status_code == 503
    assert response.json == {
        "error": {"status": 503, "message": f"migrations not at head: at 0001, head is {HEAD}"}
    }


def test_readyz_is_not_ready_while_the_database_is_unreachable_and_ready_when_it_returns(
    build_app, outage
):
    # Given a ready service
    client = build_app(outage.url).test_client()
    assert client.get("/readyz").status_code == 200

    # When its database becomes unreachable
    outage.cut()
    down = client.get("/readyz")

    # Then it is not ready, says why, and shows no credentials
    assert down.status_code == 503
    assert set(down.json) == {"error"}
    assert set(down.json["error"]) == {"status", "message"}
    assert down.json["error"]["status"] == 503
    message = down.json["error"]["message"]
    assert message.startswith("database unreachable: ")
    assert len(message) > len("database unreachable: ")
    assert SECRET_PASSWORD not in message

    # And when the database is back, the same process is ready again
    outage.restore()
    up = client.get("/readyz")
    assert up.status_code == 200
    assert up.json == {"data": {"status": "ready", "revision": HEAD}}
