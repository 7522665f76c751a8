"""Small helpers of the coexistence suite."""

from __future__ import annotations

import uuid


def new_email(prefix: str = "customer") -> str:
    """An email no other test of the session uses (tests share one database)."""
    return f"{prefix}-{uuid.uuid4().hex[:12]}@example.com"


def bearer(token: str) -> dict:
    return {"Authorization": f"Bearer {token}"}
