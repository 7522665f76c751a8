"""What the session check and group batches cost, measured in process.

    python bench/sessions.py [--database postgresql://…/test] [--rounds 30]

On a fresh database (a new PostgreSQL database beside ``--database``, or a
SQLite file with ``--database sqlite``), through the Flask test client (no
HTTP, no gunicorn: only the service's own work):

* ``GET /api/customers/me`` with a token that carries a session id (checked
  against ``revoked_session`` on every request) and with one that carries
  none, in alternating rounds of 200 requests, with 50 revoked sessions in the
  table; the lookup alone (``app.auth.sessions.is_revoked``), 500 at a time;
* ``POST /api/customer-groups/{uuid}/customers`` with 1,000 customers.

Prints the fastest and the median round of each (docs/performance.md,
"Sessions and customer groups").
"""

from __future__ import annotations

import argparse
import logging
import statistics
import sys
import tempfile
import time
from contextlib import contextmanager
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from app import create_app  # noqa: E402
from app.auth import sessions, tokens  # noqa: E402
from app.db import db  # noqa: E402
from bench.run import DEFAULT_DB, fresh_database  # noqa: E402

PER_ROUND = 200
PASSWORD = "bench-password-1"


def config(url: str) -> dict:
    secret = "bench-secret-0123456789abcdef0123456789"
    return {
        "SQLALCHEMY_DATABASE_URI": url,
        "SECRET_KEY": secret,
        "JWT_ADMIN_SECRET": "admin-" + secret,
        "JWT_ADMIN_REFRESH_SECRET": "admin-refresh-" + secret,
        "JWT_CUSTOMER_SECRET": "customer-" + secret,
        "JWT_CUSTOMER_REFRESH_SECRET": "customer-refresh-" + secret,
        "BCRYPT_ROUNDS": 4,
        "RATELIMIT_ENABLED": False,
        "EVENTS_DELIVERY": "worker",
        "LOG_LEVEL": "WARNING",
    }


@contextmanager
def database(choice: str):
    if choice == "sqlite":
        with tempfile.TemporaryDirectory() as directory:
            yield f"sqlite:///{directory}/bench.sqlite3"
    else:
        with fresh_database(choice) as url:
            yield url.replace("postgresql://", "postgresql+psycopg://", 1)


def post(client, path: str, body: dict, token: str | None = None) -> dict:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    response = client.post(path, json=body, headers=headers)
    assert response.status_code in (200, 201), response.json
    return response.json["data"]


def rounds_of(client, token: str) -> float:
    """Milliseconds per request of one round."""
    headers = {"Authorization": f"Bearer {token}"}
    started = time.perf_counter()
    for _ in range(PER_ROUND):
        client.get("/api/customers/me", headers=headers)
    return (time.perf_counter() - started) / PER_ROUND * 1000


def line(name: str, values: list[float]) -> str:
    return f"{name:<40} fastest {min(values):7.3f}  median {statistics.median(values):7.3f} ms"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database", default=DEFAULT_DB, help="PostgreSQL URL, or 'sqlite'")
    parser.add_argument("--rounds", type=int, default=30)
    args = parser.parse_args()
    logging.disable(logging.INFO)

    with database(args.database) as url:
        app = create_app(config(url))
        with app.app_context():
            from flask_migrate import upgrade

            upgrade()
            from app.auth.service import create_admin_user

            create_admin_user("bench@example.com", PASSWORD, "Bench")
        client = app.test_client()
        admin = post(
            client, "/api/user/tokens", {"email": "bench@example.com", "password": PASSWORD}
        )
        admin = admin["accessToken"]
        customer = {"email": "me@example.com", "password": PASSWORD, "full_name": "Me"}
        created = post(client, "/api/customers", customer, admin)
        login = {"email": customer["email"], "password": PASSWORD}
        for _ in range(50):
            token = post(client, "/api/customer/tokens", login)["accessToken"]
            post(client, "/api/customer/tokens/revoke", {}, token)
        with_sid = post(client, "/api/customer/tokens", login)["accessToken"]
        with app.app_context():
            from plugins.customer.models import Customer

            row = db.session.get(Customer, created["customer_id"])
            without_sid = tokens.issue("customer", "access", row.to_identity(), row.token_version)
            sid = tokens.verify(with_sid, "access")["sid"]
            db.session.remove()

        rounds_of(client, with_sid), rounds_of(client, without_sid)  # warm up
        timings: dict[str, list[float]] = {"without a session id": [], "with a session id": []}
        for _ in range(args.rounds):
            timings["without a session id"].append(rounds_of(client, without_sid))
            timings["with a session id"].append(rounds_of(client, with_sid))
        with app.app_context():
            alone = []
            for _ in range(args.rounds):
                started = time.perf_counter()
                for _ in range(500):
                    sessions.is_revoked(sid)
                alone.append((time.perf_counter() - started) / 500 * 1000)
            db.session.remove()

        group = post(client, "/api/customer-groups", {"group_name": "Bench"}, admin)
        with app.app_context():
            rows = [
                Customer(email=f"bulk{n}@example.com", password="x", full_name="Bulk")
                for n in range(1000)
            ]
            db.session.add_all(rows)
            db.session.commit()
            uuids = [str(r.uuid) for r in rows]
            db.session.remove()
        started = time.perf_counter()
        post(client, f"/api/customer-groups/{group['uuid']}/customers", {"customers": uuids}, admin)
        batch = time.perf_counter() - started
        with app.app_context():
            db.engine.dispose()

    print(f"database: {'SQLite' if args.database == 'sqlite' else 'PostgreSQL'}")
    print(f"GET /api/customers/me, {args.rounds} rounds of {PER_ROUND}:")
    for name, values in timings.items():
        print("  " + line(name, values))
    print("  " + line("the lookup alone", alone))
    print(f"assigning 1,000 customers to a group: {batch:.2f} s")


if __name__ == "__main__":
    main()
