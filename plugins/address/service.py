"""Customer addresses: the only place that writes them.

Every write locks the owning customer's row first, so that the writes of one
customer's addresses happen one after the other; with the partial unique index
on ``(customer_id) WHERE is_default`` this keeps exactly one default address
even under concurrent requests.
"""

from __future__ import annotations

import uuid

import sqlalchemy as sa

from app.db import db, utcnow
from app.errors import NotFound, ValidationError
from app.events import emit
from app.plugins import HookContext, collect, hooks
from app.transactions import transaction
from plugins.address import events
from plugins.address.models import ADDRESS_FIELDS, CustomerAddress
from plugins.customer.models import Customer

CUSTOMER_NOT_FOUND = "Customer not found."
ADDRESS_NOT_FOUND = "Address not found."

# Default first, then oldest first.
_ORDER = (
    sa.func.coalesce(CustomerAddress.is_default, False).desc(),
    CustomerAddress.customer_address_id,
)


def _owner(customer_uuid: uuid.UUID, lock: bool = False) -> Customer:
    query = sa.select(Customer).where(Customer.uuid == customer_uuid)
    if lock:
        query = query.with_for_update()
    customer = db.session.scalar(query)
    if customer is None:
        raise NotFound(CUSTOMER_NOT_FOUND)
    return customer


def _address(customer: Customer, address_uuid: uuid.UUID) -> CustomerAddress:
    # Another customer's address is simply not found under this customer.
    address = db.session.scalar(
        sa.select(CustomerAddress).where(
            CustomerAddress.uuid == address_uuid,
            CustomerAddress.customer_id == customer.customer_id,
        )
    )
    if address is None:
        raise NotFound(ADDRESS_NOT_FOUND)
    return address


def _fields(address: CustomerAddress) -> dict:
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


def _clear_default(customer: Customer, keep: CustomerAddress | None = None) -> None:
    """Unset the current default (other than ``keep``), emitting its update,
    and flush it before the new default is written."""
    current = db.session.scalar(
        sa.select(CustomerAddress).where(
            CustomerAddress.customer_id == customer.customer_id,
            CustomerAddress.is_default.is_(True),
        )
    )
    if current is None or current is keep:
        return
    current.is_default = False
    current.updated_at = utcnow()
    db.session.flush()
    emit(events.ADDRESS_UPDATED, current.to_dict(str(customer.uuid)))


def create_address(customer_uuid: uuid.UUID, data: dict, context: HookContext) -> dict:
    """Add an address; the customer's first one becomes its default unless the
    request says ``is_default``. Emits ``address_created``. 404 for an unknown
    customer; 400 for a failed rule; a plugin's veto."""
    data = dict(data)

    with transaction():
        customer = _owner(customer_uuid, lock=True)
        if "is_default" not in data:
            has_any = db.session.scalar(
                sa.select(CustomerAddress.customer_address_id)
                .where(CustomerAddress.customer_id == customer.customer_id)
                .limit(1)
            )
            data["is_default"] = has_any is None
        _check_rules(
            {name: data.get(name) for name in ADDRESS_FIELDS} | {"is_default": data["is_default"]}
        )
        hooks().address_before_create(customer=customer.to_dict(), data=data, context=context)
        if data["is_default"]:
            _clear_default(customer)
        address = CustomerAddress(
            customer_id=customer.customer_id,
            is_default=bool(data["is_default"]),
            **{name: data.get(name) for name in ADDRESS_FIELDS},
        )
        db.session.add(address)
        db.session.flush()
        shown = address.to_dict(str(customer.uuid))
        emit(events.ADDRESS_CREATED, shown)
    hooks().address_after_create(address=dict(shown), context=context)
    return shown


def update_address(
    customer_uuid: uuid.UUID, address_uuid: uuid.UUID, data: dict, context: HookContext
) -> dict:
    """Apply a partial change; the merged address must pass the rules. Making
    it the default clears the previous one. ``{}`` writes nothing. Emits
    ``address_updated``. 404 for an unknown customer or address."""
    data = dict(data)

    with transaction():
        customer = _owner(customer_uuid, lock=True)
        address = _address(customer, address_uuid)
        current = _fields(address)
        changes: list[str] = []
        if data:
            _check_rules(current | data)
            hooks().address_before_update(
                address=address.to_dict(str(customer.uuid)),
                data=data,
                context=context,
            )
            changes = [name for name, value in data.items() if current.get(name) != value]
        if "is_default" in changes and data["is_default"]:
            _clear_default(customer, keep=address)
        for name in changes:
            setattr(address, name, data[name])
        if changes:
            address.updated_at = utcnow()
            db.session.flush()
            emit(events.ADDRESS_UPDATED, address.to_dict(str(customer.uuid)))
        shown = address.to_dict(str(customer.uuid))
    if changes:
        hooks().address_after_update(address=dict(shown), changes=list(changes), context=context)
    return shown


def delete_address(customer_uuid: uuid.UUID, address_uuid: uuid.UUID, context: HookContext) -> dict:
    """Delete an address and answer with it as it was. Emits ``address_deleted``.
    Deleting the default leaves the customer without one."""
    with transaction():
        customer = _owner(customer_uuid, lock=True)
        address = _address(customer, address_uuid)
        shown = address.to_dict(str(customer.uuid))
        hooks().address_before_delete(address=dict(shown), context=context)
        db.session.delete(address)
        db.session.flush()
        emit(events.ADDRESS_DELETED, shown)
    hooks().address_after_delete(address=dict(shown), context=context)
    return shown


def get_address(customer_uuid: uuid.UUID, address_uuid: uuid.UUID) -> dict:
    customer = _owner(customer_uuid)
    return _address(customer, address_uuid).to_dict(str(customer.uuid))


def list_addresses(customer_uuid: uuid.UUID) -> list[dict]:
    """A customer's addresses, default first."""
    customer = _owner(customer_uuid)
    rows = db.session.scalars(
        sa.select(CustomerAddress)
        .where(CustomerAddress.customer_id == customer.customer_id)
        .order_by(*_ORDER)
    )
    return [row.to_dict(str(customer.uuid)) for row in rows]


def addresses_by_customer(customers: list[dict]) -> dict[int, list[dict]]:
    """The addresses of many customers in one query, keyed by customer id."""
    uuids = {c["customer_id"]: c["uuid"] for c in customers}
    result: dict[int, list[dict]] = {customer_id: [] for customer_id in uuids}
    if not uuids:
        return result
    rows = db.session.scalars(
        sa.select(CustomerAddress)
        .where(CustomerAddress.customer_id.in_(list(uuids)))
        .order_by(*_ORDER)
    )
    for row in rows:
        result[row.customer_id].append(row.to_dict(uuids[row.customer_id]))
    return result
