"""The total of a paged list, without counting a million rows for it.

A list answer carries ``total`` (EverShop's field), ``totalExact`` and
``hasMore`` (docs/api.md, "Counting"). The page is read with one row more
than it shows, which says whether another page follows. The total is then
the cheapest of:

- what the page itself shows, when no page follows it: no query at all;
- for an unfiltered list on PostgreSQL whose table is larger than
  ``LIST_COUNT_LIMIT``, the planner's estimate of its rows (read from
  ``pg_class``, scaled to the table's current size as the planner does);
- a count that stops after ``LIST_COUNT_LIMIT`` + 1 rows: exact up to the
  limit, a lower bound past it.

``LIST_COUNT_LIMIT=0`` counts every row, as EverShop does.
"""

from __future__ import annotations

from dataclasses import dataclass

import sqlalchemy as sa
from flask import current_app

from app.db import db


@dataclass(frozen=True)
class PageTotal:
    total: int
    exact: bool  # False: an estimate, or a lower bound when the count stopped at the limit
    has_more: bool  # another page follows this one


def read_page(
    statement: sa.Select, matching: sa.Select, table: str, *, filtered: bool, page: int, limit: int
):
    """The rows of one page (``statement``, ordered; its limit is set here)
    and its :class:`PageTotal`. ``matching`` selects every matching row of
    ``table`` (unordered, unlimited); it is only run when the total needs it."""
    probe = list(db.session.scalars(statement.limit(limit + 1)))
    has_more = len(probe) > limit
    rows = probe[:limit]
    offset = (page - 1) * limit
    at_least = offset + len(rows) + (1 if has_more else 0)
    if not has_more and (rows or page == 1):
        return rows, PageTotal(offset + len(rows), True, False)
    return rows, _count(matching, table, filtered=filtered, at_least=at_least, has_more=has_more)


def _count(
    matching: sa.Select, table: str, *, filtered: bool, at_least: int, has_more: bool
) -> PageTotal:
    cap = current_app.config["LIST_COUNT_LIMIT"]
    if not cap:
        counted = db.session.scalar(sa.select(sa.func.count()).select_from(matching.subquery()))
        return PageTotal(counted, True, has_more)
    bounded = (
        sa.select(sa.func.count()).select_from(matching.limit(cap + 1).subquery()).scalar_subquery()
    )
    if filtered or db.session.get_bind().dialect.name != "postgresql":
        counted = db.session.scalar(sa.select(bounded))
    else:
        # One statement: the estimate, and the bounded count only when the
        # estimate is not past the limit (PostgreSQL runs a subquery of a
        # CASE branch only when that branch is taken).
        estimate = _estimated_rows(table)
        big = sa.func.coalesce(estimate, 0) > cap
        estimated, counted = db.session.execute(
            sa.select(
                sa.case((big, estimate), else_=sa.null()), sa.case((big, sa.null()), else_=bounded)
            )
        ).one()
        if estimated is not None:
            return PageTotal(max(int(estimated), at_least), False, has_more)
    if counted > cap:
        return PageTotal(max(cap, at_least), False, has_more)
    return PageTotal(counted, True, has_more)


def _estimated_rows(table: str) -> sa.ScalarSelect:
    """PostgreSQL's estimate of ``table``'s rows, as a subquery: rows per page
    at its last analysis times the pages it has now (what the planner does);
    NULL before the table was ever analysed."""
    pg_class = sa.table("pg_class", sa.column("oid"), sa.column("reltuples"), sa.column("relpages"))
    pages_now = sa.func.pg_relation_size(pg_class.c.oid) / sa.cast(
        sa.func.current_setting("block_size"), sa.Integer
    )
    per_page = pg_class.c.reltuples / sa.func.nullif(pg_class.c.relpages, 0)
    return (
        sa.select(
            sa.cast(
                sa.case((pg_class.c.reltuples < 0, sa.null()), else_=per_page * pages_now),
                sa.BigInteger,
            )
        )
        .where(pg_class.c.oid == sa.func.to_regclass(table))
        .scalar_subquery()
    )
