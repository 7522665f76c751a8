"""Password reset: the request, the email, and the new password.

The request does the same work for every well-formed email — it records a
``reset_password_submitted`` event and answers — so neither its answer nor its
timing tells whether an account exists. The password plugin's own subscriber
then resolves the email: for an active customer it stores a new token's
SHA-256 and commits, then sends the email (no transaction open meanwhile), so
the link works the moment it arrives; then it emits
``reset_password_requested``. If the mail server is down or does not answer,
the subscriber fails and the event is retried (a new token each time; an
unsent one is deleted, or expires), so nothing is lost.
"""

from __future__ import annotations

import hashlib
import secrets
from datetime import timedelta

import sqlalchemy as sa
from flask import current_app

from app.db import db, utcnow
from app.errors import ValidationError
from app.events import Event, emit
from app.passwords import check_password_rules, hash_password
from app.plugins import HookContext, hooks
from app.ratelimit import count_reset_email, reset_email_allowed
from app.services import service
from app.transactions import after_commit, transaction
from plugins.password import events
from plugins.password.mail import send_reset_email
from plugins.password.models import ResetPasswordToken

TOKEN_INVALID = "Token is invalid or expired"
TOKEN_BYTES = 32
MAX_TOKEN_LENGTH = 512  # ours are 43 characters; longer is refused unhashed


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def request_reset(email: str, context: HookContext) -> None:
    """Record that someone asked for a reset link for ``email`` (any email),
    as ``password_before_reset_request`` hooks may have rewritten it."""
    data = {"email": email}
    with transaction():
        hooks().password_before_reset_request(data=data, context=context)
        emit(events.RESET_PASSWORD_SUBMITTED, {"email": data["email"]})


def on_reset_submitted(event: Event) -> None:
    """Subscriber: email a reset link to the active customer with this email,
    if there is one. Raises (and is retried) when the email cannot be sent."""
    shown = service("customers").find(email=event.payload["email"])
    db.session.rollback()  # no transaction stays open while the mail server is asked
    if shown is None or shown["status"] != 1 or not reset_email_allowed(shown["customer_id"]):
        # No such account, or it had its emails for this hour: the client got
        # the same answer either way.
        return
    token = secrets.token_urlsafe(TOKEN_BYTES)
    with transaction():
        stored = ResetPasswordToken(customer_id=shown["customer_id"], token=_digest(token))
        db.session.add(stored)
        db.session.flush()
        token_id = stored.reset_password_token_id
    try:
        sent = send_reset_email(shown, token)
    except Exception:
        # Never mailed: nobody can use it. The retry makes a new one.
        _delete_token(token_id)
        raise
    if not sent:  # a plugin cancelled the email
        _delete_token(token_id)
        return
    count_reset_email(shown["customer_id"])
    with transaction():
        emit(events.RESET_PASSWORD_REQUESTED, shown)
        after_commit(
            lambda: hooks().password_after_reset_request(
                customer=dict(shown), context=HookContext()
            )
        )


def _delete_token(token_id: int) -> None:
    with transaction():
        db.session.execute(
            sa.delete(ResetPasswordToken).where(
                ResetPasswordToken.reset_password_token_id == token_id
            )
        )


def _valid_token(digest: str) -> ResetPasswordToken | None:
    lifetime = timedelta(seconds=current_app.config["RESET_PASSWORD_TOKEN_LIFETIME"])
    return db.session.scalar(
        sa.select(ResetPasswordToken).where(
            ResetPasswordToken.token == digest,
            ResetPasswordToken.created_at > utcnow() - lifetime,
        )
    )


def _invalid() -> ValidationError:
    return ValidationError(TOKEN_INVALID, [{"field": "token", "message": TOKEN_INVALID}])


def update_password(token: str, password: str, context: HookContext) -> None:
    """Replace the password of the token's customer.

    400 when the token is unknown, used or expired, or when the password fails
    a rule (the token then stays usable). On success every reset token of the
    customer is void and its older JWTs are refused. Emits ``password_updated``.
    """
    if len(token) > MAX_TOKEN_LENGTH:
        raise _invalid()
    digest = _digest(token)
    found = _valid_token(digest)
    if found is None:
        raise _invalid()
    token_id = found.reset_password_token_id
    check_password_rules(password)
    password_hash = hash_password(password)  # slow: outside the transaction
    db.session.rollback()

    with transaction():
        # Claiming the token is one DELETE: of two concurrent uses, one wins.
        claimed = db.session.execute(
            sa.delete(ResetPasswordToken)
            .where(ResetPasswordToken.reset_password_token_id == token_id)
            .returning(ResetPasswordToken.customer_id)
        ).scalar()
        customer = service("customers").find(customer_id=claimed) if claimed is not None else None
        if customer is None or customer["status"] != 1:
            raise _invalid()
        hooks().password_before_update(customer=dict(customer), context=context)
        void_reset_tokens(customer["customer_id"])
        # Through the customer service: its hooks run and customer_password_changed says so.
        shown = service("customers").set_password(customer["customer_id"], password_hash, context)
        emit(events.PASSWORD_UPDATED, shown)
        after_commit(lambda: hooks().password_after_update(customer=dict(shown), context=context))


def void_reset_tokens(customer_id: int) -> None:
    """Delete every reset token of the customer, in the caller's transaction."""
    db.session.execute(
        sa.delete(ResetPasswordToken).where(ResetPasswordToken.customer_id == customer_id)
    )
