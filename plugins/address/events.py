"""The address plugin's events (docs/plugins.md, "Events")."""

from __future__ import annotations

from app.events import EventType
from plugins.address.schemas import AddressSchema

ADDRESS_CREATED = EventType("address_created", "An address was added to a customer.", AddressSchema)
ADDRESS_UPDATED = EventType(
    "address_updated",
    "An address changed (also when it stopped being the default because another became it).",
    AddressSchema,
)
ADDRESS_DELETED = EventType(
    "address_deleted", "An address was deleted; the payload is as it was.", AddressSchema
)

EVENTS = [ADDRESS_CREATED, ADDRESS_UPDATED, ADDRESS_DELETED]
