"""Customer groups: what may be done to them, and the only place that changes
them (docs/api.md, "Customer groups").

Each write runs in one transaction: the checks, the ``customer_group_before_*``
hooks, the write and its event; the ``customer_group_after_*`` hooks run after
commit. Group rows are stored through the customer plugin's
``customer_groups`` service; customers change groups through its
``customers`` service, as updates of customers (their hooks run and
``customer_updated`` is emitted for each), so that one request moves every
customer it names or none.
"""

from __future__ import annotations

import uuid

from app.errors import Conflict, NotFound, ValidationError
from app.events import emit
from app.plugins import HookContext, hooks
from app.services import service
from app.transactions import after_commit, transaction
from plugins.group import events
from plugins.group.schemas import MAX_CUSTOMERS

NOT_FOUND = "Customer group not found."
NAME_TAKEN = "A customer group with this name already exists."
DEFAULT_PROTECTED = "The default customer group cannot be deleted."


def _groups():
    return service("customer_groups")


def _customers():
    return service("customers")


def _with_count(group: dict, count: int | None = None) -> dict:
    if count is None:
        count = _groups().member_counts([group["customer_group_id"]])[group["customer_group_id"]]
    return {**group, "customer_count": count}


def _found(group_uuid: uuid.UUID, lock: str | None = None) -> dict:
    group = _groups().find(group_uuid, lock=lock)
    if group is None:
        raise NotFound(NOT_FOUND)
    return group


def _writing():
    """A transaction in which a unique violation on a group's name is a 409."""
    return transaction(unique={"group_name": Conflict(NAME_TAKEN)})


# --- reads -----------------------------------------------------------------------------


def list_groups(filters: dict) -> dict:
    """A page of groups with their customer counts (one query for the counts)."""
    found = _groups().page(filters)
    counts = _groups().member_counts(group["customer_group_id"] for group in found.items)
    items = [_with_count(group, counts[group["customer_group_id"]]) for group in found.items]
    return {"items": items, "total": found.total, "currentPage": found.page, "limit": found.limit}


def get_group(group_uuid: uuid.UUID) -> dict:
    """One group with its customer count; 404."""
    return _with_count(_found(group_uuid))


# --- writes ----------------------------------------------------------------------------


def create_group(data: dict, context: HookContext) -> dict:
    """Insert a group. Emits ``customer_group_created``. 409 when another group
    has the name in any letter case, or a plugin's veto."""
    data = dict(data)
    with _writing():
        hooks().customer_group_before_create(data=data, context=context)
        if _groups().name_taken(data["group_name"]):
            raise Conflict(NAME_TAKEN)
        shown = _with_count(_groups().insert(data["group_name"]), 0)
        emit(events.CUSTOMER_GROUP_CREATED, shown)
        after_commit(
            lambda: hooks().customer_group_after_create(group=dict(shown), context=context)
        )
    return shown


def update_group(group_uuid: uuid.UUID, data: dict, context: HookContext) -> dict:
    """Rename a group (the default one included); a name equal to the current
    one writes nothing. Emits ``customer_group_updated``. 404, 409 or a veto."""
    data = dict(data)
    with _writing():
        group = _found(group_uuid, lock="update")
        if "group_name" not in data or data["group_name"] == group["group_name"]:
            return _with_count(group)
        hooks().customer_group_before_update(group=_with_count(group), data=data, context=context)
        name = data.get("group_name", group["group_name"])
        if name == group["group_name"]:
            return _with_count(group)
        if _groups().name_taken(name, except_id=group["customer_group_id"]):
            raise Conflict(NAME_TAKEN)
        shown = _with_count(_groups().rename(group["customer_group_id"], name))
        emit(events.CUSTOMER_GROUP_UPDATED, shown)
        after_commit(
            lambda: hooks().customer_group_after_update(
                group=dict(shown), changes=["group_name"], context=context
            )
        )
    return shown


def _lock_in_order(wanted: list[tuple[uuid.UUID, str]]) -> list[dict | None]:
    """The groups named by ``(uuid, lock)``, each locked so, in the order of
    their ids (two deletions naming each other then never wait on each other);
    None for a group that does not exist (or no longer does once locked)."""
    unlocked = [_groups().find(group_uuid) for group_uuid, _ in wanted]
    order = sorted(
        (index for index, group in enumerate(unlocked) if group is not None),
        key=lambda index: unlocked[index]["customer_group_id"],
    )
    locked: list[dict | None] = [None] * len(wanted)
    for index in order:
        group_id = unlocked[index]["customer_group_id"]
        locked[index] = _groups().find(group_id=group_id, lock=wanted[index][1])
    return locked


def delete_group(group_uuid: uuid.UUID, move_to: uuid.UUID | None, context: HookContext) -> dict:
    """Delete a group; its customers, if it has any, move to the group
    ``move_to`` first, each as an update of the customer, all in one
    transaction. Emits ``customer_group_deleted`` (and ``customer_updated``
    for each customer moved).

    404 for an unknown group; 409 for the default group, or for a group with
    customers and no ``move_to``, or with more than MAX_CUSTOMERS of them;
    400 when ``move_to`` is this group or names no group; or a plugin's veto.
    """
    if move_to is not None and move_to == group_uuid:
        raise ValidationError.for_field("move_to", "Must name another group than the one deleted.")
    with transaction():
        # The group is deleted; the target must outlive the move (customers
        # may still be assigned to it meanwhile).
        wanted = [(group_uuid, "update")]
        if move_to is not None:
            wanted.append((move_to, "key_share"))
        locked = _lock_in_order(wanted)
        group, target = locked[0], (locked[1] if move_to is not None else None)
        if group is None:
            raise NotFound(NOT_FOUND)
        if group["customer_group_id"] == _groups().DEFAULT_GROUP_ID:
            raise Conflict(DEFAULT_PROTECTED)
        if move_to is not None and target is None:
            raise ValidationError.for_field("move_to", "No customer group has this uuid.")
        count = _groups().member_counts([group["customer_group_id"]])[group["customer_group_id"]]
        if count and target is None:
            raise Conflict(
                f"The group has {count} customer{'s' if count > 1 else ''}: name the group"
                " they move to (move_to), or move them first."
            )
        if count > MAX_CUSTOMERS:
            raise Conflict(
                f"The group has {count} customers, more than the {MAX_CUSTOMERS:,} one request"
                " may move: move them in batches first, with"
                f" POST /api/customer-groups/{target['uuid']}/customers."
            )
        shown = {**_with_count(group, count), "moved_to": target["uuid"] if count else None}
        hooks().customer_group_before_delete(
            group=dict(shown),
            move_to=_with_count(target) if target is not None else None,
            context=context,
        )
        for customer_uuid in _groups().member_uuids(group["customer_group_id"]):
            _customers().update_customer(
                customer_uuid, {"group_id": target["customer_group_id"]}, context
            )
        _groups().delete(group["customer_group_id"])
        moved_to = _with_count(target) if target is not None else None
        emit(events.CUSTOMER_GROUP_DELETED, shown)
        after_commit(
            lambda: hooks().customer_group_after_delete(
                group=dict(shown), move_to=dict(moved_to) if moved_to else None, context=context
            )
        )
    return shown


def assign_customers(
    group_uuid: uuid.UUID, customer_uuids: list[uuid.UUID], context: HookContext
) -> dict:
    """Move every customer named into the group, or none: each move is an
    update of the customer (its hooks run, ``customer_updated`` is emitted);
    customers already in the group are left as they are. A uuid named twice
    counts once.

    404 for an unknown group; 400 listing the uuids that name no customer
    (nothing is written); a plugin's veto of any one customer refuses them all.
    """
    wanted = list(dict.fromkeys(customer_uuids))
    with transaction():
        # Before any customer is locked: a deletion of the group in progress
        # is waited for here, never while holding customers it may move.
        group = _found(group_uuid, lock="key_share")
        group_id = group["customer_group_id"]
        found = {customer["uuid"]: customer for customer in _groups().lock_customers(wanted)}
        unknown = [
            (index, customer_uuid)
            for index, customer_uuid in enumerate(customer_uuids)
            if str(customer_uuid) not in found
        ]
        if unknown:
            raise ValidationError(
                f"Invalid customers: {len({u for _, u in unknown})} of the uuids name no"
                " customer; no customer was assigned.",
                [
                    {"field": f"customers.{index}", "message": f"No customer has the uuid {u}."}
                    for index, u in unknown
                ],
            )
        moving = [uuid.UUID(c["uuid"]) for c in found.values() if c["group_id"] != group_id]
        for customer_uuid in moving:
            _customers().update_customer(customer_uuid, {"group_id": group_id}, context)
        shown = _with_count(group)
    return {"group": shown, "assigned": len(moving), "unchanged": len(found) - len(moving)}
