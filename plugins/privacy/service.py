"""A customer's data: its export, and its erasure.

Export: one JSON document of everything the service holds about a customer —
what its own row holds (the customer as the API shows it, its group, its
``meta_data``) and the sections every plugin adds through ``customer_export``
(its addresses, email verification, timeline...). Emits ``customer_exported``.

Erasure (``CUSTOMER_ERASURE``): ``anonymise`` (the default) keeps the row,
which orders elsewhere may reference, with every personal value replaced,
login disabled and every token void; ``delete`` deletes it. Either way every
plugin erases its own data first (``customer_erase``), in the same
transaction, and ``customer_erased`` tells subscribers. A customer's own
request is confirmed by a link mailed to it, sent the way reset links are
(docs/api.md, "Password reset").
"""

from __future__ import annotations

import hashlib
import secrets
import uuid
from datetime import timedelta

import sqlalchemy as sa
from flask import current_app

from app.db import db, format_timestamp, utcnow
from app.errors import Conflict, ValidationError
from app.events import Event, emit
from app.plugins import HookContext, hooks
from app.ratelimit import account_allowed, count_for_account
from app.services import service
from app.transactions import transaction
from plugins.privacy import events
from plugins.privacy.mail import send_confirmation
from plugins.privacy.models import ErasureToken

TOKEN_INVALID = "Token is invalid or expired"
ALREADY_ERASED = "This customer was already erased."
TOKEN_BYTES = 32
MAX_TOKEN_LENGTH = 512
CAP = "ERASURE_EMAILS"


def _customers():
    return service("customers")


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


# --- export ---------------------------------------------------------------------------


def export_customer(customer_uuid: uuid.UUID) -> dict:
    """The customer's data as one document; 404. Emits ``customer_exported``.

    :raise RuntimeError: when two plugins answer with the same section name.
    """
    record = _customers().export_record(customer_uuid)
    document = {"exported_at": format_timestamp(utcnow()), **record}
    for answer in hooks().customer_export(customer=dict(record["customer"])):
        for section, value in (answer or {}).items():
            if section in document:
                raise RuntimeError(f"two parts of the export are named {section!r}")
            document[section] = value
    customer = record["customer"]
    with transaction():
        emit(
            events.CUSTOMER_EXPORTED,
            {"customer_id": customer["customer_id"], "uuid": customer["uuid"]},
        )
    return document


# --- erasure --------------------------------------------------------------------------


def erase_customer(customer_uuid: uuid.UUID, context: HookContext) -> dict:
    """Erase a customer now (an admin); 404, 409 if already erased, or a
    plugin's veto. Returns what ``customer_erased`` carries."""
    with transaction():
        return _erase(customer_uuid, context)


def _erase(customer_uuid: uuid.UUID, context: HookContext) -> dict:
    customers = _customers()
    customer = customers.lock(customer_uuid)
    if customers.is_erased(customer):
        raise Conflict(ALREADY_ERASED)
    hooks().customer_before_erase(customer=dict(customer), context=context)
    mode = current_app.config["CUSTOMER_ERASURE"]
    hooks().customer_erase(customer=dict(customer), mode=mode, context=context)
    _void(customer["customer_id"])
    record = {
        "customer_id": customer["customer_id"],
        "uuid": customer["uuid"],
        "mode": mode,
        "erased_at": format_timestamp(utcnow()),
    }
    if mode == "delete":
        # Before the row goes, so that subscribers and records see it in order.
        emit(events.CUSTOMER_ERASED, record)
        customers.delete_customer(customer_uuid, context)
    else:
        customers.anonymise(customer_uuid)
        emit(events.CUSTOMER_ERASED, record)
    return record


def request_erasure(customer_uuid: uuid.UUID, context: HookContext) -> None:
    """Record a customer's own request to be erased: a link to confirm it is
    mailed by the plugin's subscriber. 404 if the customer is gone."""
    with transaction():
        emit(events.CUSTOMER_ERASURE_REQUESTED, _customers().lock(customer_uuid))


def on_erasure_requested(event: Event) -> None:
    """Subscriber: store a token's digest and commit, then mail the link with
    no transaction open; an unsent token is deleted and the event retried."""
    customer = _customers().find(customer_id=event.payload["customer_id"])
    db.session.rollback()
    if customer is None or customer["status"] != 1 or _customers().is_erased(customer):
        return
    cap_key = f"erasure-emails:{customer['customer_id']}"
    if not account_allowed(CAP, cap_key):
        return
    token = secrets.token_urlsafe(TOKEN_BYTES)
    with transaction():
        stored = ErasureToken(customer_id=customer["customer_id"], token=_digest(token))
        db.session.add(stored)
        db.session.flush()
        token_id = stored.customer_erasure_token_id
    try:
        sent = send_confirmation(customer, token)
    except Exception:
        _delete_token(token_id)
        raise
    if not sent:
        _delete_token(token_id)
        return
    count_for_account(CAP, cap_key)


def _delete_token(token_id: int) -> None:
    with transaction():
        db.session.execute(
            sa.delete(ErasureToken).where(ErasureToken.customer_erasure_token_id == token_id)
        )


def _void(customer_id: int) -> None:
    db.session.execute(sa.delete(ErasureToken).where(ErasureToken.customer_id == customer_id))


def _invalid() -> ValidationError:
    return ValidationError(TOKEN_INVALID, [{"field": "token", "message": TOKEN_INVALID}])


def confirm_erasure(token: str, context: HookContext) -> dict:
    """Erase the customer of a confirmation link. 400 "Token is invalid or
    expired" when it is unknown, used, expired or its customer already
    erased; a plugin's veto leaves the link usable."""
    if len(token) > MAX_TOKEN_LENGTH:
        raise _invalid()
    lifetime = timedelta(seconds=current_app.config["CUSTOMER_ERASURE_LINK_LIFETIME"])
    found = db.session.scalar(
        sa.select(ErasureToken.customer_erasure_token_id).where(
            ErasureToken.token == _digest(token), ErasureToken.created_at > utcnow() - lifetime
        )
    )
    db.session.rollback()
    if found is None:
        raise _invalid()
    with transaction():
        # Claiming the token is one DELETE: of two concurrent uses, one wins.
        claimed = db.session.execute(
            sa.delete(ErasureToken)
            .where(ErasureToken.customer_erasure_token_id == found)
            .returning(ErasureToken.customer_id)
        ).scalar()
        customer = _customers().find(customer_id=claimed) if claimed is not None else None
        if customer is None or _customers().is_erased(customer):
            raise _invalid()
        return _erase(uuid.UUID(customer["uuid"]), context)
