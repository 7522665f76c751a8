"""Customer addresses: the only place that writes them.

Every write first locks the owning customer through the customer plugin's
service, so that the writes of one customer's addresses happen one after the
other; with the partial unique index on ``(customer_id) WHERE is_default``
this keeps at most one default address even under concurrent requests.
"""

from __future__ import annotations

import uuid
from types import SimpleNamespace

import sqlalchemy as sa

from app import driver_reads
from app.db import db, new_uuid, utcnow
from app.deferred_inserts import insert_later, update_later
from app.errors import NotFound, ValidationError
from app.events import emit
from app.plugins import HookContext, collect, hooks
from app.services import service
from app.transactions import after_commit, transaction
from plugins.address import events
from plugins.address.models import ADDRESS_FIELDS, CustomerAddress
from plugins.address.presenter import fields, present, present_many

CUSTOMER_NOT_FOUND = "Customer not found."
ADDRESS_NOT_FOUND = "Address not found."


# Built once (docs/performance.md, "Statements built once").
_ONE = sa.select(CustomerAddress).where(
    CustomerAddress.uuid == sa.bindparam("uuid"),
    CustomerAddress.customer_id == sa.bindparam("customer_id"),
)
# Locked: a write updates what it read (its UPDATE is sent with the COMMIT,
# app.deferred_inserts.update_later), and EverShop, sharing the table, does
# not take the customer's lock first.
_ONE_LOCKED = _ONE.with_for_update()
_DEFAULT = (
    sa.select(CustomerAddress)
    .where(
        CustomerAddress.customer_id == sa.bindparam("customer_id"),
        CustomerAddress.is_default.is_(True),
    )
    .with_for_update()
)
# A change that makes an address the default reads it with the current
# default (both locked) in one round trip.
_ONE_AND_DEFAULT = (
    sa.select(CustomerAddress)
    .where(
        CustomerAddress.customer_id == sa.bindparam("customer_id"),
        sa.or_(CustomerAddress.uuid == sa.bindparam("uuid"), CustomerAddress.is_default.is_(True)),
    )
    .with_for_update()
)
_ANY = (
    sa.select(CustomerAddress.customer_address_id)
    .where(CustomerAddress.customer_id == sa.bindparam("customer_id"))
    .limit(1)
)
_TABLE = CustomerAddress.__table__
# PostgreSQL: the new address's id from the column's own sequence (the one
# EverShop's inserts take theirs from), with whether the customer has an
# address, in one round trip; the INSERT then waits for the COMMIT.
_NEXT_ID_AND_ANY = sa.select(
    sa.func.nextval(sa.func.pg_get_serial_sequence(_TABLE.name, _TABLE.c.customer_address_id.name)),
    sa.exists().where(_TABLE.c.customer_id == sa.bindparam("customer_id")),
)


def _owner(customer_uuid: uuid.UUID, lock: bool = False) -> dict:
    if lock:
        return service("customers").lock(customer_uuid)
    customer = service("customers").find(customer_uuid)
    if customer is None:
        raise NotFound(CUSTOMER_NOT_FOUND)
    return customer


def _address(customer: dict, address_uuid: uuid.UUID, lock: bool = False) -> CustomerAddress:
    # Another customer's address is simply not found under this customer.
    found = driver_reads.entities(
        db.session,
        _ONE_LOCKED if lock else _ONE,
        {"uuid": address_uuid, "customer_id": customer["customer_id"]},
    )
    if not found:
        raise NotFound(ADDRESS_NOT_FOUND)
    return found[0]


def _values(address: CustomerAddress) -> dict:
    return {name: getattr(address, name) for name in ADDRESS_FIELDS} | {
        "is_default": bool(address.is_default)
    }


def _check_rules(address: dict) -> None:
    """Every plugin's ``address_rules`` on the address as it will be stored."""
    for rule in collect("address_rules"):
        problem = rule(dict(address))
        if not problem:
            continue
        if isinstance(problem, dict):
            raise ValidationError.from_messages({k: [v] for k, v in problem.items()})
        raise ValidationError(str(problem))


def _address_and_default(
    customer: dict, address_uuid: uuid.UUID
) -> tuple[CustomerAddress, CustomerAddress | None]:
    """The customer's address ``address_uuid`` and its current default (the
    same row when it is the default), both locked; 404."""
    rows = driver_reads.entities(
        db.session, _ONE_AND_DEFAULT, {"uuid": address_uuid, "customer_id": customer["customer_id"]}
    )
    address = next((row for row in rows if row.uuid == address_uuid), None)
    if address is None:
        raise NotFound(ADDRESS_NOT_FOUND)
    return address, next((row for row in rows if row.is_default), None)


_UNREAD = object()


def _clear_default(customer: dict, keep: CustomerAddress | None = None, current=_UNREAD) -> None:
    """Unset the current default (other than ``keep``; read here unless
    given), emitting its update; its UPDATE goes before the new default's
    (the partial unique index)."""
    if current is _UNREAD or (current is not None and not current.is_default):
        found = driver_reads.entities(
            db.session, _DEFAULT, {"customer_id": customer["customer_id"]}
        )
        current = found[0] if found else None
    if current is None or current is keep:
        return
    current.is_default = False
    current.updated_at = utcnow()
    update_later(db.session, current)
    emit(events.ADDRESS_UPDATED, present(current, customer["uuid"]))


def create_address(customer_uuid: uuid.UUID, data: dict, context: HookContext) -> dict:
    """Add an address; the customer's first one becomes its default unless the
    request says ``is_default``. Emits ``address_created``. 404 for an unknown
    customer; 400 for a failed rule; a plugin's veto."""
    data = dict(data)
    with transaction():
        customer = _owner(customer_uuid, lock=True)
        new_id, has_any = _next_id_and_any(customer["customer_id"])
        data.setdefault("is_default", not has_any)
        _check_rules(
            {name: data.get(name) for name in ADDRESS_FIELDS} | {"is_default": data["is_default"]}
        )
        hooks().address_before_create(customer=dict(customer), data=data, context=context)
        own, extra = fields().split(data)
        if own["is_default"] and has_any:
            _clear_default(customer)
        address = _insert(
            {
                "customer_address_id": new_id,
                "uuid": new_uuid(),
                "customer_id": customer["customer_id"],
                **{name: own.get(name) for name in ADDRESS_FIELDS},
                "is_default": bool(own["is_default"]),
                "created_at": (now := utcnow()),
                "updated_at": now,
            }
        )
        if extra:
            fields().store(present(address, customer["uuid"]), None, extra, context)
        shown = present(address, customer["uuid"])
        emit(events.ADDRESS_CREATED, shown)
        after_commit(lambda: hooks().address_after_create(address=dict(shown), context=context))
    return shown


def _next_id_and_any(customer_id: int) -> tuple[int | None, bool]:
    """The new address's id (PostgreSQL; ``None`` elsewhere, where the INSERT
    gives it) and whether the customer already has an address."""
    if db.session.get_bind().dialect.name == "postgresql":
        return driver_reads.first(db.session, _NEXT_ID_AND_ANY, {"customer_id": customer_id})
    return None, db.session.scalar(_ANY, {"customer_id": customer_id}) is not None


def _insert(values: dict) -> SimpleNamespace:
    """Insert the address: on PostgreSQL with the COMMIT (its id was taken
    before, docs/architecture.md, "Inserts sent with the commit"), elsewhere
    at once. Returns it as :func:`present` reads it."""
    connection = db.session.connection()
    if values["customer_address_id"] is not None:
        insert_later(connection, _TABLE, [values])
    else:
        given = {name: value for name, value in values.items() if name != "customer_address_id"}
        values["customer_address_id"] = connection.scalar(
            sa.insert(_TABLE).values(given).returning(_TABLE.c.customer_address_id)
        )
    return SimpleNamespace(**values)


def update_address(
    customer_uuid: uuid.UUID, address_uuid: uuid.UUID, data: dict, context: HookContext
) -> dict:
    """Apply a partial change; the merged address must pass the rules. Making
    it the default clears the previous one. ``{}`` writes nothing. Emits
    ``address_updated``. 404 for an unknown customer or address."""
    data = dict(data)
    with transaction():
        customer = _owner(customer_uuid, lock=True)
        default = _UNREAD
        if data.get("is_default") is True:
            address, default = _address_and_default(customer, address_uuid)
        else:
            address = _address(customer, address_uuid, lock=True)
        before = present(address, customer["uuid"])
        if not data:
            return before
        current = _values(address)
        own, extra = fields().split(data)
        _check_rules(current | own)
        hooks().address_before_update(address=dict(before), data=data, context=context)
        own, extra = fields().split(data)  # a hook may have changed the data
        changes = [name for name, value in own.items() if current.get(name) != value]
        if "is_default" in changes and own["is_default"]:
            _clear_default(customer, keep=address, current=default)
        for name in changes:
            setattr(address, name, own[name])
        if extra:
            changes += fields().changed(before, extra)
            fields().store(before, None, extra, context)
        if not changes:
            return before
        address.updated_at = utcnow()
        # Sent with the COMMIT (docs/architecture.md, "Inserts sent with the commit").
        update_later(db.session, address)
        shown = present(address, customer["uuid"])
        emit(events.ADDRESS_UPDATED, shown)
        after_commit(
            lambda: hooks().address_after_update(
                address=dict(shown), changes=list(changes), context=context
            )
        )
    return shown


def delete_address(customer_uuid: uuid.UUID, address_uuid: uuid.UUID, context: HookContext) -> dict:
    """Delete an address and answer with it as it was. Emits ``address_deleted``.
    Deleting the default leaves the customer without one."""
    with transaction():
        customer = _owner(customer_uuid, lock=True)
        address = _address(customer, address_uuid, lock=True)
        shown = present(address, customer["uuid"])
        hooks().address_before_delete(address=dict(shown), context=context)
        db.session.delete(address)
        db.session.flush()
        emit(events.ADDRESS_DELETED, shown)
        after_commit(lambda: hooks().address_after_delete(address=dict(shown), context=context))
    return shown


def get_address(customer_uuid: uuid.UUID, address_uuid: uuid.UUID) -> dict:
    customer = _owner(customer_uuid)
    return present(_address(customer, address_uuid), customer["uuid"])


def list_addresses(customer_uuid: uuid.UUID) -> list[dict]:
    """A customer's addresses, default first."""
    customer = _owner(customer_uuid)
    return addresses_by_customer([customer])[customer["customer_id"]]


# Built once (docs/performance.md, "Statements built once"). The columns,
# not ORM objects: only presented, never changed (about 0.1 ms less per read).
_OF_CUSTOMERS = (
    sa.select(*_TABLE.c)
    .where(_TABLE.c.customer_id.in_(sa.bindparam("ids", expanding=True)))
    .order_by(
        _TABLE.c.customer_id,
        # The default first, then the oldest first.
        sa.func.coalesce(_TABLE.c.is_default, False).desc(),
        _TABLE.c.customer_address_id,
    )
)


def addresses_by_customer(customers_shown: list[dict], links: bool = True) -> dict[int, list]:
    """The addresses of many customers (as the API shows them) in one query,
    keyed by customer id; without ``links`` for GraphQL."""
    uuids = {c["customer_id"]: c["uuid"] for c in customers_shown}
    result: dict[int, list[dict]] = {customer_id: [] for customer_id in uuids}
    if not uuids:
        return result
    # The session flushes first (autoflush): an address added earlier in the
    # same write is read too.
    rows = driver_reads.rows(db.session, _OF_CUSTOMERS, {"ids": list(uuids)})
    for item in present_many(rows, uuids if links else None):
        result[item["customer_id"]].append(item)
    return result


def erase_addresses(customer_id: int) -> int:
    """Delete every address of the customer, in the caller's transaction,
    without hooks or events (an erasure: the privacy plugin's event says so).
    Returns how many there were."""
    return db.session.execute(
        sa.delete(CustomerAddress).where(CustomerAddress.customer_id == customer_id)
    ).rowcount
