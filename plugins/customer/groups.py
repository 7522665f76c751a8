"""EverShop's ``customer_group`` table, as the customer plugin keeps it: the
reads and writes of group rows and of their members, offered to other plugins
as the service ``customer_groups`` (the group plugin manages groups through it).

These functions store and read only: they take part in the caller's
transaction and run no hooks and emit no events; the caller decides what may
be done and says so. Groups are returned as the API shows them: dicts with
``customer_group_id``, ``uuid``, ``group_name``, ``created_at``, ``updated_at``.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from dataclasses import dataclass

import sqlalchemy as sa

from app.db import db, format_timestamp, utcnow
from plugins.customer.models import DEFAULT_GROUP_ID as DEFAULT_GROUP_ID  # the protected group
from plugins.customer.models import Customer, CustomerGroup
from plugins.customer.presenter import present_many

ORDER_COLUMNS = {"name": CustomerGroup.group_name, "created_at": CustomerGroup.created_at}


def present(row: CustomerGroup) -> dict:
    return {
        "customer_group_id": row.customer_group_id,
        "uuid": str(row.uuid),
        "group_name": row.group_name,
        "created_at": format_timestamp(row.created_at),
        "updated_at": format_timestamp(row.updated_at),
    }


# Row locks a caller may take on a group (PostgreSQL; SQLite's writes are
# serialised anyway): "update" (it is renamed or deleted: no customer can be
# assigned to it meanwhile) or "key_share" (it must not be deleted meanwhile:
# what assigning customers to it takes, which other assignments do not wait for).
LOCKS = {"update": {}, "key_share": {"read": True, "key_share": True}}


def _row(
    group_uuid: uuid.UUID | None = None, *, group_id: int | None = None, lock: str | None = None
) -> CustomerGroup | None:
    query = sa.select(CustomerGroup)
    if group_uuid is not None:
        query = query.where(CustomerGroup.uuid == group_uuid)
    elif group_id is not None:
        query = query.where(CustomerGroup.customer_group_id == group_id)
    else:
        raise TypeError("a group is found by uuid or group_id")
    if lock is not None:
        query = query.with_for_update(**LOCKS[lock])
    return db.session.scalar(query)


def find(
    group_uuid: uuid.UUID | None = None, *, group_id: int | None = None, lock: str | None = None
) -> dict | None:
    """The group with this uuid or id, or None; with ``lock`` (one of LOCKS),
    its row locked so for the rest of the caller's transaction."""
    row = _row(group_uuid, group_id=group_id, lock=lock)
    return present(row) if row is not None else None


@dataclass(frozen=True)
class GroupPage:
    items: list[dict]
    total: int
    page: int
    limit: int


def page(filters: dict) -> GroupPage:
    """A page of groups: ``name`` (contains, any letter case), ordered by
    ``ob`` (``name`` or ``created_at``) and ``od``, ties broken by id in the
    same direction; by id, oldest first, when neither is given."""
    conditions = []
    if filters.get("name"):
        needle = filters["name"].lower()
        conditions.append(sa.func.lower(CustomerGroup.group_name).contains(needle, autoescape=True))
    page_number = filters.get("page", 1)
    limit = filters.get("limit", 20)
    column = ORDER_COLUMNS.get(filters.get("ob") or "", CustomerGroup.customer_group_id)
    descending = filters.get("od") == "desc"
    order = [column.desc() if descending else column.asc()]
    if column is not CustomerGroup.customer_group_id:
        key = CustomerGroup.customer_group_id
        order.append(key.desc() if descending else key.asc())
    rows = db.session.scalars(
        sa.select(CustomerGroup)
        .where(*conditions)
        .order_by(*order)
        .limit(limit)
        .offset((page_number - 1) * limit)
    )
    items = [present(row) for row in rows]
    total = db.session.scalar(
        sa.select(sa.func.count()).select_from(CustomerGroup).where(*conditions)
    )
    return GroupPage(items, total, page_number, limit)


def name_taken(name: str, except_id: int | None = None) -> bool:
    """Whether another group has this name, in any letter case."""
    query = sa.select(CustomerGroup.customer_group_id).where(
        sa.func.lower(CustomerGroup.group_name) == name.lower()
    )
    if except_id is not None:
        query = query.where(CustomerGroup.customer_group_id != except_id)
    return db.session.scalar(query.limit(1)) is not None


def insert(group_name: str) -> dict:
    """Insert a group; a unique violation on its name reaches the caller's
    transaction (``uq_customer_group_lower_group_name``)."""
    now = utcnow()
    row = CustomerGroup(group_name=group_name, created_at=now, updated_at=now)
    db.session.add(row)
    db.session.flush()
    return present(row)


def rename(group_id: int, group_name: str) -> dict:
    """Rename a group (locked by the caller) and move its ``updated_at``."""
    row = _row(group_id=group_id)
    row.group_name = group_name
    row.updated_at = utcnow()
    db.session.flush()
    return present(row)


def delete(group_id: int) -> None:
    """Delete a group row. Customers still in it would be left without a
    group (the foreign key sets NULL): move them first."""
    db.session.execute(sa.delete(CustomerGroup).where(CustomerGroup.customer_group_id == group_id))


def member_counts(group_ids: Iterable[int]) -> dict[int, int]:
    """How many customers each group has, by id (one query; 0 for none)."""
    ids = list(group_ids)
    if not ids:
        return {}
    rows = db.session.execute(
        sa.select(Customer.group_id, sa.func.count())
        .where(Customer.group_id.in_(ids))
        .group_by(Customer.group_id)
    )
    counts = dict.fromkeys(ids, 0)
    counts.update({group_id: count for group_id, count in rows})
    return counts


def member_uuids(group_id: int) -> list[uuid.UUID]:
    """The uuids of the group's customers, by id."""
    query = (
        sa.select(Customer.uuid).where(Customer.group_id == group_id).order_by(Customer.customer_id)
    )
    return list(db.session.scalars(query))


def lock_customers(customer_uuids: Iterable[uuid.UUID]) -> list[dict]:
    """The customers with these uuids as the API shows them, their rows locked
    for the rest of the caller's transaction in the order of their ids (so
    that two such locks never wait on each other); unknown uuids are left out."""
    wanted = list(customer_uuids)
    if not wanted:
        return []
    rows = db.session.scalars(
        sa.select(Customer)
        .where(Customer.uuid.in_(wanted))
        .order_by(Customer.customer_id)
        .with_for_update()
    )
    return present_many(list(rows))
