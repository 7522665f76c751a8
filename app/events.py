"""Events: written to an outbox in the transaction of the change that causes
them, then delivered to the plugins that subscribe to them, at least once.

* :func:`emit` adds an ``event_outbox`` row in the caller's transaction, so an
  event exists exactly when its change committed.
* After the commit, :func:`app.db.transaction` hands the new events to the
  process's :class:`Dispatcher` (``EVENTS_DELIVERY``): ``thread`` delivers them
  from a background thread, ``inline`` in the committing thread, ``worker``
  leaves them to ``flask events run``.
* :func:`deliver` calls each subscriber (the ``subscribe`` hook) that has not
  yet handled the event. A row is deleted once every subscriber succeeded;
  otherwise it is kept with the names of those that did, and retried with
  exponential backoff. On PostgreSQL each row is locked with
  ``FOR UPDATE SKIP LOCKED`` while it is delivered, so any number of processes
  may deliver at once without handing one event to a subscriber twice
  concurrently.
"""

from __future__ import annotations

import logging
import os
import queue
import threading
from dataclasses import dataclass, field
from datetime import datetime, timedelta

import sqlalchemy as sa
from flask import Flask, current_app
from sqlalchemy.orm import Mapped, mapped_column

from app.db import JSONType, as_utc, db, new_uuid, utcnow

log = logging.getLogger(__name__)


class EventOutbox(db.Model):
    __tablename__ = "event_outbox"

    event_outbox_id: Mapped[int] = mapped_column(
        sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
        sa.Identity(always=True),
        primary_key=True,
    )
    uuid = mapped_column(sa.Uuid, nullable=False, unique=True, default=new_uuid)
    name: Mapped[str] = mapped_column(sa.String(100), nullable=False)
    payload = mapped_column(JSONType, nullable=False)
    attempts: Mapped[int] = mapped_column(sa.Integer, nullable=False, default=0)
    next_attempt_at = mapped_column(sa.DateTime(timezone=True), nullable=False, default=utcnow)
    last_error = mapped_column(sa.Text, nullable=True)
    # Subscribers (plugin names) that already handled the event: not called again.
    delivered_to = mapped_column(JSONType, nullable=False, default=list)
    created_at = mapped_column(sa.DateTime(timezone=True), nullable=False, default=utcnow)


@dataclass(frozen=True)
class Event:
    """What a subscriber receives."""

    name: str
    payload: dict
    uuid: str
    created_at: datetime
    attempt: int  # 1 on the first delivery


def emit(name: str, payload: dict) -> None:
    """Add an event to the current transaction; it commits or rolls back with it.

    ``payload`` is the object as the API shows it: never put a password hash in it.
    """
    event = EventOutbox(name=name, payload=payload)
    db.session.add(event)
    db.session.flush()
    db.session.info.setdefault("emitted_events", []).append(event.event_outbox_id)


def take_emitted(session) -> list[int]:
    """The ids of the events emitted in the session's transaction (and forget them)."""
    return session.info.pop("emitted_events", [])


# --- subscribers ----------------------------------------------------------------


def subscribers(event_name: str) -> list[tuple[str, object]]:
    """``(plugin name, handler)`` for every plugin subscribing to ``event_name``."""
    pm = current_app.extensions["plugins"]
    found = []
    for impl in reversed(pm.hook.subscribe.get_hookimpls()):
        mapping = impl.function() or {}
        handlers = mapping.get(event_name)
        if handlers is None:
            continue
        if not isinstance(handlers, list | tuple):
            handlers = [handlers]
        for index, handler in enumerate(handlers):
            name = impl.plugin_name if index == 0 else f"{impl.plugin_name}#{index}"
            found.append((name, handler))
    return found


def _backoff(attempts: int) -> timedelta:
    base = current_app.config["EVENTS_RETRY_DELAY"]
    ceiling = current_app.config["EVENTS_RETRY_MAX_DELAY"]
    return timedelta(seconds=min(base * 2 ** max(attempts - 1, 0), ceiling))


def deliver_one(event_id: int) -> bool | None:
    """Deliver one event if it is due and no other process holds it.

    :return: True when it was delivered to every subscriber (and deleted),
        False when a subscriber failed (kept for a retry), None when it was not
        due, already gone, or being delivered elsewhere.
    """
    table = EventOutbox.__table__
    now = utcnow()
    # A connection of its own holds the row lock, so subscribers may use the
    # session and commit their own work meanwhile.
    with db.engine.connect() as conn, conn.begin():
        row = conn.execute(
            sa.select(table)
            .where(table.c.event_outbox_id == event_id, table.c.next_attempt_at <= now)
            .with_for_update(skip_locked=True)
        ).first()
        if row is None:
            return None
        done = list(row.delivered_to or [])
        event = Event(
            name=row.name,
            payload=row.payload,
            uuid=str(row.uuid),
            created_at=as_utc(row.created_at),
            attempt=row.attempts + 1,
        )
        errors = []
        for name, handler in subscribers(row.name):
            if name in done:
                continue
            try:
                handler(event)
            except Exception as error:  # a subscriber's failure must not stop the others
                log.exception("subscriber %s failed on event %s (%s)", name, row.name, row.uuid)
                errors.append(f"{name}: {type(error).__name__}: {error}")
                db.session.rollback()
            else:
                done.append(name)
        if not errors:
            conn.execute(sa.delete(table).where(table.c.event_outbox_id == event_id))
            return True
        attempts = row.attempts + 1
        conn.execute(
            sa.update(table)
            .where(table.c.event_outbox_id == event_id)
            .values(
                attempts=attempts,
                delivered_to=done,
                last_error="\n".join(errors)[:4000],
                next_attempt_at=utcnow() + _backoff(attempts),
            )
        )
        return False


@dataclass
class DeliveryReport:
    delivered: int = 0
    failed: int = 0
    skipped: int = 0
    ids: list[int] = field(default_factory=list)


def deliver(ids: list[int] | None = None, limit: int = 100) -> DeliveryReport:
    """Deliver the given events, or up to ``limit`` due ones, oldest first."""
    if ids is None:
        table = EventOutbox.__table__
        ids = list(
            db.session.scalars(
                sa.select(table.c.event_outbox_id)
                .where(table.c.next_attempt_at <= utcnow())
                .order_by(table.c.event_outbox_id)
                .limit(limit)
            )
        )
        db.session.rollback()  # end the read: deliveries run in their own transactions
    report = DeliveryReport(ids=list(ids))
    for event_id in ids:
        outcome = deliver_one(event_id)
        if outcome is True:
            report.delivered += 1
        elif outcome is False:
            report.failed += 1
        else:
            report.skipped += 1
    return report


# --- in-process delivery ----------------------------------------------------------


class Dispatcher:
    """Hands newly committed events to the subscribers of this process.

    ``EVENTS_DELIVERY``: ``thread`` (a background thread delivers them right
    after the commit, off the request's path), ``inline`` (the committing
    thread delivers them before returning), ``worker`` (nothing here; only
    ``flask events run`` delivers). With ``EVENTS_POLL_INTERVAL`` > 0 the
    thread also retries due events every that many seconds, so a development
    server needs no separate worker.
    """

    def __init__(self, app: Flask):
        self.app = app
        self.mode = app.config["EVENTS_DELIVERY"]
        self.poll = app.config["EVENTS_POLL_INTERVAL"]
        self._queue: queue.Queue = queue.Queue()
        self._thread: threading.Thread | None = None
        self._pid: int | None = None
        self._lock = threading.Lock()

    def committed(self, ids: list[int]) -> None:
        if not ids or self.mode == "worker":
            return
        if self.mode == "inline":
            deliver(ids)
            return
        self._ensure_thread()
        self._queue.put(ids)

    def start_polling(self) -> None:
        """Start the thread now (development servers call this at start-up)."""
        if self.mode == "thread" and self.poll > 0:
            self._ensure_thread()

    def _ensure_thread(self) -> None:
        # Started lazily, and again after a fork (gunicorn forks its workers).
        with self._lock:
            if self._thread is None or self._pid != os.getpid() or not self._thread.is_alive():
                self._queue = queue.Queue()
                self._pid = os.getpid()
                self._thread = threading.Thread(target=self._run, name="events", daemon=True)
                self._thread.start()

    def _run(self) -> None:
        while True:
            try:
                ids = self._queue.get(timeout=self.poll if self.poll > 0 else None)
            except queue.Empty:
                ids = None
            try:
                with self.app.app_context():
                    deliver(ids)
                    db.session.remove()
            except Exception:
                log.exception("event delivery failed; the events stay in the outbox")


def dispatcher() -> Dispatcher:
    return current_app.extensions["events"]


def init_app(app: Flask) -> None:
    app.extensions["events"] = Dispatcher(app)
