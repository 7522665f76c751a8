"""Sessions: the tokens of one login, and the sessions logged out of.

Every pair of tokens this service signs at a login carries a new session id,
the ``sid`` claim, and an access token minted from a refresh token carries the
refresh token's (:mod:`app.auth.tokens`). Revoking a session records its id in
``revoked_session`` until every token of it has expired; revoking stores a row
and purges the rows whose tokens have all expired, so the table holds only the
revocations still in force. Checking a session is one lookup by primary key
(docs/api.md, "Sessions").
"""

from __future__ import annotations

import secrets
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Mapped, mapped_column

from app.db import db, utcnow

# The longest session id accepted in a token (ours are 32 hex digits).
MAX_SESSION_ID_LENGTH = 64


class RevokedSession(db.Model):
    __tablename__ = "revoked_session"

    sid: Mapped[str] = mapped_column(sa.String(MAX_SESSION_ID_LENGTH), primary_key=True)
    token_type: Mapped[str] = mapped_column(sa.String(20), nullable=False)
    # When the last token of the session expires: the row can go then.
    expires_at = mapped_column(sa.DateTime(timezone=True), nullable=False, index=True)


def new_session_id() -> str:
    """A new session id: 128 random bits as 32 hex digits."""
    return secrets.token_hex(16)


def is_revoked(sid: str) -> bool:
    """Whether the session ``sid`` was revoked (one primary-key lookup)."""
    found = db.session.scalar(sa.select(RevokedSession.sid).where(RevokedSession.sid == sid))
    return found is not None


def revoke(sid: str, token_type: str, expires_at: datetime) -> None:
    """Record the session ``sid`` as revoked until ``expires_at``, in the
    caller's transaction, and purge the revocations that have run out.
    Revoking a session twice keeps the first record."""
    db.session.execute(sa.delete(RevokedSession).where(RevokedSession.expires_at < utcnow()))
    dialect = postgresql if db.session.get_bind().dialect.name == "postgresql" else sqlite
    db.session.execute(
        dialect.insert(RevokedSession)
        .values(sid=sid, token_type=token_type, expires_at=expires_at)
        .on_conflict_do_nothing(index_elements=["sid"])
    )
