"""The timeline: an entry for every event that concerns a customer, written in
the transaction of the change (the core's ``event_emitted`` hook), so that an
entry exists exactly when its change does.

An entry keeps the event's name, who acted (:func:`app.actors.current_actor`:
the admin user, the customer, a plugin, or the system) and details that are
never personal data: an update names the fields it changed, not their
values; plugins add details of their own events (``customer_event_details``).
Only an admin's note holds free text, which an erasure removes.
"""

from __future__ import annotations

import uuid

import sqlalchemy as sa

from app.actors import current_actor
from app.db import db, format_timestamp, new_uuid, utcnow
from app.deferred_inserts import insert_later
from app.errors import NotFound
from app.events import emit
from app.plugins import hooks
from app.services import service
from app.transactions import transaction, unit_of_work_state
from plugins.timeline import events
from plugins.timeline.models import CustomerEvent

# Events that make no entry: the customer's row is gone (its entries with it).
SKIPPED = {"customer_deleted"}
# Fields whose change an update does not report.
UNREPORTED = {"updated_at"}


def _customers():
    return service("customers")


def _subjects(payload: dict) -> list[int]:
    """The ids of the customers an event's payload names."""

    def whole(value) -> bool:
        return isinstance(value, int) and not isinstance(value, bool)

    if whole(payload.get("customer_id")):
        return [payload["customer_id"]]
    nested = payload.get("customer")
    if isinstance(nested, dict) and whole(nested.get("customer_id")):
        return [nested["customer_id"]]
    many = payload.get("customer_ids")
    if isinstance(many, list) and all(whole(item) for item in many):
        return list(dict.fromkeys(many))
    if isinstance(payload.get("customer_uuid"), str):
        try:
            found = _customers().find(uuid.UUID(payload["customer_uuid"]))
        except ValueError:
            found = None
        return [found["customer_id"]] if found else []
    return []


def _actor(subject: int) -> tuple[str, str | None]:
    actor = current_actor()
    if actor.type == "anonymous":
        # A visitor signing up, or holding a link mailed to the customer.
        return "customer", str(subject)
    return actor.type, actor.id


# --- recording --------------------------------------------------------------------------


def before_update(customer: dict) -> None:
    """Keep the customer as it was, to name the fields its update changes."""
    unit_of_work_state("timeline")[customer["customer_id"]] = dict(customer)


def _changed_fields(customer_id: int, payload: dict) -> list[str] | None:
    before = unit_of_work_state("timeline").pop(customer_id, None)
    if before is None:
        return None
    names = (set(before) | set(payload)) - UNREPORTED
    return sorted(name for name in names if before.get(name) != payload.get(name))


def _add_password_to_update(customer_id: int) -> None:
    """A password is not in the customer's payload: its change, announced
    right after the update's event, is added to that update's fields."""
    found = unit_of_work_state("timeline-updates").pop(customer_id, None)
    if found is None:
        return
    entry_uuid, details = found
    details = {**details, "fields": sorted({*details["fields"], "password"})}
    db.session.execute(
        sa.update(CustomerEvent).where(CustomerEvent.uuid == entry_uuid).values(details=details)
    )


def record(name: str, payload: dict) -> None:
    """Write the entries of an event, in the caller's transaction."""
    if name in SKIPPED or name == events.CUSTOMER_NOTE_ADDED.name:
        return  # a note's entry is written by add_note itself
    subjects = _subjects(payload)
    if not subjects:
        return
    details: dict = {}
    changed = None
    if name == "customer_updated" and len(subjects) == 1:
        changed = _changed_fields(subjects[0], payload)
        if changed is not None:
            details["fields"] = changed
    if name == "customer_password_changed" and len(subjects) == 1:
        _add_password_to_update(subjects[0])
    for answer in hooks().customer_event_details(name=name, payload=payload):
        details.update(answer or {})
    now = utcnow()
    rows = []
    for subject in subjects:
        actor_type, actor_id = _actor(subject)
        rows.append(
            {
                "uuid": new_uuid(),
                "customer_id": subject,
                "event": name,
                "actor_type": actor_type,
                "actor_id": actor_id,
                "details": details,
                "created_at": now,
            }
        )
    if changed is not None:
        unit_of_work_state("timeline-updates")[subjects[0]] = (rows[0]["uuid"], details)
    # Sent with the commit: nothing in the write reads the entry back.
    insert_later(db.session.connection(), CustomerEvent.__table__, rows)


# --- notes ------------------------------------------------------------------------------


def add_note(customer_uuid: uuid.UUID, note: str) -> dict:
    """An admin's note on the customer's timeline; emits ``customer_note_added``. 404."""
    with transaction():
        customer = _customers().lock(customer_uuid)
        actor_type, actor_id = _actor(customer["customer_id"])
        entry = CustomerEvent(
            customer_id=customer["customer_id"],
            event=events.CUSTOMER_NOTE_ADDED.name,
            actor_type=actor_type,
            actor_id=actor_id,
            details={},
            note=note,
        )
        db.session.add(entry)
        db.session.flush()
        emit(
            events.CUSTOMER_NOTE_ADDED,
            {
                "customer_id": customer["customer_id"],
                "uuid": customer["uuid"],
                "entry_uuid": str(entry.uuid),
            },
        )
        return present(entry)


# --- reading ----------------------------------------------------------------------------


def present(row: CustomerEvent) -> dict:
    return {
        "uuid": str(row.uuid),
        "event": row.event,
        "actor_type": row.actor_type,
        "actor_id": row.actor_id,
        "details": row.details or {},
        "note": row.note,
        "created_at": format_timestamp(row.created_at),
    }


def _newest_first(customer_id: int):
    return (
        sa.select(CustomerEvent)
        .where(CustomerEvent.customer_id == customer_id)
        .order_by(CustomerEvent.customer_event_id.desc())
    )


def page(customer_uuid: uuid.UUID, page_number: int, limit: int) -> dict:
    """A page of the customer's timeline, newest first, with the total; 404."""
    customer = _customers().find(customer_uuid)
    if customer is None:
        raise NotFound("Customer not found.")
    query = _newest_first(customer["customer_id"])
    rows = db.session.scalars(query.offset((page_number - 1) * limit).limit(limit))
    total = db.session.scalar(
        sa.select(sa.func.count())
        .select_from(CustomerEvent)
        .where(CustomerEvent.customer_id == customer["customer_id"])
    )
    return {
        "items": [present(row) for row in rows],
        "total": total,
        "currentPage": page_number,
        "limit": limit,
    }


def newest_for(customer_ids: list[int], limit: int) -> dict[int, list[dict]]:
    """The ``limit`` newest entries of each customer, in one query (GraphQL)."""
    found: dict[int, list[dict]] = {customer_id: [] for customer_id in customer_ids}
    if not customer_ids:
        return found
    rank = (
        sa.func.row_number()
        .over(
            partition_by=CustomerEvent.customer_id,
            order_by=CustomerEvent.customer_event_id.desc(),
        )
        .label("rank")
    )
    ranked = (
        sa.select(CustomerEvent.customer_event_id, rank)
        .where(CustomerEvent.customer_id.in_(customer_ids))
        .subquery()
    )
    rows = db.session.scalars(
        sa.select(CustomerEvent)
        .join(ranked, ranked.c.customer_event_id == CustomerEvent.customer_event_id)
        .where(ranked.c.rank <= limit)
        .order_by(CustomerEvent.customer_id, CustomerEvent.customer_event_id.desc())
    )
    for row in rows:
        found[row.customer_id].append(present(row))
    return found


# --- export and erasure (the privacy plugin's hooks) ------------------------------------


def export(customer: dict) -> dict:
    rows = db.session.scalars(_newest_first(customer["customer_id"]))
    return {"timeline": [present(row) for row in rows]}


def erase(customer: dict) -> None:
    """Remove the text of admins' notes (it may name the customer); the
    entries stay, as none holds personal data."""
    db.session.execute(
        sa.update(CustomerEvent)
        .where(
            CustomerEvent.customer_id == customer["customer_id"], CustomerEvent.note.is_not(None)
        )
        .values(note=None)
    )
