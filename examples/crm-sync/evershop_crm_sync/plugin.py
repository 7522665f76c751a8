"""The CRM sync's hooks: a setting for the file, and a subscriber of every
event the customer and address plugins declare (read with
``declared_events``, so an event they add later is synced too)."""

from __future__ import annotations

from pathlib import Path

from app.plugin_api import Event, RetryLater, Setting, declared_events, hookimpl
from flask import current_app

from evershop_crm_sync.journal import journal

# The plugins whose events the CRM wants.
SOURCES = ("customer", "address")


@hookimpl
def register_settings():
    return Setting(
        "CRM_SYNC_FILE",
        str,
        default="crm-sync.jsonl",
        help="the JSONL file customer and address events are appended to"
        " (relative: in the service's instance folder)",
    )


def journal_path() -> Path:
    """``CRM_SYNC_FILE``, relative paths taken from the instance folder."""
    return Path(current_app.instance_path) / current_app.config["CRM_SYNC_FILE"]


def record(event: Event) -> None:
    """Append the event to the file, once (delivery is at least once). A file
    that cannot be written is retried later, like any failed delivery."""
    line = {
        "sequence": event.sequence,
        "event_id": str(event.uuid),
        "event": event.name,
        "created_at": event.created_at.isoformat(),
        "payload": event.payload,
    }
    path = journal_path()
    try:
        journal(path).append(line)
    except OSError as error:
        raise RetryLater(f"cannot append to {path}: {error.strerror or error}") from None


@hookimpl
def subscribe():
    # Asked at every delivery; declared_events is read once per app.
    return {event.name: record for event in declared_events(*SOURCES)}
