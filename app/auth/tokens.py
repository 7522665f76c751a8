"""EverShop-format JWTs, issued and verified through Flask-JWT-Extended.

A token carries the account under ``user`` (admin) or ``customer``, plus
``tokenType`` (``admin``/``customer``), ``tokenKind`` (``access``/``refresh``),
``iss``, ``aud`` (the token type), ``iat`` and ``exp``, signed HS256 with a
secret of its own per type and kind (docs/api.md, "Authentication"). Tokens signed by another
program with the same claims and secret are accepted: only those claims are
required. Flask-JWT-Extended adds ``jti``, ``type`` and ``fresh``, which
EverShop ignores; this service adds ``tokenVersion`` (the account's token
version) and ``sid`` (the session: one login's tokens, see
:mod:`app.auth.sessions`).
"""

from __future__ import annotations

import functools
import time
from dataclasses import dataclass
from datetime import timedelta

import jwt as pyjwt
import sqlalchemy as sa
from flask import Flask, current_app
from flask_jwt_extended import JWTManager, create_access_token, create_refresh_token, decode_token
from flask_jwt_extended.exceptions import JWTExtendedException

from app import driver_reads
from app.auth import sessions
from app.db import db, utcnow
from app.errors import Unauthorized

jwt_manager = JWTManager()

# tokenType -> (claim holding the account, config prefix of its settings)
TOKEN_TYPES = {
    "admin": ("user", "JWT_ADMIN"),
    "customer": ("customer", "JWT_CUSTOMER"),
}
KINDS = ("access", "refresh")


@dataclass(frozen=True)
class _Subject:
    """What Flask-JWT-Extended is asked to sign: it picks the secret."""

    token_type: str
    kind: str


def _secret(token_type: str, kind: str) -> str:
    prefix = TOKEN_TYPES[token_type][1]
    return current_app.config[
        f"{prefix}_REFRESH_SECRET" if kind == "refresh" else f"{prefix}_SECRET"
    ]


def _lifetime(token_type: str, kind: str) -> timedelta:
    prefix = TOKEN_TYPES[token_type][1]
    name = f"{prefix}_REFRESH_TOKEN_EXPIRY" if kind == "refresh" else f"{prefix}_TOKEN_EXPIRY"
    return timedelta(seconds=current_app.config[name])


@jwt_manager.encode_key_loader
def _encode_key(subject: _Subject) -> str:
    return _secret(subject.token_type, subject.kind)


@jwt_manager.user_identity_loader
def _identity_claim(subject: _Subject) -> str:
    return subject.token_type  # written as the tokenType claim (JWT_IDENTITY_CLAIM)


@jwt_manager.decode_key_loader
def _decode_key(header: dict, claims: dict) -> str:
    token_type, kind = claims.get("tokenType"), claims.get("tokenKind")
    if token_type not in TOKEN_TYPES or kind not in KINDS:
        raise pyjwt.InvalidTokenError("unknown tokenType or tokenKind")
    return _secret(token_type, kind)


# The claim of the account's token version in the tokens this service signs
# (EverShop's tokens have none; their iat is compared with the password change).
VERSION_CLAIM = "tokenVersion"


# The claim of the session id: shared by the tokens of one login, and by the
# access tokens minted from its refresh token.
SESSION_CLAIM = "sid"


def issue(
    token_type: str,
    kind: str,
    identity: dict,
    version: int | None = None,
    session: str | None = None,
) -> str:
    """Sign a token of ``token_type`` and ``kind`` for the account ``identity``,
    carrying the account's token ``version`` and the ``session`` id when given."""
    claim = TOKEN_TYPES[token_type][0]
    create = create_refresh_token if kind == "refresh" else create_access_token
    claims = {claim: identity, "tokenKind": kind, "aud": token_type}
    if version is not None:
        claims[VERSION_CLAIM] = version
    if session is not None:
        claims[SESSION_CLAIM] = session
    return create(
        identity=_Subject(token_type, kind),
        additional_claims=claims,
        expires_delta=_lifetime(token_type, kind),
    )


def issue_pair(token_type: str, identity: dict, version: int | None = None) -> dict:
    """An access and a refresh token of a new session (a login)."""
    session = sessions.new_session_id()
    return {
        "accessToken": issue(token_type, "access", identity, version, session),
        "refreshToken": issue(token_type, "refresh", identity, version, session),
    }


def refreshed(refresh_claims: dict, identity: dict, version: int | None = None) -> str:
    """A new access token from a verified refresh token's claims, in the
    refresh token's session."""
    token_type = refresh_claims["tokenType"]
    return issue(token_type, "access", identity, version, session_of(refresh_claims))


def session_of(claims: dict) -> str | None:
    """The session id of verified claims, or None for a token without one
    (signed by EverShop, or before sessions existed)."""
    sid = claims.get(SESSION_CLAIM)
    return sid if isinstance(sid, str) else None


def revoke_session(claims: dict) -> bool:
    """Record the session of verified ``claims`` as revoked, in the caller's
    transaction, for as long as any token of it can still verify: every access
    and refresh token of it is refused from then on. False, recording nothing,
    for a token without a session id."""
    sid = session_of(claims)
    if sid is None:
        return False
    token_type = claims["tokenType"]
    # Every token of the session was issued by now, so none expires later
    # than a refresh token issued now (plus an access lifetime, for one
    # minted while the session is being revoked).
    expires_at = utcnow() + _lifetime(token_type, "refresh") + _lifetime(token_type, "access")
    sessions.revoke(sid, token_type, expires_at)
    return True


def _session_id(claims: dict) -> str | None:
    """The token's session id, if it carries a well-formed one."""
    sid = claims.get(SESSION_CLAIM)
    if isinstance(sid, str) and 0 < len(sid) <= sessions.MAX_SESSION_ID_LENGTH:
        return sid
    return None


def account_for(model, account_id: int, claims: dict):
    """``(row, session_revoked)``: the account row of ``model`` with primary
    key ``account_id`` (None when there is none) and whether the token's
    session was revoked, read in one round trip; ``session_revoked`` is None
    when the token names no session. Pass it on to :func:`still_valid`."""
    sid = _session_id(claims)
    if sid is None:
        return db.session.get(model, account_id), None
    found = db.session.execute(_account_query(model), {"id": account_id, "sid": sid}).first()
    return (found[0], bool(found[1])) if found else (None, None)


def account_values(model, account_id: int, claims: dict):
    """As :func:`account_for`, with the account's columns as a row (attribute
    access by column name) instead of an ORM object: for a check that only
    reads, about 0.1 ms cheaper per request (docs/performance.md). The row is
    not in the session: reading the account later goes to the database."""
    sid = _session_id(claims)
    found = driver_reads.first(
        db.session, _values_query(model), {"id": account_id, "sid": sid or ""}
    )
    if found is None:
        return None, None
    return found, (found.session_revoked if sid is not None else None)


def _revoked_and_key(model) -> tuple:
    """Whether the session ``:sid`` was revoked, and the model's primary key."""
    (key,) = sa.inspect(model).primary_key
    return sa.exists().where(sessions.RevokedSession.sid == sa.bindparam("sid")), key


@functools.cache
def _values_query(model) -> sa.Select:
    revoked, key = _revoked_and_key(model)
    # Everything but the password hash: a token's check has no use for it.
    columns = [column for column in sa.inspect(model).local_table.c if column.name != "password"]
    return sa.select(*columns, revoked.label("session_revoked")).where(key == sa.bindparam("id"))


@functools.cache
def _account_query(model) -> sa.Select:
    """The account and its session's revocation, built once per model: a
    statement built per request costs more than running it (docs/performance.md,
    "Statements built once")."""
    revoked, key = _revoked_and_key(model)
    return sa.select(model, revoked).where(key == sa.bindparam("id"))


def still_valid(
    claims: dict, token_version: int, changed_at, revoked_at=None, session_revoked=None
) -> bool:
    """Whether a verified token survives the account's revocations.

    A token of this service must carry the account's current ``token_version``.
    A token without one (signed by EverShop) must be issued no earlier than
    the second of the last password change (``changed_at``, or None) and
    after the second every token of the account was revoked (``revoked_at``,
    or None). A token with a session id must not belong to a revoked session
    (``session_revoked`` as :func:`account_for` read it, or else one
    primary-key lookup here).
    """
    version = claims.get(VERSION_CLAIM)
    if version is not None:
        if version != token_version:
            return False
    else:
        if changed_at is not None and claims["iat"] < int(changed_at.timestamp()):
            return False
        # Seconds are all EverShop's iat tells: a token of the very second of
        # the revocation may be older than it, so it is refused too.
        if revoked_at is not None and claims["iat"] <= int(revoked_at.timestamp()):
            return False
    if SESSION_CLAIM in claims:
        sid = _session_id(claims)
        if sid is None:
            return False
        if session_revoked is None:
            session_revoked = sessions.is_revoked(sid)
        if session_revoked:
            return False
    return True


_CACHE_SIZE = 4096


def _decode(token: str) -> dict:
    """The verified claims of ``token``; 401 when it does not verify.

    A client sends the same access token with every request until it expires,
    so the claims of tokens that verified are kept per app: the same string
    carries the same signature. Expiry is checked again on every use.
    """
    cache = current_app.extensions.setdefault("verified_tokens", {})
    claims = cache.get(token)
    if claims is not None:
        if claims["exp"] > time.time():
            return claims
        cache.pop(token, None)
    try:
        claims = decode_token(token)
    except (pyjwt.PyJWTError, JWTExtendedException, ValueError, TypeError):
        raise Unauthorized("The token is invalid or expired.") from None
    if isinstance(claims.get("exp"), int | float):
        if len(cache) >= _CACHE_SIZE:
            cache.clear()  # simpler than LRU, and a refill costs one decode per token
        cache[token] = claims
    return claims


def verify(token: str, kind: str, token_type: str | None = None) -> dict:
    """Return the verified claims of ``token`` or raise a 401.

    Checks the signature with the secret of the token's own type and kind,
    ``alg`` (HS256 only), ``iss``, ``exp``, that ``aud`` is the token's type,
    that ``tokenKind`` is ``kind`` and, when given, ``tokenType`` is ``token_type``.
    """
    claims = _decode(token)
    found_type = claims.get("tokenType")
    audience = claims.get("aud")
    if (
        claims.get("tokenKind") != kind
        or (token_type is not None and found_type != token_type)
        or audience not in (found_type, [found_type])
        or not isinstance(claims.get(TOKEN_TYPES[found_type][0]), dict)
        or not isinstance(claims.get("iat"), int | float)
        or "exp" not in claims
    ):
        raise Unauthorized("The token is invalid or expired.")
    return claims


def init_app(app: Flask) -> None:
    issuer = app.config["JWT_ISSUER"]
    app.config.update(
        JWT_TOKEN_LOCATION=["headers"],
        JWT_ALGORITHM="HS256",
        JWT_DECODE_ALGORITHMS=["HS256"],
        JWT_IDENTITY_CLAIM="tokenType",
        JWT_ENCODE_ISSUER=issuer,
        JWT_DECODE_ISSUER=issuer,
        JWT_DECODE_AUDIENCE=list(TOKEN_TYPES),
        JWT_ENCODE_NBF=False,
        JWT_VERIFY_SUB=False,
        JWT_COOKIE_CSRF_PROTECT=False,
    )
    jwt_manager.init_app(app)
