"""`make db-check`: the models and the migrations agree, on SQLite and PostgreSQL.

For each backend it makes an empty database, runs ``flask db upgrade`` on it,
then ``flask db check`` (Alembic's comparison of the models with the
database: "No new upgrade operations detected", or a failure listing the
drift), and drops the database. PostgreSQL is the server ``TEST_DATABASE_URL``
names (default: the local one, as `make test-evershop` uses); the role must be
allowed to create databases.

    python scripts/db_check.py [--sqlite-only]
"""

from __future__ import annotations

import argparse
import os
import secrets
import subprocess
import sys
import tempfile
import uuid
from pathlib import Path

import sqlalchemy as sa

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_PG_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/test"


def flask(url: str, *args: str) -> str:
    """The output of ``flask --app wsgi <args>`` on ``url``; stops the check when it fails."""
    env = {
        **os.environ,
        "APP_ENV": "development",
        "DATABASE_URL": url,
        # The core's models and migrations: no installed package's plugin.
        "PLUGINS_ONLY": "",
        # Given, so that nothing is written to instance/ for them.
        **{
            name: secrets.token_urlsafe(32)
            for name in (
                "SECRET_KEY",
                "JWT_ADMIN_SECRET",
                "JWT_ADMIN_REFRESH_SECRET",
                "JWT_CUSTOMER_SECRET",
                "JWT_CUSTOMER_REFRESH_SECRET",
            )
        },
    }
    command = [sys.executable, "-m", "flask", "--app", "wsgi", *args]
    done = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True)
    if done.returncode != 0:
        print((done.stdout + done.stderr).strip(), file=sys.stderr)
        raise SystemExit(f"db-check: flask {' '.join(args)} failed on {_shown(url)}")
    return done.stdout.strip()


def _shown(url: str) -> str:
    return sa.make_url(url).render_as_string(hide_password=True)


def check(url: str) -> None:
    flask(url, "db", "upgrade")
    verdict = flask(url, "db", "check")  # Alembic's logs go to stderr
    print(f"db-check: {_shown(url)}: {verdict}")


def check_sqlite() -> None:
    with tempfile.TemporaryDirectory() as folder:
        check(f"sqlite:///{Path(folder) / 'db-check.sqlite3'}")


def check_postgresql(base_url: str) -> None:
    base = sa.make_url(base_url)
    if base.drivername in {"postgresql", "postgres"}:
        base = base.set(drivername="postgresql+psycopg")
    name = f"{base.database}_db_check_{uuid.uuid4().hex[:8]}"
    admin = sa.create_engine(base, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
        try:
            check(base.set(database=name).render_as_string(hide_password=False))
        finally:
            with admin.connect() as conn:
                conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    finally:
        admin.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sqlite-only", action="store_true", help="skip PostgreSQL")
    args = parser.parse_args()
    check_sqlite()
    if not args.sqlite_only:
        check_postgresql(os.environ.get("TEST_DATABASE_URL", "").strip() or DEFAULT_PG_URL)


if __name__ == "__main__":
    main()
