"""The event worker's claim stays cheap on an outbox full of dead rows, as
the outbox is between two vacuums under a steady flow of events
(docs/performance.md, "Reset-password: known and unknown emails")."""

from __future__ import annotations

import pytest

from app.db import db, write_connection
from app.events import _CLAIM_SETTINGS, _claim, deliver
from tests.conftest import BACKENDS

NOTE = "customer_note_added"


@pytest.fixture(params=[b for b in BACKENDS if b == "postgresql"])
def backend(request) -> str:
    # Plans and dead rows are PostgreSQL's.
    return request.param


def churn(app, count: int) -> None:
    """``count`` events written, claimed and deleted: dead rows in the
    outbox and its indexes, which only a vacuum removes."""
    with app.app_context(), db.engine.begin() as conn:
        conn.exec_driver_sql(
            "INSERT INTO event_outbox (uuid, name, payload, attempts, next_attempt_at,"
            " delivered_to, created_at, expires_at)"
            f" SELECT gen_random_uuid(), '{NOTE}', '{{}}', 0, now() - interval '1 minute',"
            " '[]', now(), now() + interval '1 day' FROM generate_series(1, %(n)s)",
            {"n": count},
        )
        conn.exec_driver_sql("UPDATE event_outbox SET locked_until = now(), locked_by = 'w'")
        conn.exec_driver_sql("DELETE FROM event_outbox")


def claim_plan(app) -> str:
    """The plan of the claim's search for due events, in a claim's transaction."""
    with app.app_context(), write_connection() as conn:
        conn.execute(_CLAIM_SETTINGS)
        rows = conn.exec_driver_sql(
            "EXPLAIN SELECT event_outbox_id FROM event_outbox WHERE failed_at IS NULL"
            " AND next_attempt_at <= now() AND (locked_until IS NULL OR locked_until <= now())"
            " ORDER BY event_outbox_id LIMIT 100 FOR UPDATE SKIP LOCKED"
        ).all()
    return "\n".join(row[0] for row in rows)


def test_the_claim_does_not_bitmap_scan_an_outbox_full_of_dead_rows(app):
    churn(app, 50_000)

    assert "Bitmap" not in claim_plan(app)


def test_a_claim_on_an_outbox_full_of_dead_rows_still_leases_the_due_events(app, events):
    churn(app, 20_000)
    with app.app_context():
        from app.events import emit
        from app.transactions import transaction

        with transaction():
            emit(NOTE, {"n": 1})
        rows = _claim(100, None, "test-owner", 60)
        db.session.remove()

    assert [(row.name, row.locked_by) for row in rows] == [(NOTE, "test-owner")]
    with app.app_context():
        assert deliver().delivered == 0  # leased: no other delivery takes it meanwhile
        db.session.remove()
