"""The webhook plugin's tables: endpoints, and the log of their deliveries."""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from app.db import JSONType, db, format_timestamp, new_uuid, utcnow


class WebhookEndpoint(db.Model):
    __tablename__ = "webhook_endpoint"

    webhook_endpoint_id: Mapped[int] = mapped_column(
        sa.Integer, sa.Identity(always=True), primary_key=True
    )
    uuid = mapped_column(sa.Uuid, nullable=False, unique=True, default=new_uuid)
    url: Mapped[str] = mapped_column(sa.String(2048), nullable=False)
    description = mapped_column(sa.String(255), nullable=True)
    # Event names, or ["*"] for every event.
    events = mapped_column(JSONType, nullable=False)
    # The signing secret, encrypted (plugins.webhook.signing); never shown again.
    secret: Mapped[str] = mapped_column(sa.Text, nullable=False)
    enabled: Mapped[bool] = mapped_column(sa.Boolean, nullable=False, default=True)
    # Failed attempts in a row across the endpoint's deliveries, and since when.
    failure_streak: Mapped[int] = mapped_column(sa.Integer, nullable=False, default=0)
    failing_since = mapped_column(sa.DateTime(timezone=True), nullable=True)
    disabled_at = mapped_column(sa.DateTime(timezone=True), nullable=True)
    disabled_reason = mapped_column(sa.Text, nullable=True)
    created_at = mapped_column(sa.DateTime(timezone=True), nullable=False, default=utcnow)
    updated_at = mapped_column(sa.DateTime(timezone=True), nullable=False, default=utcnow)

    def to_dict(self) -> dict:
        """The endpoint as the API shows it: never its secret."""
        return {
            "uuid": str(self.uuid),
            "url": self.url,
            "description": self.description,
            "events": list(self.events),
            "enabled": bool(self.enabled),
            "failure_streak": self.failure_streak,
            "failing_since": format_timestamp(self.failing_since),
            "disabled_at": format_timestamp(self.disabled_at),
            "disabled_reason": self.disabled_reason,
            "created_at": format_timestamp(self.created_at),
            "updated_at": format_timestamp(self.updated_at),
        }


class WebhookDelivery(db.Model):
    """One attempt to deliver one event to one endpoint."""

    __tablename__ = "webhook_delivery"
    __table_args__ = (
        sa.Index("ix_webhook_delivery_endpoint", "webhook_endpoint_id", "webhook_delivery_id"),
    )

    webhook_delivery_id: Mapped[int] = mapped_column(
        sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
        sa.Identity(always=True),
        primary_key=True,
    )
    webhook_endpoint_id: Mapped[int] = mapped_column(
        sa.Integer,
        sa.ForeignKey("webhook_endpoint.webhook_endpoint_id", ondelete="CASCADE"),
        nullable=False,
    )
    event_id = mapped_column(sa.Uuid, nullable=False)  # X-Webhook-Id
    event_name: Mapped[str] = mapped_column(sa.String(100), nullable=False)
    sequence = mapped_column(sa.BigInteger, nullable=True)
    attempt: Mapped[int] = mapped_column(sa.Integer, nullable=False)
    success: Mapped[bool] = mapped_column(sa.Boolean, nullable=False)
    status = mapped_column(sa.Integer, nullable=True)  # the receiver's HTTP status, if any
    duration_ms: Mapped[int] = mapped_column(sa.Integer, nullable=False)
    error = mapped_column(sa.Text, nullable=True)
    created_at = mapped_column(
        sa.DateTime(timezone=True), nullable=False, default=utcnow, index=True
    )

    def to_dict(self) -> dict:
        return {
            "id": self.webhook_delivery_id,
            "event_id": str(self.event_id),
            "event_name": self.event_name,
            "sequence": self.sequence,
            "attempt": self.attempt,
            "success": bool(self.success),
            "status": self.status,
            "duration_ms": self.duration_ms,
            "error": self.error,
            "created_at": format_timestamp(self.created_at),
        }
