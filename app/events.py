"""Events: written to an outbox in the transaction of the change that causes
them, then delivered to the plugins that subscribe to them, at least once.

* :func:`emit` adds an ``event_outbox`` row in the caller's transaction, so an
  event exists exactly when its change committed. Its id is its ``sequence``:
  the changes of one customer are serialised by a lock on its row, so their
  events' sequences follow the order of the changes.
* After the commit, :func:`app.db.transaction` hands the new events to the
  process's :class:`Dispatcher` (``EVENTS_DELIVERY``): ``thread`` delivers them
  from a background thread, ``inline`` in the committing thread, ``worker``
  leaves them to ``flask events run``.
* :func:`deliver` works in three steps, so that no database transaction stays
  open while a subscriber talks to the network (a mail server, a webhook):

  1. *claim*: one short transaction leases due events to this process
     (``locked_until``; ``FOR UPDATE SKIP LOCKED`` on PostgreSQL), so that no
     other process delivers them meanwhile;
  2. *deliver*: each subscriber (the ``subscribe`` hook) that has not yet
     handled an event is called, outside any transaction of the delivery;
  3. *record*: one short transaction deletes the events every subscriber
     handled and, for the others, keeps the names of those that did, counts the
     attempt and sets the next one with exponential backoff
     (``EVENTS_RETRY_DELAY`` doubled up to ``EVENTS_RETRY_MAX_DELAY``).

  An event still failing ``EVENTS_MAX_AGE`` seconds after it was emitted (or
  last retried by an operator) is given up: it stays in the outbox with
  ``failed_at`` set, a WARNING names it, and ``flask events retry`` sends it
  again. A process that dies mid-delivery leaves its lease to expire
  (``EVENTS_LEASE``), and another process delivers the events again.
"""

from __future__ import annotations

import contextvars
import logging
import os
import queue
import signal
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta

import sqlalchemy as sa
from flask import Flask, current_app
from sqlalchemy.orm import Mapped, mapped_column

from app import metrics
from app.actors import acting_as_plugin
from app.db import (
    JSONType,
    as_utc,
    db,
    insert_rows,
    is_disconnect,
    new_uuid,
    utcnow,
    write_connection,
)
from app.deferred_inserts import insert_later

log = logging.getLogger(__name__)

# Seconds the delivery thread waits for more committed events before it
# delivers what it has (a latency of at most this much for subscribers).
BATCH_WINDOW = 0.02
# A batch stops taking new events this many seconds before its lease ends,
# so that it records its outcome while the events are still its own.
LEASE_MARGIN = 5.0


class EventOutbox(db.Model):
    __tablename__ = "event_outbox"
    # SQLite would reuse the ids of deleted rows; ids are sequences.
    __table_args__ = {"sqlite_autoincrement": True}

    event_outbox_id: Mapped[int] = mapped_column(
        sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
        sa.Identity(always=True),
        primary_key=True,
    )
    uuid = mapped_column(sa.Uuid, nullable=False, unique=True, default=new_uuid)
    name: Mapped[str] = mapped_column(sa.String(100), nullable=False)
    payload = mapped_column(JSONType, nullable=False)
    attempts: Mapped[int] = mapped_column(sa.Integer, nullable=False, default=0)
    next_attempt_at = mapped_column(
        sa.DateTime(timezone=True), nullable=False, default=utcnow, index=True
    )
    last_error = mapped_column(sa.Text, nullable=True)
    # Subscribers (plugin names) that already handled the event: not called again.
    delivered_to = mapped_column(JSONType, nullable=False, default=list)
    created_at = mapped_column(sa.DateTime(timezone=True), nullable=False, default=utcnow)
    # The lease of the process delivering the event now, if any.
    locked_until = mapped_column(sa.DateTime(timezone=True), nullable=True)
    locked_by = mapped_column(sa.String(100), nullable=True)
    # When failures stop being retried (EVENTS_MAX_AGE after the event, or
    # after an operator's retry); set when the event is given up.
    expires_at = mapped_column(sa.DateTime(timezone=True), nullable=True)
    failed_at = mapped_column(sa.DateTime(timezone=True), nullable=True)


class RetryLater(Exception):
    """Raised by a subscriber that could not do its work for a reason it
    expects (a server down, a receiver answering 500): the delivery is retried
    with backoff as for any failure, and logged as one WARNING line with the
    message, without a traceback."""


@dataclass(frozen=True)
class EventType:
    """An event a plugin emits, declared through ``register_events`` so that
    subscribers and the reference docs know its name and payload.

    :param name: past tense, domain first (``customer_registered``).
    :param description: when it is emitted, in one sentence.
    :param payload: the marshmallow schema of its payload.
    """

    name: str
    description: str
    payload: type | None = None

    def __str__(self) -> str:
        return self.name


@dataclass(frozen=True)
class Event:
    """What a subscriber receives."""

    name: str
    payload: dict
    uuid: str
    created_at: datetime
    attempt: int  # 1 on the first delivery
    sequence: int = 0  # grows with the order of commits (see the module's docstring)


def _outbox_row(name: str, payload: dict, now: datetime, expires: datetime) -> dict:
    return {
        "uuid": new_uuid(),
        "name": name,
        "payload": payload,
        "attempts": 0,
        "next_attempt_at": now,
        "delivered_to": [],
        "created_at": now,
        "expires_at": expires,
    }


def emit(name: str | EventType, payload: dict) -> None:
    """Add an event to the current transaction; it commits or rolls back with it.

    ``name`` is a declared :class:`EventType` (or its name). ``payload`` is the
    object as the API shows it: never put a password hash in it. The
    ``event_emitted`` hooks run right away, in the same transaction, so that
    what they write commits or rolls back with the change.

    The outbox row is sent with the commit (app.deferred_inserts), or before
    the transaction's next statement.
    """
    now = utcnow()
    expires = now + timedelta(seconds=current_app.config["EVENTS_MAX_AGE"])
    insert_later(
        db.session.connection(),
        _table(),
        [_outbox_row(str(name), payload, now, expires)],
        returning="event_outbox_id",
    )
    current_app.extensions["plugins"].hook.event_emitted(name=str(name), payload=payload)


def emit_many(name: str | EventType, payloads: list[dict], connection: sa.Connection) -> None:
    """Add one event per payload, all of one type, in a single statement on
    ``connection`` (the caller's transaction): for bulk writes, where an ORM
    object per event would cost more than the write itself.

    The events are not handed to this process's dispatcher: they wait in the
    outbox for ``flask events run`` (or a web process's poll), like the events
    of :func:`left_for_worker`.
    """
    if not payloads:
        return
    now = utcnow()
    expires = now + timedelta(seconds=current_app.config["EVENTS_MAX_AGE"])
    insert_rows(
        connection,
        _table(),
        [_outbox_row(str(name), payload, now, expires) for payload in payloads],
    )


# --- subscribers ----------------------------------------------------------------


def subscribers(event_name: str) -> list[tuple[str, object]]:
    """``(plugin name, handler)`` for every plugin subscribing to ``event_name``,
    through the ``subscribe`` hook (whose answers the plugin manager names)."""
    found = []
    for mapping in current_app.extensions["plugins"].hook.subscribe():
        found += [(s.name, s.handler) for s in mapping.get(event_name, ())]
    return found


def _backoff(attempts: int) -> timedelta:
    base = current_app.config["EVENTS_RETRY_DELAY"]
    ceiling = current_app.config["EVENTS_RETRY_MAX_DELAY"]
    return timedelta(seconds=min(base * 2 ** max(attempts - 1, 0), ceiling))


def _worker_name() -> str:
    return f"{socket.gethostname()}:{os.getpid()}:{threading.get_ident()}"[:100]


def _table() -> sa.Table:
    return EventOutbox.__table__


# For the claim's transaction: losing its commit in a crash only means
# delivering again later; and a bitmap scan of the due events would visit
# every dead index entry the outbox holds until it is vacuumed, on every claim
# (14 ms against 0.2 ms for a plain index scan, which skips the entries it
# found dead once, after 300,000 events: docs/performance.md). A SELECT, so
# that it travels with the transaction's BEGIN (app/lazy_begin.py).
_CLAIM_SETTINGS = sa.text(
    "SELECT set_config('synchronous_commit', 'off', true),"
    " set_config('enable_bitmapscan', 'off', true)"
)


def _claim(limit: int, ids: list[int] | None, owner: str, lease: float) -> list:
    """Lease up to ``limit`` due events (among ``ids`` when given) to ``owner``,
    oldest first, in a transaction of their own; return their rows."""
    table = _table()
    now = utcnow()
    due = (
        sa.select(table.c.event_outbox_id)
        .where(
            table.c.failed_at.is_(None),
            table.c.next_attempt_at <= now,
            sa.or_(table.c.locked_until.is_(None), table.c.locked_until <= now),
        )
        .order_by(table.c.event_outbox_id)
        .limit(limit)
    )
    if ids is not None:
        due = due.where(table.c.event_outbox_id.in_(ids))
    with write_connection() as conn:
        if conn.dialect.name == "postgresql":
            # Another process's claim in flight is skipped, not waited for.
            due = due.with_for_update(skip_locked=True)
            conn.execute(_CLAIM_SETTINGS)
        rows = conn.execute(
            sa.update(table)
            .where(table.c.event_outbox_id.in_(due.scalar_subquery()))
            .values(locked_until=now + timedelta(seconds=lease), locked_by=owner)
            .returning(*table.c)
        ).all()
    return sorted(rows, key=lambda row: row.event_outbox_id)


def _deliver_row(row) -> tuple[list[str], list[str]]:
    """Call the subscribers of one claimed row that have not yet handled it.

    :return: the names of the subscribers that have now handled it (those of
        earlier attempts included), and the error of each that failed.
    """
    done = list(row.delivered_to or [])
    event = Event(
        name=row.name,
        payload=row.payload,
        uuid=str(row.uuid),
        created_at=as_utc(row.created_at),
        attempt=row.attempts + 1,
        sequence=row.event_outbox_id,
    )
    errors = []
    for name, handler in subscribers(event.name):
        if name in done:
            continue
        try:
            # What the handler changes is this plugin's doing (app.actors).
            with acting_as_plugin(name):
                handler(event)
        except RetryLater as error:
            log.warning(
                "subscriber %s will retry event %s (%s): %s", name, event.name, event.uuid, error
            )
            errors.append(f"{name}: {type(error).__name__}: {error}")
            metrics.count_delivery(name, event.name, ok=False)
        except Exception as error:  # a subscriber's failure must not stop the others
            if is_disconnect(error):
                # An outage, not a bug: one line, and the event is retried.
                log.warning(
                    "subscriber %s lost the database on event %s (%s); it will be retried",
                    name,
                    event.name,
                    event.uuid,
                )
            else:
                log.exception("subscriber %s failed on event %s (%s)", name, event.name, event.uuid)
            errors.append(f"{name}: {type(error).__name__}: {error}")
            metrics.count_delivery(name, event.name, ok=False)
        else:
            done.append(name)
            metrics.count_delivery(name, event.name, ok=True)
        finally:
            # Whatever the handler left open is not ours to keep.
            db.session.rollback()
    return done, errors


def _record(owner: str, delivered: list[int], failed: list[tuple], released: list[int]) -> None:
    """Write the outcome of a batch in one transaction: delete what every
    subscriber handled, schedule or give up what failed, release the rest."""
    table = _table()
    mine = table.c.locked_by == owner
    now = utcnow()
    with write_connection() as conn:
        if conn.dialect.name == "postgresql":
            conn.execute(sa.text("SET LOCAL synchronous_commit = off"))
        if delivered:
            conn.execute(sa.delete(table).where(table.c.event_outbox_id.in_(delivered)))
        for row, done, errors in failed:
            attempts = row.attempts + 1
            values = {
                "attempts": attempts,
                "delivered_to": done,
                "last_error": "\n".join(errors)[:4000],
                "next_attempt_at": now + _backoff(attempts),
                "locked_until": None,
                "locked_by": None,
            }
            if row.expires_at is not None and as_utc(row.expires_at) <= now:
                values["failed_at"] = now
                log.warning(
                    "event %s %s (sequence %s) given up after %d attempts since %s: %s; "
                    "`flask events retry %s` sends it again",
                    row.name,
                    row.uuid,
                    row.event_outbox_id,
                    attempts,
                    as_utc(row.created_at).isoformat(),
                    values["last_error"].splitlines()[0] if values["last_error"] else "",
                    row.event_outbox_id,
                )
            conn.execute(
                sa.update(table)
                .where(table.c.event_outbox_id == row.event_outbox_id, mine)
                .values(**values)
            )
        if released:
            conn.execute(
                sa.update(table)
                .where(table.c.event_outbox_id.in_(released), mine)
                .values(locked_until=None, locked_by=None)
            )


# What the subscribers of the batch being delivered share (delivery_batch_state).
_batch_state: contextvars.ContextVar[dict | None] = contextvars.ContextVar(
    "delivery_batch_state", default=None
)


def delivery_batch_state(name: str) -> dict:
    """A dict shared by the deliveries of one batch (the events a process
    claims together: 100 at most, ``flask events run --batch``), forgotten
    when the batch ends: where a subscriber keeps what it would otherwise
    read again for every event (the webhook plugin's enabled endpoints).
    What it keeps may be as old as the batch, a second or so. Outside a
    batch, a new dict each call. Name it after your plugin."""
    state = _batch_state.get()
    if state is None:
        return {}
    return state.setdefault(name, {})


def deliver_batch(event_ids: list[int] | None = None, limit: int = 100) -> dict[int, bool]:
    """Claim, deliver and record up to ``limit`` due events (among
    ``event_ids`` when given) that no other process holds.

    :return: ``{event_id: True}`` for each delivered to every subscriber (and
        deleted), ``{event_id: False}`` for each kept for a retry (or given
        up); events not due, already gone or held elsewhere are absent.
    """
    if event_ids is not None and not event_ids:
        return {}
    owner = _worker_name()
    lease = current_app.config["EVENTS_LEASE"]
    deadline = time.monotonic() + max(lease - LEASE_MARGIN, lease / 2)
    db.session.rollback()  # nothing of the caller's stays open while subscribers run
    rows = _claim(limit, event_ids, owner, lease)
    outcome: dict[int, bool] = {}
    delivered: list[int] = []
    failed: list[tuple] = []
    released: list[int] = []
    state = _batch_state.set({})
    try:
        for row in rows:
            if time.monotonic() > deadline:
                released.append(row.event_outbox_id)  # the lease is running out: not ours to start
                continue
            done, errors = _deliver_row(row)
            outcome[row.event_outbox_id] = not errors
            if errors:
                failed.append((row, done, errors))
            else:
                delivered.append(row.event_outbox_id)
    finally:
        _batch_state.reset(state)
    _record(owner, delivered, failed, released)
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
    ``limit`` to a batch."""
    if ids is None:
        outcome = deliver_batch(None, limit)
        return DeliveryReport(
            delivered=sum(1 for ok in outcome.values() if ok),
            failed=sum(1 for ok in outcome.values() if not ok),
            ids=sorted(outcome),
        )
    report = DeliveryReport(ids=list(ids))
    for start in range(0, len(ids), limit):
        outcome = deliver_batch(ids[start : start + limit], limit)
        report.delivered += sum(1 for ok in outcome.values() if ok)
        report.failed += sum(1 for ok in outcome.values() if not ok)
    report.skipped = len(ids) - report.delivered - report.failed
    return report


# --- what an operator sees and does -------------------------------------------------


def event_state(row, now: datetime | None = None) -> str:
    """``failed`` (given up), ``leased`` (a process is delivering it) or
    ``pending`` (due now, or waiting for its next attempt)."""
    now = now or utcnow()
    if row.failed_at is not None:
        return "failed"
    if row.locked_until is not None and as_utc(row.locked_until) > now:
        return "leased"
    return "pending"


def outbox_events(name: str | None = None, limit: int = 100) -> list[dict]:
    """The events in the outbox (pending, leased and failed), oldest first,
    each with its ``state``; ``name`` keeps those of one event type."""
    table = _table()
    statement = sa.select(table).order_by(table.c.event_outbox_id).limit(limit)
    if name:
        statement = statement.where(table.c.name == name)
    rows = db.session.execute(statement).all()
    db.session.rollback()
    now = utcnow()
    return [row._asdict() | {"state": event_state(row, now)} for row in rows]


def _failed_before(older_than_days: float | None):
    table = _table()
    condition = table.c.failed_at.is_not(None)
    if older_than_days is not None:
        condition = sa.and_(
            condition, table.c.failed_at < utcnow() - timedelta(days=older_than_days)
        )
    return condition


def count_failed(older_than_days: float | None = None) -> int:
    """How many events were given up (more than ``older_than_days`` ago)."""
    table = _table()
    found = db.session.scalar(
        sa.select(sa.func.count()).select_from(table).where(_failed_before(older_than_days))
    )
    db.session.rollback()
    return found


def purge_failed(older_than_days: float | None = None) -> int:
    """Delete the events given up (more than ``older_than_days`` ago): they
    are never delivered again, so nothing that would still happen is lost.
    Returns how many."""
    with write_connection() as conn:
        return conn.execute(sa.delete(_table()).where(_failed_before(older_than_days))).rowcount


def failed_events(limit: int = 100) -> list[dict]:
    """The events given up, oldest first, as an operator reads them."""
    table = _table()
    rows = db.session.execute(
        sa.select(table)
        .where(table.c.failed_at.is_not(None))
        .order_by(table.c.event_outbox_id)
        .limit(limit)
    ).all()
    db.session.rollback()
    return [row._asdict() for row in rows]


def retry_failed(ids: list[int] | None = None) -> int:
    """Send events that were given up (``ids``, or all) again from now on: a
    fresh ``EVENTS_MAX_AGE`` and no backoff. Returns how many."""
    table = _table()
    now = utcnow()
    statement = (
        sa.update(table)
        .where(table.c.failed_at.is_not(None))
        .values(
            failed_at=None,
            attempts=0,
            next_attempt_at=now,
            locked_until=None,
            locked_by=None,
            expires_at=now + timedelta(seconds=current_app.config["EVENTS_MAX_AGE"]),
        )
    )
    if ids is not None:
        statement = statement.where(table.c.event_outbox_id.in_(ids))
    with write_connection() as conn:
        return conn.execute(statement).rowcount


# --- the event worker ------------------------------------------------------------


class Worker:
    """The loop of ``flask events run``: deliver due events, poll, and carry on
    through database outages; stop cleanly on SIGTERM or SIGINT."""

    MAX_OUTAGE_WAIT = 30.0

    def __init__(self, interval: float = 1.0, batch: int = 100, exit_with: int | None = None):
        self.interval = interval
        self.batch = batch
        # The process that started this one (gunicorn's master): when it is
        # gone, so is whoever would have stopped this loop.
        self.exit_with = exit_with
        self.stopping = threading.Event()

    def stop(self, *_signal) -> None:
        """Finish the batch in hand, then leave the loop."""
        self.stopping.set()

    def run(self, once: bool = False, echo=print) -> None:
        previous = self._trap_signals()
        outage_started = None
        wait = self.interval or 1.0
        try:
            while not self.stopping.is_set():
                if self.exit_with is not None and os.getppid() != self.exit_with:
                    log.warning("event worker: process %s is gone; stopping", self.exit_with)
                    return
                try:
                    report = deliver(limit=self.batch)
                except sa.exc.SQLAlchemyError as error:
                    if once or not is_disconnect(error):
                        raise
                    if outage_started is None:
                        outage_started = time.monotonic()
                        log.warning(
                            "event worker: the database is unreachable (%s); retrying",
                            " ".join(str(getattr(error, "orig", error)).split())[:300],
                        )
                    db.session.remove()
                    db.engine.dispose()
                    self.stopping.wait(wait)
                    wait = min(wait * 2, self.MAX_OUTAGE_WAIT)
                    continue
                if outage_started is not None:
                    log.warning(
                        "event worker: the database is back after %.0f s",
                        time.monotonic() - outage_started,
                    )
                    outage_started, wait = None, self.interval or 1.0
                if report.delivered or report.failed:
                    echo(f"delivered {report.delivered}, failed {report.failed}")
                if once:
                    return
                if len(report.ids) < self.batch:
                    self.stopping.wait(self.interval)
        finally:
            self._restore_signals(previous)
            db.session.remove()

    def _trap_signals(self) -> dict:
        if threading.current_thread() is not threading.main_thread():
            return {}
        return {sig: signal.signal(sig, self.stop) for sig in (signal.SIGTERM, signal.SIGINT)}

    @staticmethod
    def _restore_signals(previous: dict) -> None:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


# --- in-process delivery ----------------------------------------------------------


# Set by left_for_worker(): this process commits events but does not deliver them.
_left_for_worker: contextvars.ContextVar[bool] = contextvars.ContextVar(
    "left_for_worker", default=False
)


@contextmanager
def left_for_worker() -> Iterator[None]:
    """Events committed in this block stay in the outbox for ``flask events
    run`` (or a web process's poll) instead of being delivered by this process.

    For command-line tasks: they exit as soon as their work is done, and a
    delivery thread dying with them would hold its events' lease for
    ``EVENTS_LEASE`` seconds.
    """
    token = _left_for_worker.set(True)
    try:
        yield
    finally:
        _left_for_worker.reset(token)


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
        if not ids or self.mode == "worker" or _left_for_worker.get():
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
                # in one batch: under load that divides the cost of delivery by
                # the number of events in the batch.
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
