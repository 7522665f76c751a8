"""Read requests on PostgreSQL run their statements without a transaction
(no BEGIN, no ROLLBACK); writes keep theirs (docs/architecture.md,
"Transactions")."""

from __future__ import annotations

import pytest
import sqlalchemy as sa
from psycopg.pq import TransactionStatus

from app import lazy_begin
from app.db import db
from app.transactions import transaction
from plugins.customer.models import Customer
from tests.helpers import watch_statements


@pytest.fixture
def postgresql_only(backend):
    if backend != "postgresql":
        pytest.skip("SQLite keeps its own transactions (BEGIN or BEGIN IMMEDIATE)")


@pytest.fixture
def admin(auth) -> dict:
    return auth.admin_headers()


def autocommits(conn) -> bool:
    """Whether a statement sent now on ``conn`` runs outside any transaction:
    the driver autocommits, the server has none open, and none is to begin
    with the statement (app/lazy_begin.py)."""
    dbapi_connection = conn.connection.dbapi_connection
    return (
        dbapi_connection.autocommit
        and dbapi_connection.pgconn.transaction_status == TransactionStatus.IDLE
        and not lazy_begin.pending(conn)
    )


def autocommit_of_statements(app, send) -> tuple:
    """The response of ``send()`` and, for each statement it ran through the
    session's engine, (SQL, whether it ran outside any transaction)."""
    seen: list[tuple[str, bool]] = []
    response = watch_statements(app, send, lambda conn, sql: seen.append((sql, autocommits(conn))))
    return response, seen


def test_a_get_runs_every_statement_in_autocommit(app, client, admin, auth, postgresql_only):
    customer = auth.create_customer()

    response, seen = autocommit_of_statements(
        app, lambda: client.get(f"/api/customers/{customer['uuid']}", headers=admin)
    )

    assert response.status_code == 200, response.json
    assert seen
    assert all(autocommit for _, autocommit in seen), seen


def test_a_graphql_query_runs_every_statement_in_autocommit(
    app, client, admin, auth, postgresql_only
):
    customer = auth.create_customer()
    query = f'{{ customer(id: "{customer["uuid"]}") {{ email addresses {{ city }} }} }}'

    response, seen = autocommit_of_statements(
        app, lambda: client.post("/api/admin/graphql", json={"query": query}, headers=admin)
    )

    assert response.status_code == 200, response.json
    assert response.json["data"]["customer"]["email"] == customer["email"]
    assert seen
    assert all(autocommit for _, autocommit in seen), seen


def test_a_write_runs_in_a_transaction(app, client, admin, auth, postgresql_only):
    customer = auth.create_customer()

    response, seen = autocommit_of_statements(
        app,
        lambda: client.patch(
            f"/api/customers/{customer['uuid']}", json={"full_name": "New Name"}, headers=admin
        ),
    )

    assert response.status_code == 200, response.json
    writes = [(sql, autocommit) for sql, autocommit in seen if sql.startswith(("UPDATE", "INSERT"))]
    assert writes
    assert not any(autocommit for _, autocommit in writes), writes


def test_a_read_requests_connection_goes_back_to_the_pool_transactional(
    app, client, admin, auth, postgresql_only
):
    customer = auth.create_customer()
    assert client.get(f"/api/customers/{customer['uuid']}", headers=admin).status_code == 200

    with app.app_context(), db.engine.connect() as connection:
        autocommit = connection.connection.dbapi_connection.autocommit

    assert autocommit is False


def test_a_write_inside_a_read_request_is_still_all_or_nothing(app, auth, postgresql_only):
    customer = auth.create_customer(full_name="Kept Name")

    with app.test_request_context("/api/customers", method="GET"):
        # A read first: the session's connection autocommits.
        assert db.session.scalar(sa.select(sa.func.count()).select_from(Customer)) == 1
        with pytest.raises(RuntimeError), transaction() as session:
            session.execute(
                sa.update(Customer)
                .where(Customer.customer_id == customer["customer_id"])
                .values(full_name="Half Written")
            )
            raise RuntimeError("fails after the update")
        db.session.remove()

    with app.app_context():
        name = db.session.scalar(
            sa.select(Customer.full_name).where(Customer.customer_id == customer["customer_id"])
        )
        db.session.remove()
    assert name == "Kept Name"
