"""The unit of work: one transaction per write, its events, and what runs
after it commits.

Services write inside :func:`transaction`. A block opened inside another
(a plugin's service called by another's, in the same write) takes part in the
outer one: everything commits or rolls back together. Events emitted in it
(:func:`app.events.emit`) are written in the same transaction and handed to
the event dispatcher once the outermost block committed; so are the callbacks
given to :func:`after_commit` (after-hooks), in order.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager

import sqlalchemy as sa

from app import deferred_inserts, events
from app.db import db, end_autocommit, is_unique_violation, writing
from app.errors import AppError

_DEPTH = "unit_of_work_depth"
_AFTER = "after_commit"
_STATE = "unit_of_work_state"


def _replace_unique_violation(error: BaseException, unique: dict[str, AppError] | None) -> None:
    if isinstance(error, sa.exc.IntegrityError):
        for needle, replacement in (unique or {}).items():
            if is_unique_violation(error, needle):
                raise replacement from None


@contextmanager
def transaction(unique: dict[str, AppError] | None = None) -> Iterator[sa.orm.Session]:
    """Run the block in one transaction: commit at the end, roll back on any
    error; inside another block, take part in that one.

    :param unique: errors to raise instead of a unique violation, by the
        column or index name it mentions (e.g. ``{"email": Conflict(...)}``),
        so that a race the block's own checks could not see still reaches the
        client as a clean answer.
    """
    session = db.session()
    depth = session.info.get(_DEPTH, 0)
    if depth:
        session.info[_DEPTH] = depth + 1
        try:
            yield session
            session.flush()
        except BaseException as error:
            _replace_unique_violation(error, unique)
            raise
        finally:
            session.info[_DEPTH] = depth
        return

    if session.in_transaction() and session.get_bind().dialect.name == "sqlite":
        # A read begun earlier took no write lock; start again with one.
        session.rollback()
    with writing():
        # Begins now, as a write transaction; a read request's connection
        # stops autocommitting (app.db, "read requests without a transaction").
        end_autocommit(session.connection())
    session.info[_DEPTH] = 1
    # Isolated hooks called in the block run in savepoints (app.plugins).
    session.info["writing"] = True
    try:
        yield session
        session.flush()
        callbacks = session.info.pop(_AFTER, [])
        session.info.pop(_STATE, None)
        emitted = _commit(session.connection())
        session.commit()
    except BaseException as error:
        session.rollback()
        session.info.pop(_AFTER, None)
        session.info.pop(_STATE, None)
        _replace_unique_violation(error, unique)
        raise
    finally:
        session.info[_DEPTH] = 0
        session.info.pop("writing", None)
    events.dispatcher().committed(emitted)
    for callback in callbacks:
        callback()


def _commit(connection: sa.Connection) -> list[int]:
    """Send the rows held for the commit with the COMMIT (app.deferred_inserts);
    return the ids of the events the transaction emitted."""
    deferred_inserts.commit(connection)
    return deferred_inserts.take_returned(connection)


def after_commit(callback: Callable[[], object]) -> None:
    """Call ``callback`` once the current write committed (not at all if it
    rolls back). Must be called inside :func:`transaction`."""
    session = db.session()
    if not session.info.get(_DEPTH):
        raise RuntimeError("after_commit() outside a transaction() block")
    session.info.setdefault(_AFTER, []).append(callback)


def in_transaction() -> bool:
    """Whether a :func:`transaction` block is open: inside one,
    :func:`after_commit` and :func:`unit_of_work_state` may be called."""
    return bool(db.session().info.get(_DEPTH))


def unit_of_work_state(name: str) -> dict:
    """A dict of the current write, forgotten when it commits or rolls back:
    where a plugin keeps what one step of a write saw for a later step of the
    same write (a before-hook for an ``event_emitted`` hook). Name it after
    your plugin. Must be called inside :func:`transaction`."""
    session = db.session()
    if not session.info.get(_DEPTH):
        raise RuntimeError("unit_of_work_state() outside a transaction() block")
    return session.info.setdefault(_STATE, {}).setdefault(name, {})
