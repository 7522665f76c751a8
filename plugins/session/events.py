"""The session plugin's events (docs/plugins.md, "Events")."""

from __future__ import annotations

from app.events import EventType
from plugins.session.schemas import SessionsRevokedSchema

CUSTOMER_SESSIONS_REVOKED = EventType(
    "customer_sessions_revoked",
    "A customer logged out of one session, or of all of them (all_sessions), by itself or"
    " by an admin (revoked_by).",
    SessionsRevokedSchema,
)

EVENTS = [CUSTOMER_SESSIONS_REVOKED]
