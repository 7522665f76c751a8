"""Email verification: the links, their confirmation, and what depends on it.

A customer's email is verified while the plugin's ``verified_email`` is that
email; any change of the email (by an admin, a plugin, an import) leaves it
unverified, and voids the links that were out.

Links go out the way reset links do (docs/api.md, "Password reset"): the
change records an event in its own transaction, and the plugin's subscriber
stores a new token's SHA-256 and commits, then mails the link with no
transaction open; if the mail server fails, the unsent token is deleted and
the event retried. At most ``RATELIMIT_VERIFY_EMAILS`` such emails go to one
account; only emails the server took count.

``CUSTOMER_EMAIL_VERIFICATION``: ``optional`` (the default) sends links and
holds a customer's own email change until the new address confirms it;
``required`` also refuses logins of unverified accounts (403); ``off`` sends
nothing and lets email changes apply at once.
"""

from __future__ import annotations

import hashlib
import secrets
import uuid
from datetime import timedelta

import sqlalchemy as sa
from flask import current_app

from app.actors import current_actor
from app.db import db, format_timestamp, utcnow
from app.entity_fields import rows_read_with, shared_load
from app.errors import Forbidden, ValidationError
from app.events import Event, emit
from app.plugins import HookContext
from app.ratelimit import account_allowed, count_for_account
from app.services import service
from app.transactions import in_transaction, transaction, unit_of_work_state
from plugins.verification import events
from plugins.verification.mail import send_change_notice, send_link
from plugins.verification.models import CHANGE, VERIFY, EmailVerification, EmailVerificationToken

TOKEN_INVALID = "Token is invalid or expired"
TOKEN_BYTES = 32
MAX_TOKEN_LENGTH = 512  # ours are 43 characters; longer is refused unhashed
UNVERIFIED_LOGIN = (
    "Your email address is not verified: open the link we emailed you, or ask for a new"
    " one with POST /api/customers/verify-email/resend."
)
# HookContext.extra: an email change this plugin applies itself (a confirmed one).
CONFIRMING = "verification.confirming"
# The per-account cap on emails (app.ratelimit), RATELIMIT_VERIFY_EMAILS.
CAP = "VERIFY_EMAILS"


def mode() -> str:
    return current_app.config["CUSTOMER_EMAIL_VERIFICATION"]


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def _same(first: str | None, second: str | None) -> bool:
    return first is not None and second is not None and first.lower() == second.lower()


def _customers():
    return service("customers")


def _kept() -> dict | None:
    """The rows this write has read or made, by customer id (``None`` for a
    customer without one), so that the presentations before and after an
    update read them once; ``None`` outside a write. Every change of a row goes
    through :func:`_state`, which keeps what it makes, or :func:`_forget`."""
    if not in_transaction():
        return None
    return unit_of_work_state("verification").setdefault("rows", {})


def _state(customer_id: int, create: bool = False) -> EmailVerification | None:
    state = db.session.get(EmailVerification, customer_id)
    if state is None and create:
        state = EmailVerification(customer_id=customer_id)
        db.session.add(state)
    kept = _kept()
    if kept is not None and state is not None:
        kept[customer_id] = state
    return state


def _forget(customer_id: int) -> None:
    kept = _kept()
    if kept is not None:
        kept.pop(customer_id, None)


# --- the fields: email_verified and pending_email ------------------------------------


def load_verified(customers: list[dict]) -> dict:
    """``email_verified`` of a page of customers, in one query."""
    found = _states([c["customer_id"] for c in customers])
    return {
        c["customer_id"]: _same(found[c["customer_id"]].verified_email, c["email"])
        for c in customers
        if c["customer_id"] in found
    }


def load_pending(customers: list[dict]) -> dict:
    """``pending_email`` of a page of customers, in one query."""
    found = _states([c["customer_id"] for c in customers])
    return {customer_id: state.pending_email for customer_id, state in found.items()}


# Built once (docs/performance.md, "Statements built once").
_OF_CUSTOMERS = sa.select(EmailVerification).where(
    EmailVerification.customer_id.in_(sa.bindparam("ids", expanding=True))
)


def _states(ids: list[int]) -> dict[int, EmailVerification]:
    """The rows of ``ids``: none read for rows that came with their customer
    or that this write already holds, one query for both fields otherwise."""
    kept = _kept()
    missing = [i for i in ids if kept is None or i not in kept]
    # Those read with their customer (the fields' read_with) cost no query.
    came = rows_read_with(EmailVerification, missing)
    found = {i: row for i, row in came.items() if row is not None}
    unread = [i for i in missing if i not in came]
    if unread:

        def read() -> dict[int, EmailVerification]:
            rows = db.session.scalars(_OF_CUSTOMERS, {"ids": unread})
            return {row.customer_id: row for row in rows}

        found.update(shared_load(("verification", tuple(unread)), read))
    if kept is None:
        return found
    for customer_id in missing:
        kept[customer_id] = found.get(customer_id)
    return {i: kept[i] for i in ids if kept[i] is not None}


def save_verified(customer: dict, value: bool, context: HookContext) -> None:
    """An admin marks the customer's email verified (``true``), or not
    (``false``), in the write's transaction. The email is the one the write
    leaves (an admin may change it and mark it verified at once)."""
    current = _customers().find(customer_id=customer["customer_id"])
    state = _state(customer["customer_id"], create=True)
    if not value:
        state.verified_email = state.verified_at = None
        return
    if _same(state.verified_email, current["email"]):
        return
    state.verified_email = current["email"]
    state.verified_at = utcnow()
    # customer_email_verified follows the write's own event (on_event_emitted).
    unit_of_work_state("verification").setdefault("verified", set()).add(customer["customer_id"])


# --- hooks of the customer plugin ----------------------------------------------------


def check_login(customer: dict) -> None:
    """403 for an unverified email while verification is ``required``."""
    if mode() == "required" and not customer.get("email_verified"):
        raise Forbidden(UNVERIFIED_LOGIN)


def before_update(customer: dict, data: dict, context: HookContext) -> None:
    """A customer changing its own email: the change is kept aside and the new
    address gets a link (the rest of the update goes on). Any other change of
    the email voids the links that were out, and a pending change."""
    new = data.get("email")
    if new is None or new == customer["email"]:
        return
    if context.actor_type == "customer" and not context.extra.get(CONFIRMING) and mode() != "off":
        del data["email"]
        _request_change(customer, new)
        return
    _void(customer["customer_id"])
    state = _state(customer["customer_id"])
    if state is not None:
        state.pending_email = state.pending_since = None


def _request_change(customer: dict, new_email: str) -> None:
    customer_id = customer["customer_id"]
    state = _state(customer_id, create=True)
    state.pending_email = new_email
    state.pending_since = utcnow()
    # Only the latest change asked for can be confirmed.
    _void(customer_id, purpose=CHANGE)
    db.session.flush()
    emit(events.CUSTOMER_EMAIL_CHANGE_REQUESTED, _customers().find(customer_id=customer_id))


def _void(customer_id: int, purpose: str | None = None) -> None:
    query = sa.delete(EmailVerificationToken).where(
        EmailVerificationToken.customer_id == customer_id
    )
    if purpose is not None:
        query = query.where(EmailVerificationToken.purpose == purpose)
    db.session.execute(query)


def on_event_emitted(name: str, payload: dict) -> None:
    """In the transaction of the change: a visitor's sign-up asks for a link;
    an admin's marking follows the write's own event."""
    if name == "customer_registered" and mode() != "off" and current_actor().type == "anonymous":
        emit(events.CUSTOMER_EMAIL_VERIFICATION_REQUESTED, dict(payload))
    if name in ("customer_registered", "account_created", "customer_updated"):
        marked = unit_of_work_state("verification").get("verified", set())
        if payload["customer_id"] in marked:
            marked.discard(payload["customer_id"])
            emit(events.CUSTOMER_EMAIL_VERIFIED, dict(payload))


# --- asking for links -----------------------------------------------------------------


def request_link(email: str, context: HookContext) -> None:
    """Record that someone asked for a new link for ``email`` (any email): the
    same work whether or not an account has it."""
    if mode() == "off":
        return
    with transaction():
        emit(events.EMAIL_VERIFICATION_SUBMITTED, {"email": email})


def on_link_requested(event: Event) -> None:
    """Subscriber of a resend: a new link for the active customer with this
    email — to its pending new address if it asked for one, else to its
    address if unverified. Raises (and is retried) when the email cannot be sent."""
    customer = _customers().find(email=event.payload["email"])
    if customer is None or customer["status"] != 1:
        db.session.rollback()
        return
    if customer["pending_email"]:
        purpose, address = CHANGE, customer["pending_email"]
    elif not customer["email_verified"]:
        purpose, address = VERIFY, customer["email"]
    else:
        db.session.rollback()
        return
    db.session.rollback()
    _mail_link(customer, purpose, address)


def on_signup(event: Event) -> None:
    """Subscriber: the link of a new customer's sign-up, if still wanted."""
    customer = _customers().find(customer_id=event.payload["customer_id"])
    db.session.rollback()
    if (
        customer is None
        or customer["status"] != 1
        or customer["email_verified"]
        or not _same(customer["email"], event.payload["email"])
    ):
        return
    _mail_link(customer, VERIFY, customer["email"])


def on_change_requested(event: Event) -> None:
    """Subscriber: the link to the new address a customer asked for, if that
    change is still the one pending."""
    customer = _customers().find(customer_id=event.payload["customer_id"])
    db.session.rollback()
    if customer is None or customer["status"] != 1 or not customer["pending_email"]:
        return
    if not _same(customer["pending_email"], event.payload["pending_email"]):
        return  # a later change replaced it, with its own event
    _mail_link(customer, CHANGE, customer["pending_email"])


def on_email_changed(event: Event) -> None:
    """Subscriber: tell the old address that the account's email changed."""
    customer = {k: v for k, v in event.payload.items() if k != "previous_email"}
    send_change_notice(customer, event.payload["previous_email"])


def _mail_link(customer: dict, purpose: str, address: str) -> None:
    """Store a token's digest and commit, then mail the link, with no
    transaction open. An unsent token is deleted (the retry makes a new one)."""
    cap_key = f"verify-emails:{customer['customer_id']}"
    if not account_allowed(CAP, cap_key):
        return  # the account had its emails for now: nothing is sent
    token = secrets.token_urlsafe(TOKEN_BYTES)
    with transaction():
        stored = EmailVerificationToken(
            customer_id=customer["customer_id"],
            purpose=purpose,
            email=address,
            token=_digest(token),
        )
        db.session.add(stored)
        db.session.flush()
        token_id = stored.customer_email_token_id
    try:
        sent = send_link(customer, purpose, address, token)
    except Exception:
        _delete_token(token_id)
        raise
    if not sent:  # a plugin cancelled the email
        _delete_token(token_id)
        return
    count_for_account(CAP, cap_key)


def _delete_token(token_id: int) -> None:
    with transaction():
        db.session.execute(
            sa.delete(EmailVerificationToken).where(
                EmailVerificationToken.customer_email_token_id == token_id
            )
        )


# --- opening a link -------------------------------------------------------------------


def _invalid() -> ValidationError:
    return ValidationError(TOKEN_INVALID, [{"field": "token", "message": TOKEN_INVALID}])


def verify(token: str, context: HookContext) -> None:
    """Confirm what the token's link confirms: the customer's address (it is
    verified), or the new address it asked for (the email changes, through the
    customer service, and is verified; the old address is told).

    400 "Token is invalid or expired" when the token is unknown, used, expired,
    its customer disabled, or its address no longer the one to confirm (the
    email changed since, or a later change replaced it). 409 when another
    account took the new address meanwhile (the link stays usable).
    Emits ``customer_email_verified``, and ``customer_email_changed`` for a change.
    """
    if len(token) > MAX_TOKEN_LENGTH:
        raise _invalid()
    lifetime = timedelta(seconds=current_app.config["CUSTOMER_EMAIL_VERIFICATION_LIFETIME"])
    found = db.session.scalar(
        sa.select(EmailVerificationToken.customer_email_token_id).where(
            EmailVerificationToken.token == _digest(token),
            EmailVerificationToken.created_at > utcnow() - lifetime,
        )
    )
    db.session.rollback()
    if found is None:
        raise _invalid()
    with transaction():
        # Claiming the token is one DELETE: of two concurrent uses, one wins.
        claimed = db.session.execute(
            sa.delete(EmailVerificationToken)
            .where(EmailVerificationToken.customer_email_token_id == found)
            .returning(
                EmailVerificationToken.customer_id,
                EmailVerificationToken.purpose,
                EmailVerificationToken.email,
            )
        ).first()
        if claimed is None:
            raise _invalid()
        customer = _customers().find(customer_id=claimed.customer_id)
        if customer is None:
            raise _invalid()
        customer = _customers().lock(uuid.UUID(customer["uuid"]))
        if customer["status"] != 1:
            raise _invalid()
        state = _state(customer["customer_id"], create=True)
        now = utcnow()
        if claimed.purpose == VERIFY:
            if not _same(claimed.email, customer["email"]):
                raise _invalid()
            if _same(state.verified_email, customer["email"]):
                return  # a second link of the same address: nothing more to say
            state.verified_email, state.verified_at = customer["email"], now
            db.session.flush()
            emit(events.CUSTOMER_EMAIL_VERIFIED, _customers().find(customer_id=claimed.customer_id))
            return
        if not _same(claimed.email, state.pending_email):
            raise _invalid()
        previous = customer["email"]
        new_email = state.pending_email
        state.verified_email, state.verified_at = new_email, now
        state.pending_email = state.pending_since = None
        db.session.flush()
        confirming = HookContext(
            actor_type=context.actor_type,
            actor=context.actor,
            request_id=context.request_id,
            extra={CONFIRMING: True},
        )
        # Through the customer service: its hooks and events run, and reset
        # links mailed to the old address die.
        shown = _customers().update_customer(
            uuid.UUID(customer["uuid"]), {"email": new_email}, confirming
        )
        emit(events.CUSTOMER_EMAIL_VERIFIED, shown)
        emit(events.CUSTOMER_EMAIL_CHANGED, {**shown, "previous_email": previous})


# --- export and erasure (the privacy plugin's hooks) --------------------------------


def export(customer: dict) -> dict:
    state = _state(customer["customer_id"])
    return {
        "email_verification": {
            "email_verified": bool(state and _same(state.verified_email, customer["email"])),
            "verified_email": state.verified_email if state else None,
            "verified_at": format_timestamp(state.verified_at) if state else None,
            "pending_email": state.pending_email if state else None,
            "pending_since": format_timestamp(state.pending_since) if state else None,
        }
    }


def erase(customer: dict) -> None:
    """Forget the customer's verification state and links, in the erasure's transaction."""
    _void(customer["customer_id"])
    db.session.execute(
        sa.delete(EmailVerification).where(EmailVerification.customer_id == customer["customer_id"])
    )
    _forget(customer["customer_id"])
