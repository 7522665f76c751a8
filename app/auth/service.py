"""Admin users: creation and management (from the command line) and logins.

Admin users are managed with ``flask user`` only (docs/operations.md, "Admin
users"). Disabling an admin, changing its password or revoking its tokens
moves its token version on and sets ``tokens_revoked_at``, so every token it
held is refused from the next request on; enabling it again revives none.
"""

from __future__ import annotations

import sqlalchemy as sa

from app.auth import tokens
from app.auth.models import AdminUser, identity_of
from app.db import as_utc, db, utcnow
from app.emails import InvalidEmail, lookup_key, normalize_email
from app.errors import Conflict, NotFound, Unauthorized, ValidationError
from app.login_limits import begin_login, unlock
from app.passwords import check_password_rules, hash_password, verify_password
from app.transactions import transaction

INVALID_LOGIN = "Invalid email or password"
UNKNOWN_ADMIN = "No admin user has the email {email}."


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


def active_admin(claims: dict) -> sa.Row | None:
    """The admin user a verified token names, if it still exists and is
    active: a row of its columns (see :func:`app.auth.models.account_of`)."""
    identity = claims.get("user") or {}
    user_id = identity.get("admin_user_id")
    if not isinstance(user_id, int) or isinstance(user_id, bool):
        return None
    user, session_revoked = tokens.account_values(AdminUser, user_id, claims)
    if user is None or not user.status or str(user.uuid) != str(identity.get("uuid", user.uuid)):
        return None
    if not tokens.still_valid(
        claims,
        user.token_version,
        None,
        revoked_at=as_utc(user.tokens_revoked_at),
        session_revoked=session_revoked,
    ):
        return None
    return user


def refresh(refresh_token: str) -> dict:
    """A new access token from a refresh token, if its admin is still active
    and the token was not revoked; in the refresh token's session."""
    claims = tokens.verify(refresh_token, "refresh", "admin")
    user = active_admin(claims)
    if user is None:
        raise Unauthorized("The token's account no longer exists or is disabled.")
    return {"accessToken": tokens.refreshed(claims, identity_of(user), user.token_version)}


# --- management (flask user) ----------------------------------------------------------


def list_admins() -> list[dict]:
    """Every admin user as :meth:`AdminUser.to_dict` shows it (never a hash),
    oldest first."""
    users = db.session.scalars(sa.select(AdminUser).order_by(AdminUser.admin_user_id))
    return [user.to_dict() for user in users]


def find_admin(email: str) -> dict:
    """The admin with this email (any letter case); 404 naming the email."""
    user = _by_email(email)
    if user is None:
        raise NotFound(UNKNOWN_ADMIN.format(email=email.strip()))
    return user.to_dict()


def _locked(email: str) -> AdminUser:
    """The admin with this email (any letter case), its row locked for the
    caller's transaction; 404 naming the email."""
    user = db.session.scalar(
        sa.select(AdminUser)
        .where(sa.func.lower(AdminUser.email) == lookup_key(email))
        .with_for_update()
    )
    if user is None:
        raise NotFound(UNKNOWN_ADMIN.format(email=email.strip()))
    return user


def _revoke_tokens(user: AdminUser) -> None:
    """Refuse every token ``user`` holds: its version moves on (tokens of this
    service) and ``tokens_revoked_at`` is now (tokens signed by EverShop)."""
    now = utcnow()
    user.token_version = AdminUser.token_version + 1
    user.tokens_revoked_at = now
    user.updated_at = now


def set_admin_status(email: str, active: bool) -> dict:
    """Enable or disable an admin (404 for an unknown email). Disabling also
    revokes every token it holds, so enabling it again revives none."""
    with transaction():
        user = _locked(email)
        if user.status != active:
            user.status = active
            if active:
                user.updated_at = utcnow()
            else:
                _revoke_tokens(user)
        db.session.flush()
        db.session.refresh(user)
        return user.to_dict()


def set_admin_password(email: str, password: str) -> dict:
    """Give an admin a new password (checked by the password rules: 400) and
    revoke every token it holds; 404 for an unknown email."""
    check_password_rules(password)
    password_hash = hash_password(password)  # slow: outside the transaction
    with transaction():
        user = _locked(email)
        user.password = password_hash
        _revoke_tokens(user)
        db.session.flush()
        db.session.refresh(user)
        return user.to_dict()


def revoke_admin_tokens(email: str) -> dict:
    """Revoke every access and refresh token an admin holds (it logs in
    again); 404 for an unknown email."""
    with transaction():
        user = _locked(email)
        _revoke_tokens(user)
        db.session.flush()
        db.session.refresh(user)
        return user.to_dict()
