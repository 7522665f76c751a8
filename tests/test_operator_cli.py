"""The operator's commands (docs/operations.md, "Operator commands"):
``flask events list|purge`` and ``flask customers find|disable|enable``, on
SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import timedelta

import sqlalchemy as sa

from app.db import db, utcnow
from app.events import EventOutbox

EMAIL = "john.smith@example.com"


def invoke(app, *args, **kwargs):
    return app.test_cli_runner().invoke(args=list(args), **kwargs)


def outbox(app) -> list[dict]:
    with app.app_context():
        rows = db.session.execute(
            sa.select(EventOutbox.__table__).order_by(EventOutbox.event_outbox_id)
        ).all()
        db.session.remove()
    return [row._asdict() for row in rows]


def customer_row(app, email=EMAIL) -> dict:
    with app.app_context():
        row = db.session.execute(
            sa.text("SELECT status, updated_at FROM customer WHERE email = :email"),
            {"email": email},
        ).one()
        db.session.remove()
    return row._asdict()


def give_up(app, event_id: int, days_ago: float = 0) -> None:
    """Mark an event as given up, ``days_ago`` days ago."""
    with app.app_context():
        with db.engine.begin() as conn:
            conn.execute(
                sa.update(EventOutbox.__table__)
                .where(EventOutbox.event_outbox_id == event_id)
                .values(failed_at=utcnow() - timedelta(days=days_ago), attempts=3)
            )
        db.session.remove()


def lease(app, event_id: int) -> None:
    with app.app_context():
        with db.engine.begin() as conn:
            conn.execute(
                sa.update(EventOutbox.__table__)
                .where(EventOutbox.event_outbox_id == event_id)
                .values(locked_until=utcnow() + timedelta(minutes=5), locked_by="elsewhere")
            )
        db.session.remove()


# --- flask events list -------------------------------------------------------------------


def test_events_list_shows_pending_leased_and_failed_events(app, auth):
    auth.create_customer()
    auth.create_customer(email="jane@example.com")
    auth.create_customer(email="joe@example.com")
    first, second, third = (row["event_outbox_id"] for row in outbox(app))
    lease(app, second)
    give_up(app, third)

    result = invoke(app, "events", "list")

    assert result.exit_code == 0, result.output
    lines = [line.split("\t") for line in result.output.splitlines()]
    assert [fields[:4] for fields in lines] == [
        [str(first), "customer_registered", "pending", "attempts 0"],
        [str(second), "customer_registered", "leased", "attempts 0"],
        [str(third), "customer_registered", "failed", "attempts 3"],
    ]
    assert all(fields[4].startswith("next ") for fields in lines)


def test_events_list_keeps_the_events_of_one_name(app, auth, client):
    customer = auth.create_customer()
    client.patch(
        f"/api/customers/{customer['uuid']}", json={"full_name": "J"}, headers=auth.admin_headers()
    )

    result = invoke(app, "events", "list", "--name", "customer_updated")

    assert result.exit_code == 0, result.output
    (line,) = result.output.splitlines()
    assert line.split("\t")[1:3] == ["customer_updated", "pending"]


def test_events_list_limit_keeps_the_oldest(app, auth):
    auth.create_customer()
    auth.create_customer(email="jane@example.com")

    result = invoke(app, "events", "list", "--limit", "1")

    assert result.exit_code == 0, result.output
    assert [line.split("\t")[0] for line in result.output.splitlines()] == [
        str(outbox(app)[0]["event_outbox_id"])
    ]


def test_events_list_says_so_when_the_outbox_is_empty(app):
    result = invoke(app, "events", "list")

    assert (result.exit_code, result.output) == (0, "no events in the outbox\n")


# --- flask events purge -------------------------------------------------------------------


def test_events_purge_failed_deletes_only_failed_events(app, auth):
    auth.create_customer()
    auth.create_customer(email="jane@example.com")
    kept, failed = (row["event_outbox_id"] for row in outbox(app))
    give_up(app, failed)

    result = invoke(app, "events", "purge", "--failed", "--yes")

    assert (result.exit_code, result.output) == (0, "deleted 1 failed event\n")
    assert [row["event_outbox_id"] for row in outbox(app)] == [kept]


def test_events_purge_older_than_keeps_recent_failures(app, auth):
    auth.create_customer()
    auth.create_customer(email="jane@example.com")
    old, recent = (row["event_outbox_id"] for row in outbox(app))
    give_up(app, old, days_ago=10)
    give_up(app, recent, days_ago=1)

    result = invoke(app, "events", "purge", "--failed", "--older-than", "7", "--yes")

    assert (result.exit_code, result.output) == (0, "deleted 1 failed event\n")
    assert [row["event_outbox_id"] for row in outbox(app)] == [recent]


def test_events_purge_asks_before_deleting(app, auth):
    auth.create_customer()
    (row,) = outbox(app)
    give_up(app, row["event_outbox_id"])

    result = invoke(app, "events", "purge", "--failed", input="y\n")

    assert result.exit_code == 0, result.output
    assert result.output == "Delete 1 failed event? [y/N]: y\ndeleted 1 failed event\n"
    assert outbox(app) == []


def test_events_purge_refused_at_the_prompt_deletes_nothing(app, auth):
    auth.create_customer()
    (row,) = outbox(app)
    give_up(app, row["event_outbox_id"])

    result = invoke(app, "events", "purge", "--failed", input="n\n")

    assert result.exit_code == 1
    assert result.output == "Delete 1 failed event? [y/N]: n\nAborted!\n"
    assert len(outbox(app)) == 1


def test_events_purge_needs_to_be_told_what_to_purge(app, auth):
    auth.create_customer()

    result = invoke(app, "events", "purge", "--yes")

    assert result.exit_code == 2
    assert "Say what to purge: --failed (events given up)." in result.output
    assert len(outbox(app)) == 1


def test_events_purge_with_no_failed_events_says_so(app, auth):
    auth.create_customer()

    result = invoke(app, "events", "purge", "--failed", "--yes")

    assert (result.exit_code, result.output) == (0, "no failed events\n")
    assert len(outbox(app)) == 1


# --- flask customers find -----------------------------------------------------------------


def test_customers_find_by_part_of_the_email(app, auth):
    john = auth.create_customer()
    auth.create_customer(email="jane@other.example", full_name="Jane Doe")

    result = invoke(app, "customers", "find", "SMITH@example")

    assert result.exit_code == 0, result.output
    assert result.output == (
        f"{john['customer_id']}\t{john['uuid']}\t{EMAIL}\tactive\tJohn Smith\n"
    )


def test_customers_find_by_uuid(app, auth):
    auth.create_customer()
    jane = auth.create_customer(email="jane@example.com", full_name="Jane Doe", status=0)

    result = invoke(app, "customers", "find", jane["uuid"].upper())

    assert result.exit_code == 0, result.output
    assert result.output == (
        f"{jane['customer_id']}\t{jane['uuid']}\tjane@example.com\tdisabled\tJane Doe\n"
    )


def test_customers_find_by_name_lists_every_match_by_email(app, auth):
    auth.create_customer(email="b@example.com", full_name="Ann Smith")
    auth.create_customer(email="a@example.com", full_name="Bob Smith")
    auth.create_customer(email="c@example.com", full_name="Carl Jones")

    result = invoke(app, "customers", "find", "smith")

    assert result.exit_code == 0, result.output
    assert [line.split("\t")[2] for line in result.output.splitlines()] == [
        "a@example.com",
        "b@example.com",
    ]


def test_customers_find_never_prints_a_password_hash(app, auth):
    auth.create_customer()

    result = invoke(app, "customers", "find", "john")

    assert result.exit_code == 0, result.output
    assert "$2" not in result.output


def test_customers_find_without_a_match_fails_in_one_line(app, auth):
    auth.create_customer()

    result = invoke(app, "customers", "find", "nobody@example.com")

    assert result.exit_code == 1
    assert result.output == "Error: no customer matches 'nobody@example.com'\n"


# --- flask customers disable / enable -------------------------------------------------------


def test_customers_disable_sets_status_0_through_the_service(app, auth, events):
    auth.create_customer()

    result = invoke(app, "customers", "disable", "John.Smith@EXAMPLE.com")

    assert (result.exit_code, result.output) == (0, f"Customer {EMAIL} is now disabled.\n")
    assert customer_row(app)["status"] == 0
    name, payload = events()[-1]
    assert (name, payload["email"], payload["status"]) == ("customer_updated", EMAIL, 0)


def test_customers_disable_stops_the_customers_tokens_at_once(app, auth, client):
    auth.create_customer()
    headers = auth.customer_headers()
    assert client.get("/api/customers/me", headers=headers).status_code == 200

    invoke(app, "customers", "disable", EMAIL)

    assert client.get("/api/customers/me", headers=headers).status_code == 401
    login = client.post(
        "/api/customer/tokens", json={"email": EMAIL, "password": "customer-pass-1"}
    )
    assert login.status_code == 401


def test_customers_disable_runs_the_update_hooks(app, auth, register_plugin):
    seen = []

    class Watcher:
        from app.plugins import hookimpl

        @hookimpl
        def customer_before_update(self, customer, data):
            seen.append(("before", customer["email"], dict(data)))

        @hookimpl
        def customer_after_update(self, customer, changes):
            seen.append(("after", customer["status"], list(changes)))

    register_plugin(Watcher())
    auth.create_customer()

    invoke(app, "customers", "disable", EMAIL)

    assert seen == [("before", EMAIL, {"status": 0}), ("after", 0, ["status"])]


def test_customers_disable_of_a_disabled_customer_writes_nothing(app, auth, events):
    auth.create_customer(status=0)
    before = customer_row(app)

    result = invoke(app, "customers", "disable", EMAIL)

    assert (result.exit_code, result.output) == (0, f"Customer {EMAIL} is already disabled.\n")
    assert customer_row(app) == before
    assert [name for name, _ in events()] == ["account_created"]


def test_customers_enable_lets_the_customer_log_in_again(app, auth, client, events):
    auth.create_customer()
    invoke(app, "customers", "disable", EMAIL)

    result = invoke(app, "customers", "enable", EMAIL)

    assert (result.exit_code, result.output) == (0, f"Customer {EMAIL} is now active.\n")
    assert customer_row(app)["status"] == 1
    assert client.get("/api/customers/me", headers=auth.customer_headers()).status_code == 200
    assert [name for name, _ in events()][-2:] == ["customer_updated", "customer_updated"]


def test_customers_disable_of_an_unknown_email_fails_in_one_line(app, auth, events):
    auth.create_customer()

    result = invoke(app, "customers", "disable", "nobody@example.com")

    assert result.exit_code == 1
    assert result.output == "Error: no customer has the email nobody@example.com\n"
    assert customer_row(app)["status"] == 1
    assert [name for name, _ in events()] == ["customer_registered"]


def test_customers_enable_of_an_unknown_email_fails_in_one_line(app):
    result = invoke(app, "customers", "enable", "nobody@example.com")

    assert result.exit_code == 1
    assert result.output == "Error: no customer has the email nobody@example.com\n"


def test_every_operator_command_has_help(app):
    for group, command in [
        ("events", "list"),
        ("events", "purge"),
        ("customers", "find"),
        ("customers", "disable"),
        ("customers", "enable"),
        ("customers", "export"),
        ("customers", "import"),
    ]:
        result = invoke(app, group, command, "--help")
        assert result.exit_code == 0, result.output
        usage, blank, description = result.output.splitlines()[:3]
        assert usage.startswith("Usage: ") and f" {group} {command} [OPTIONS]" in usage
        assert (blank, description.strip() != "") == ("", True), result.output
