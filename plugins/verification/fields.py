"""The fields this plugin adds to every customer: ``email_verified`` (which an
admin may set) and ``pending_email`` (read only)."""

from __future__ import annotations

from marshmallow import fields

from app.entity_fields import EntityField
from plugins.verification import service
from plugins.verification.models import EmailVerification


class StrictBoolean(fields.Boolean):
    """JSON ``true`` or ``false`` only (not ``"yes"``, ``1`` or ``"1"``)."""

    def _deserialize(self, value, attr, data, **kwargs):
        if type(value) is not bool:
            raise self.make_error("invalid")
        return value


def customer_fields() -> list[EntityField]:
    return [
        EntityField(
            "email_verified",
            StrictBoolean(),
            input=("admin",),
            load=service.load_verified,
            save=service.save_verified,
            read_with=EmailVerification,
            graphql="Boolean",
            default=False,
            description="Whether the customer confirmed its current email through a link, or"
            " an admin marked it verified (an admin sends true or false).",
        ),
        EntityField(
            "pending_email",
            fields.String(allow_none=True),
            input=(),
            load=service.load_pending,
            read_with=EmailVerification,
            graphql="String",
            description="A new email the customer asked for, applied once the link sent to it"
            " is opened; null when there is none.",
        ),
    ]
