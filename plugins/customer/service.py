"""Customers: the only place that writes them.

Each write runs in one transaction: validation against the database, the
``customer_before_*`` hooks, the write and its event; the ``customer_after_*``
hooks run after commit. Functions take and return plain dicts, never the request.
"""

from __future__ import annotations

import uuid

import sqlalchemy as sa

from app.auth import tokens
from app.db import as_utc, db, utcnow
from app.emails import lookup_key
from app.errors import Conflict, NotFound, Unauthorized, ValidationError
from app.events import emit
from app.login_limits import begin_login, unlock
from app.passwords import check_password_rules, hash_password, verify_password
from app.plugins import HookContext, hooks
from app.transactions import transaction
from plugins.customer import events
from plugins.customer.models import DEFAULT_GROUP_ID, Customer, CustomerGroup
from plugins.customer.queries import build_customer_query

EMAIL_TAKEN = "Email is already used"
INVALID_LOGIN = "Invalid email or password"
NOT_FOUND = "Customer not found."


def links(customer: dict) -> list[dict]:
    """The ``links`` of a create or update answer (CONTRACT §3)."""
    return [
        {"rel": "customerGrid", "href": "/admin/customers", "action": "GET", "types": ["text/xml"]},
        {
            "rel": "edit",
            "href": f"/admin/customers/edit/{customer['uuid']}",
            "action": "GET",
            "types": ["text/xml"],
        },
    ]


def _email_taken(email: str, except_id: int | None = None) -> bool:
    query = sa.select(Customer.customer_id).where(sa.func.lower(Customer.email) == email.lower())
    if except_id is not None:
        query = query.where(Customer.customer_id != except_id)
    return db.session.scalar(query.limit(1)) is not None


def _check_group(group_id: int) -> None:
    if db.session.get(CustomerGroup, group_id) is None:
        raise ValidationError.for_field("group_id", "No customer group has this id.")


def _find(customer_uuid: uuid.UUID, lock: bool = False) -> Customer:
    query = sa.select(Customer).where(Customer.uuid == customer_uuid)
    if lock:
        query = query.with_for_update()
    customer = db.session.scalar(query)
    if customer is None:
        raise NotFound(NOT_FOUND)
    return customer


def _committing(work):
    """Run ``work`` in a transaction; a unique violation on email is a 409."""
    with transaction(unique={"email": Conflict(EMAIL_TAKEN)}):
        return work()


def create_customer(data: dict, context: HookContext) -> dict:
    """Insert a customer; emits ``customer_registered`` (active) or ``account_created``.

    Raises 400 (rules, unknown group), 409 (email taken) or a plugin's veto.
    """
    data = dict(data)
    password = data.pop("password")
    check_password_rules(password)
    password_hash = hash_password(password)  # slow: outside the transaction
    data.setdefault("status", 1)
    data.setdefault("group_id", DEFAULT_GROUP_ID)

    def work():
        _check_group(data["group_id"])
        if _email_taken(data["email"]):
            raise Conflict(EMAIL_TAKEN)
        hooks().customer_before_create(data=data, context=context)
        customer = Customer(
            email=data["email"],
            full_name=data.get("full_name"),
            status=data["status"],
            group_id=data["group_id"],
            password=password_hash,
        )
        db.session.add(customer)
        db.session.flush()
        shown = customer.to_dict()
        emit(events.CUSTOMER_REGISTERED if customer.status == 1 else events.ACCOUNT_CREATED, shown)
        return shown

    shown = _committing(work)
    hooks().customer_after_create(customer=dict(shown), context=context)
    return shown


def update_customer(customer_uuid: uuid.UUID, data: dict, context: HookContext) -> dict:
    """Apply a partial update; ``{}`` writes nothing. Emits ``customer_updated``
    when something changed. Raises 404, 400, 409 or a plugin's veto."""
    data = dict(data)
    password = data.pop("password", None)
    password_hash = None
    if password is not None:
        check_password_rules(password)
        password_hash = hash_password(password)

    def work():
        customer = _find(customer_uuid, lock=True)
        if not data and password_hash is None:
            return customer.to_dict(), []
        if "group_id" in data:
            _check_group(data["group_id"])
        if "email" in data and _email_taken(data["email"], customer.customer_id):
            raise Conflict(EMAIL_TAKEN)
        hooks().customer_before_update(customer=customer.to_dict(), data=data, context=context)
        changes = [name for name, value in data.items() if getattr(customer, name) != value]
        for name in changes:
            setattr(customer, name, data[name])
        now = utcnow()
        if password_hash is not None:
            # The database then revokes older tokens (migration 0007).
            customer.password = password_hash
            changes.append("password")
        if changes:
            customer.updated_at = now
            db.session.flush()
            emit(events.CUSTOMER_UPDATED, customer.to_dict())
        return customer.to_dict(), changes

    shown, changes = _committing(work)
    if changes:
        hooks().customer_after_update(customer=dict(shown), changes=list(changes), context=context)
    return shown


def delete_customer(customer_uuid: uuid.UUID, context: HookContext) -> dict:
    """Delete a customer with its addresses and reset tokens (foreign keys
    cascade), in one transaction. Emits ``customer_deleted``. Raises 404 or a veto."""

    def work():
        customer = _find(customer_uuid, lock=True)
        shown = customer.to_dict()
        hooks().customer_before_delete(customer=dict(shown), context=context)
        db.session.delete(customer)
        db.session.flush()
        emit(events.CUSTOMER_DELETED, shown)
        return shown

    with transaction():
        shown = work()
    hooks().customer_after_delete(customer=dict(shown), context=context)
    return shown


def get_customer(customer_uuid: uuid.UUID) -> dict:
    """One customer as the API shows it, with what plugins add on reading
    (its ``addresses``, from the address plugin); 404 if unknown."""
    shown = _find(customer_uuid).to_dict()
    hooks().customer_extend_read(customers=[shown])
    return shown


def list_customers(filters: dict) -> dict:
    """A page of customers matching the list filters, with the total count."""
    query = build_customer_query(filters)
    items = [c.to_dict() for c in db.session.scalars(query.statement)]
    total = db.session.scalar(query.count)
    return {"items": items, "total": total, "currentPage": query.page, "limit": query.limit}


# --- tokens ------------------------------------------------------------------


def _by_email(email: str) -> Customer | None:
    return db.session.scalar(
        sa.select(Customer).where(sa.func.lower(Customer.email) == lookup_key(email))
    )


def login(email: str, password: str, context: HookContext) -> dict:
    """An access and a refresh token for an active customer, else 401.

    ``customer_before_login`` hooks may rewrite the email first. Counted
    against the failed-login limits before the password is checked (429 past
    them); a right password gives the count back.
    """
    data = {"email": email}
    hooks().customer_before_login(data=data, context=context)
    email = data["email"]
    attempt = begin_login("customer", email)
    customer = _by_email(email)
    ok = verify_password(password, customer.password if customer else None)
    if not ok or customer.status != 1:
        attempt.failed()
        raise Unauthorized(INVALID_LOGIN)
    attempt.succeeded()
    return tokens.issue_pair("customer", customer.to_identity(), customer.token_version)


def unlock_logins(email: str) -> bool:
    """Lift the failed-login locks of the customer account ``email`` (see
    :func:`app.login_limits.unlock`); False when rate limits are off."""
    return unlock("customer", email)


def active_customer(claims: dict) -> Customer | None:
    """The customer a verified token names, if it exists, is active, and the
    token was issued after its password last changed."""
    identity = claims.get("customer") or {}
    customer_id = identity.get("customer_id")
    if not isinstance(customer_id, int) or isinstance(customer_id, bool):
        return None
    customer = db.session.get(Customer, customer_id)
    if customer is None or customer.status != 1:
        return None
    if "uuid" in identity and str(identity["uuid"]).replace("-", "") != customer.uuid.hex:
        return None
    if not tokens.still_valid(claims, customer.token_version, as_utc(customer.password_changed_at)):
        return None
    return customer


def refresh(refresh_token: str) -> dict:
    """A new access token from a customer refresh token, if still valid."""
    claims = tokens.verify(refresh_token, "refresh", "customer")
    customer = active_customer(claims)
    if customer is None:
        raise Unauthorized("The token's account no longer exists, is disabled, or was revoked.")
    return {
        "accessToken": tokens.issue(
            "customer", "access", customer.to_identity(), customer.token_version
        )
    }
