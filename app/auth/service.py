"""Admin users: creation (from the command line) and logins."""

from __future__ import annotations

import sqlalchemy as sa

from app.auth import tokens
from app.auth.models import AdminUser
from app.db import db
from app.emails import InvalidEmail, lookup_key, normalize_email
from app.errors import Conflict, Unauthorized, ValidationError
from app.login_limits import begin_login, unlock
from app.passwords import check_password_rules, hash_password, verify_password
from app.transactions import transaction

INVALID_LOGIN = "Invalid email or password"


def _by_email(email: str) -> AdminUser | None:
    return db.session.scalar(
        sa.select(AdminUser).where(sa.func.lower(AdminUser.email) == lookup_key(email))
    )


def create_admin_user(email: str, password: str, full_name: str | None) -> AdminUser:
    """Insert an active admin user; 409 if the email is taken (in any letter case)."""
    try:
        email = normalize_email(email or "")
    except InvalidEmail as error:
        raise ValidationError.for_field("email", str(error)) from None
    check_password_rules(password)
    if _by_email(email) is not None:
        raise Conflict("Email is already used")
    user = AdminUser(
        email=email, password=hash_password(password), full_name=(full_name or "").strip() or None
    )
    with transaction(unique={"email": Conflict("Email is already used")}) as session:
        session.add(user)
    return user


def login(email: str, password: str) -> dict:
    """Return an access and a refresh token for an active admin, else 401.

    Counted against the failed-login limits before the password is checked
    (429 past them); a right password gives the count back.
    """
    attempt = begin_login("admin", email)
    user = _by_email(email)
    ok = verify_password(password, user.password if user else None)
    if not ok or not user.status:
        attempt.failed()
        raise Unauthorized(INVALID_LOGIN)
    attempt.succeeded()
    return tokens.issue_pair("admin", user.to_identity(), user.token_version)


def unlock_logins(email: str) -> bool:
    """Lift the failed-login locks of the admin account ``email`` (see
    :func:`app.login_limits.unlock`); False when rate limits are off."""
    return unlock("admin", email)


def active_admin(claims: dict) -> AdminUser | None:
    """The admin user a verified token names, if it still exists and is active."""
    identity = claims.get("user") or {}
    user_id = identity.get("admin_user_id")
    if not isinstance(user_id, int) or isinstance(user_id, bool):
        return None
    user = db.session.get(AdminUser, user_id)
    if user is None or not user.status or str(user.uuid) != str(identity.get("uuid", user.uuid)):
        return None
    if not tokens.still_valid(claims, user.token_version, None):
        return None
    return user


def refresh(refresh_token: str) -> dict:
    """A new access token from a refresh token, if its admin is still active."""
    claims = tokens.verify(refresh_token, "refresh", "admin")
    user = active_admin(claims)
    if user is None:
        raise Unauthorized("The token's account no longer exists or is disabled.")
    return {"accessToken": tokens.issue("admin", "access", user.to_identity(), user.token_version)}
