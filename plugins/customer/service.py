"""Customers: the only place that writes them, and the service other plugins
go through (docs/plugins.md, "The customer service").

Each write runs in one transaction: validation against the database, the
``customer_before_*`` hooks, the write, the plugin fields and the event; the
``customer_after_*`` hooks run after commit. Functions take and return plain
dicts (customers as the API shows them, see :mod:`plugins.customer.presenter`),
never the request or a model.
"""

from __future__ import annotations

import uuid

import sqlalchemy as sa

from app import driver_reads
from app.auth import tokens
from app.db import as_utc, db, utcnow
from app.deferred_inserts import update_later
from app.emails import lookup_key
from app.errors import Conflict, NotFound, Unauthorized, ValidationError
from app.events import emit
from app.login_limits import begin_login, unlock
from app.passwords import check_password_rules, hash_password, verify_password
from app.plugins import HookContext, hooks
from app.transactions import after_commit, transaction
from plugins.customer import events, metafields
from plugins.customer.models import DEFAULT_GROUP_ID, Customer, CustomerGroup
from plugins.customer.presenter import fields, present, present_many
from plugins.customer.queries import BY_EMAIL, BY_ID, BY_UUID, build_customer_query

EMAIL_TAKEN = "Email is already used"
INVALID_LOGIN = "Invalid email or password"
NOT_FOUND = "Customer not found."
# The columns a write may set from the API's fields.
COLUMNS = ("email", "full_name", "status", "group_id")


# Built once (docs/performance.md, "Statements built once"). The group is
# locked FOR KEY SHARE (PostgreSQL): a group being deleted meanwhile is waited
# for, and then this is a clean 400 rather than a foreign-key failure.
_GROUP_FOUND = (
    sa.select(CustomerGroup.customer_group_id)
    .where(CustomerGroup.customer_group_id == sa.bindparam("group_id"))
    .with_for_update(read=True, key_share=True)
    .scalar_subquery()
)
_EMAIL_TAKEN = sa.exists().where(
    sa.func.lower(Customer.email) == sa.bindparam("email"),
    Customer.customer_id.is_distinct_from(sa.bindparam("except_id", type_=sa.Integer)),
)
# A check given None finds nothing: no group has a NULL id, no email is NULL.
_CHECKS = sa.select(_GROUP_FOUND, _EMAIL_TAKEN)


def _check_group_and_email(
    group_id: int | None, email: str | None, except_id: int | None = None
) -> None:
    """400 for an unknown group, then 409 for an email another customer than
    ``except_id`` has (any letter case): both in one round trip. ``None``
    skips a check."""
    if group_id is None and email is None:
        return
    group_found, taken = driver_reads.first(
        db.session,
        _CHECKS,
        {"group_id": group_id, "email": email and email.lower(), "except_id": except_id},
    )
    if group_id is not None and group_found is None:
        raise ValidationError.for_field("group_id", "No customer group has this id.")
    if taken:
        raise Conflict(EMAIL_TAKEN)


def _row(customer_uuid: uuid.UUID, lock: bool = False) -> Customer:
    # With the rows of plugin fields that read with it (docs/plugins.md, "Fields").
    customer = fields().read_one(db.session, BY_UUID, {"uuid": customer_uuid}, lock=lock)
    if customer is None:
        raise NotFound(NOT_FOUND)
    return customer


def _metafields(row: Customer, sent) -> dict:
    """The row's ``meta_data`` with the store's metafields replaced by
    ``sent`` (validated), the plugins' namespaces kept."""
    namespaces = fields().plugin_namespaces()
    checked = metafields.validate(sent, namespaces)
    return metafields.replace_store_part(row.meta_data, checked, namespaces)


def _writing():
    """A transaction in which a unique violation on email is a 409."""
    return transaction(unique={"email": Conflict(EMAIL_TAKEN)})


# --- reads ---------------------------------------------------------------------------


def find(
    customer_uuid: uuid.UUID | None = None,
    *,
    customer_id: int | None = None,
    email: str | None = None,
) -> dict | None:
    """The customer with this uuid, id or email (any letter case), as the API
    shows it, or None."""
    if customer_uuid is not None:
        row = fields().read_one(db.session, BY_UUID, {"uuid": customer_uuid})
    elif customer_id is not None:
        row = fields().read_one(db.session, BY_ID, {"customer_id": customer_id})
    elif email is not None:
        row = fields().read_one(db.session, BY_EMAIL, {"email": lookup_key(email)})
    else:
        raise TypeError("find() needs a uuid, a customer_id or an email")
    return present(row) if row is not None else None


def lock(customer_uuid: uuid.UUID) -> dict:
    """The customer, its row locked for the rest of the caller's transaction
    (so that writes about one customer happen one after the other); 404."""
    return present(_row(customer_uuid, lock=True))


def get_customer(customer_uuid: uuid.UUID) -> dict:
    """One customer as the API shows it, with what plugins add to a full read
    (``customer_extend_read``: its ``addresses``, from the address plugin); 404."""
    shown = present(_row(customer_uuid))
    hooks().customer_extend_read(customers=[shown])
    return shown


def list_customers(filters: dict) -> dict:
    """A page of customers matching the list filters, with its total
    (docs/api.md, "Counting")."""
    query = build_customer_query(filters)
    rows, counted = query.read()
    return {
        "items": present_many(rows),
        "total": counted.total,
        "totalExact": counted.exact,
        "hasMore": counted.has_more,
        "currentPage": query.page,
        "limit": query.limit,
    }


# --- writes --------------------------------------------------------------------------


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

    with _writing():
        _check_group_and_email(data["group_id"], data["email"])
        hooks().customer_before_create(data=data, context=context)
        own, extra = fields().split(data)
        row = Customer(**{name: own.get(name) for name in COLUMNS}, password=password_hash)
        if "meta_data" in own:
            row.meta_data = _metafields(row, own["meta_data"])
        db.session.add(row)
        db.session.flush()
        # New: no plugin row refers to it yet, so its presentation reads none.
        fields().inserted(db.session, row)
        if extra:
            row.meta_data = fields().store(present(row), row.meta_data, extra, context)
            db.session.flush()
        shown = present(row)
        emit(events.CUSTOMER_REGISTERED if row.status == 1 else events.ACCOUNT_CREATED, shown)
        after_commit(lambda: hooks().customer_after_create(customer=dict(shown), context=context))
    return shown


def update_customer(customer_uuid: uuid.UUID, data: dict, context: HookContext) -> dict:
    """Apply a partial update; ``{}`` writes nothing. Emits ``customer_updated``
    when something changed (and ``customer_password_changed`` for a new
    password). Raises 404, 400, 409 or a plugin's veto."""
    data = dict(data)
    password = data.pop("password", None)
    password_hash = None
    if password is not None:
        check_password_rules(password)
        password_hash = hash_password(password)  # slow: outside the transaction
    with _writing():
        row = _row(customer_uuid, lock=True)
        return _update(row, data, password_hash, context)


def set_password(customer_id: int, password_hash: str, context: HookContext) -> dict:
    """Give the customer a new password (already checked and hashed), as an
    update of the customer: its hooks run and ``customer_updated`` and
    ``customer_password_changed`` are emitted; every token issued before is
    refused. Takes part in the caller's transaction. 404 if it is gone."""
    with _writing():
        row = db.session.scalar(
            sa.select(Customer).where(Customer.customer_id == customer_id).with_for_update()
        )
        if row is None:
            raise NotFound(NOT_FOUND)
        return _update(row, {}, password_hash, context)


def _update(row: Customer, data: dict, password_hash: str | None, context: HookContext) -> dict:
    before = present(row)
    if not data and password_hash is None:
        return before
    _check_group_and_email(data.get("group_id"), data.get("email"), row.customer_id)
    hooks().customer_before_update(customer=dict(before), data=data, context=context)
    own, extra = fields().split(data)
    changes = [name for name in COLUMNS if name in own and getattr(row, name) != own[name]]
    for name in changes:
        setattr(row, name, own[name])
    if "meta_data" in own and own["meta_data"] != before["meta_data"]:
        row.meta_data = _metafields(row, own["meta_data"])
        changes.append("meta_data")
    if extra:
        changes += fields().changed(before, extra)
        row.meta_data = fields().store(before, row.meta_data, extra, context)
    now = utcnow()
    if password_hash is not None:
        # The database then revokes every older token (migration 0007).
        row.password = password_hash
        changes.append("password")
    if not changes:
        # Nothing of the customer changed, but a hook may have recorded
        # something of its own (a pending email change) that the answer shows.
        return present(row)
    row.updated_at = now
    if password_hash is None:
        # Sent with the COMMIT (docs/architecture.md, "Inserts sent with the
        # commit"); the row is locked. A password hash is never bound into
        # SQL text, so a new password goes as the ORM's own statement.
        update_later(db.session, row)
    else:
        db.session.flush()
    shown = present(row)
    emit(events.CUSTOMER_UPDATED, shown)
    if password_hash is not None:
        emit(events.CUSTOMER_PASSWORD_CHANGED, shown)
    after_commit(
        lambda: hooks().customer_after_update(
            customer=dict(shown), changes=list(changes), context=context
        )
    )
    return shown


def delete_customer(customer_uuid: uuid.UUID, context: HookContext) -> dict:
    """Delete a customer with its addresses and reset tokens (foreign keys
    cascade), in one transaction. Emits ``customer_deleted``. Raises 404 or a veto."""
    with transaction():
        row = _row(customer_uuid, lock=True)
        shown = present(row)
        hooks().customer_before_delete(customer=dict(shown), context=context)
        db.session.delete(row)
        db.session.flush()
        emit(events.CUSTOMER_DELETED, shown)
        after_commit(lambda: hooks().customer_after_delete(customer=dict(shown), context=context))
    return shown


# --- privacy: export and erasure (the privacy plugin) --------------------------------

ERASED_DOMAIN = "erased.invalid"
# No bcrypt hash starts so: no password matches it.
UNUSABLE_PASSWORD = "!erased"


def export_record(customer_uuid: uuid.UUID) -> dict:
    """What the customer's own row holds, for an export: the customer as the
    API shows it, its group and its ``meta_data``; 404."""
    row = _row(customer_uuid)
    group = db.session.get(CustomerGroup, row.group_id) if row.group_id is not None else None
    return {
        "customer": present(row),
        "group": None
        if group is None
        else {
            "customer_group_id": group.customer_group_id,
            "uuid": str(group.uuid),
            "group_name": group.group_name,
        },
        "meta_data": dict(row.meta_data or {}),
    }


def is_erased(customer: dict) -> bool:
    """Whether the customer (as the API shows it) was anonymised."""
    return customer["email"].endswith("@" + ERASED_DOMAIN)


def anonymise(customer_uuid: uuid.UUID) -> dict:
    """Replace every personal value of the customer's row, in the caller's
    transaction: the email becomes ``erased-<uuid>@erased.invalid`` (so the
    address can sign up again), the name null, ``meta_data`` empty; the
    account is disabled, its password unusable and every token it held
    refused. The row stays, for what refers to its id. No hooks and no event:
    the privacy plugin's erasure runs them. 404."""
    with transaction():
        row = _row(customer_uuid, lock=True)
        now = utcnow()
        # Written directly: the API's validation refuses special-use domains.
        row.email = f"erased-{row.uuid.hex}@{ERASED_DOMAIN}"
        row.full_name = None
        row.meta_data = {}
        row.status = 0
        row.password = UNUSABLE_PASSWORD
        row.password_changed_at = now
        row.token_version = Customer.token_version + 1
        row.updated_at = now
        db.session.flush()
        db.session.refresh(row)
        return present(row)


# --- tokens --------------------------------------------------------------------------


def _by_email(email: str) -> Customer | None:
    return db.session.scalar(BY_EMAIL, {"email": lookup_key(email)})


def login(email: str, password: str, context: HookContext) -> dict:
    """An access and a refresh token for an active customer, else 401.

    ``customer_before_login`` hooks may rewrite the email first. Counted
    against the failed-login limits before the password is checked (429 past
    them); a right password gives the count back, and then the
    ``customer_login_allowed`` hooks may still refuse (the verification
    plugin's 403 for an unverified email).
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
    hooks().customer_login_allowed(customer=present(customer), context=context)
    return tokens.issue_pair("customer", customer.to_identity(), customer.token_version)


def unlock_logins(email: str) -> bool:
    """Lift the failed-login locks of the customer account ``email`` (see
    :func:`app.login_limits.unlock`); False when rate limits are off."""
    return unlock("customer", email)


def active_customer(claims: dict) -> Customer | None:
    """The customer a verified token names, if it exists, is active, and the
    token survives its revocations (:func:`app.auth.tokens.still_valid`)."""
    identity = claims.get("customer") or {}
    customer_id = identity.get("customer_id")
    if not isinstance(customer_id, int) or isinstance(customer_id, bool):
        return None
    customer, session_revoked = tokens.account_for(Customer, customer_id, claims)
    if customer is None or customer.status != 1:
        return None
    if "uuid" in identity and str(identity["uuid"]).replace("-", "") != customer.uuid.hex:
        return None
    if not tokens.still_valid(
        claims,
        customer.token_version,
        as_utc(customer.password_changed_at),
        revoked_at=as_utc(customer.tokens_revoked_at),
        session_revoked=session_revoked,
    ):
        return None
    return customer


def refresh(refresh_token: str) -> dict:
    """A new access token from a customer refresh token, if still valid."""
    claims = tokens.verify(refresh_token, "refresh", "customer")
    customer = active_customer(claims)
    if customer is None:
        raise Unauthorized("The token's account no longer exists, is disabled, or was revoked.")
    # In the refresh token's session: revoking the session revokes this one too.
    return {"accessToken": tokens.refreshed(claims, customer.to_identity(), customer.token_version)}


def revoke_tokens(customer_id: int) -> dict:
    """Refuse every access and refresh token the customer holds now: its token
    version moves on (tokens of this service) and ``tokens_revoked_at`` is set
    (tokens signed by EverShop, by their ``iat``). Its fields are unchanged:
    no hook, no event (the caller emits its own). Takes part in the caller's
    transaction; 404 if it is gone."""
    with _writing():
        row = db.session.scalar(
            sa.select(Customer).where(Customer.customer_id == customer_id).with_for_update()
        )
        if row is None:
            raise NotFound(NOT_FOUND)
        row.token_version = Customer.token_version + 1
        row.tokens_revoked_at = utcnow()
        db.session.flush()
        db.session.refresh(row)
        return present(row)
