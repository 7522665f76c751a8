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
import time
from dataclasses import dataclass, field
from datetime import datetime, timedelta

import sqlalchemy as sa
from flask import Flask, current_app
from sqlalchemy.orm import Mapped, mapped_column

from app.db import JSONType, as_utc, db, new_uuid, utcnow

log = logging.getLogger(__name__)

# Seconds the delivery thread waits for more committed events before it
# delivers what it has (a latency of at most this much for subscribers).
BATCH_WINDOW = 0.02


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
    db.session.info.setdefault("emitted_events", []).append(event)


def take_emitted(session) -> list[int]:
    """The ids of the events emitted in the session's transaction (and forget
    them). Call it after the last flush and before the commit, which expires them."""
    return [event.event_outbox_id for event in session.info.pop("emitted_events", [])]


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


def _deliver_row(row: dict) -> list[str]:
    """Call the subscribers of one locked outbox row that have not yet handled
    it; return the error of each that failed, and add the others to
    ``row["delivered_to"]``."""
    done = row["delivered_to"]
    event = Event(
        name=row["name"],
        payload=row["payload"],
        uuid=str(row["uuid"]),
        created_at=as_utc(row["created_at"]),
        attempt=row["attempts"] + 1,
    )
    errors = []
    for name, handler in subscribers(event.name):
        if name in done:
            continue
        try:
            handler(event)
        except Exception as error:  # a subscriber's failure must not stop the others
            log.exception("subscriber %s failed on event %s (%s)", name, event.name, event.uuid)
            errors.append(f"{name}: {type(error).__name__}: {error}")
            db.session.rollback()
        else:
            done.append(name)
    return errors


def deliver_batch(event_ids: list[int]) -> dict[int, bool]:
    """Deliver the events among ``event_ids`` that are due and not held by
    another process, in one transaction of their own.

    :return: ``{event_id: True}`` for each delivered to every subscriber (and
        deleted), ``{event_id: False}`` for each kept for a retry; events not
        due, already gone or being delivered elsewhere are absent.
    """
    table = EventOutbox.__table__
    outcome: dict[int, bool] = {}
    if not event_ids:
        return outcome
    # A connection of its own holds the row locks, so subscribers may use the
    # session and commit their own work meanwhile.
    with db.engine.connect() as conn, conn.begin():
        if conn.dialect.name == "postgresql":
            # Losing this commit in a crash only means delivering again, which
            # at-least-once allows: no need to wait for the disk.
            conn.execute(sa.text("SET LOCAL synchronous_commit = off"))
        rows = conn.execute(
            sa.select(table)
            .where(table.c.event_outbox_id.in_(event_ids), table.c.next_attempt_at <= utcnow())
            .order_by(table.c.event_outbox_id)
            .with_for_update(skip_locked=True)
        ).all()
        for found in rows:
            row = {**found._asdict(), "delivered_to": list(found.delivered_to or [])}
            errors = _deliver_row(row)
            outcome[found.event_outbox_id] = not errors
            if not errors:
                continue
            attempts = found.attempts + 1
            conn.execute(
                sa.update(table)
                .where(table.c.event_outbox_id == found.event_outbox_id)
                .values(
                    attempts=attempts,
                    delivered_to=row["delivered_to"],
                    last_error="\n".join(errors)[:4000],
                    next_attempt_at=utcnow() + _backoff(attempts),
                )
            )
        delivered = [event_id for event_id, ok in outcome.items() if ok]
        if delivered:
            # One statement for the whole batch: most events have few subscribers.
            conn.execute(sa.delete(table).where(table.c.event_outbox_id.in_(delivered)))
    return outcome


def deliver_one(event_id: int) -> bool | None:
    """Deliver one event if it is due and no other process holds it.

    :return: True when it was delivered to every subscriber (and deleted),
        False when a subscriber failed (kept for a retry), None when it was not
        due, already gone, or being delivered elsewhere.
    """
    return deliver_batch([event_id]).get(event_id)


@dataclass
class DeliveryReport:
    delivered: int = 0
    failed: int = 0
    skipped: int = 0
    ids: list[int] = field(default_factory=list)


def deliver(ids: list[int] | None = None, limit: int = 100) -> DeliveryReport:
    """Deliver the given events, or up to ``limit`` due ones, oldest first,
    ``limit`` to a transaction."""
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
    for start in range(0, len(ids), limit):
        outcome = deliver_batch(ids[start : start + limit])
        report.delivered += sum(1 for ok in outcome.values() if ok)
        report.failed += sum(1 for ok in outcome.values() if not ok)
    report.skipped = len(ids) - report.delivered - report.failed
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
                # Gather what other commits hand over meanwhile and deliver it
                # in one transaction: under load that divides the cost of
                # delivery by the number of events in the batch.
                window_ends = time.monotonic() + BATCH_WINDOW
                while (left := window_ends - time.monotonic()) > 0:
                    try:
                        ids = ids + self._queue.get(timeout=left)
                    except queue.Empty:
                        break
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
