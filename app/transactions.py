"""The unit of work: one transaction per write, and its events.

Services write inside :func:`transaction`. Events emitted in the block
(:func:`app.events.emit`) are written in the same transaction and handed to
the event dispatcher once it committed; on any error everything is rolled
back, events included.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import sqlalchemy as sa

from app import events
from app.db import db, is_unique_violation, writing
from app.errors import AppError


@contextmanager
def transaction(unique: dict[str, AppError] | None = None) -> Iterator[sa.orm.Session]:
    """Run the block in one transaction: commit at the end, roll back on any error.

    :param unique: errors to raise instead of a unique violation, by the
        column or index name it mentions (e.g. ``{"email": Conflict(...)}``),
        so that a race the block's own checks could not see still reaches the
        client as a clean answer.
    """
    session = db.session()
    if session.in_transaction() and session.get_bind().dialect.name == "sqlite":
        # A read begun earlier took no write lock; start again with one.
        session.rollback()
    with writing():
        session.connection()  # begins now, as a write transaction
    # Isolated hooks called in the block run in savepoints (app.plugins).
    session.info["writing"] = True
    try:
        yield session
        session.flush()
        emitted = events.take_emitted(session)
        session.commit()
    except BaseException as error:
        session.rollback()
        session.info.pop("emitted_events", None)
        if isinstance(error, sa.exc.IntegrityError):
            for needle, replacement in (unique or {}).items():
                if is_unique_violation(error, needle):
                    raise replacement from None
        raise
    finally:
        session.info.pop("writing", None)
    events.dispatcher().committed(emitted)
