"""Adopting a database that EverShop made (docs/evershop.md, "Adopting an
EverShop database").

* :func:`schema_kind` tells an empty database, one this service migrates, and
  one with EverShop's customer tables but no migrations of ours (``flask db
  upgrade`` then stamps revision 0001, EverShop's own schema, and upgrades).
* :func:`check` is the pre-flight check (``flask evershop check``, also run by
  ``flask db upgrade`` before it adopts): what would block the migration —
  rows that break a unique index revision 0002 adds — and what will behave
  differently for EverShop's customers. It reads only.
* :func:`fix` (``--fix``) resolves what can be resolved without choosing
  between customers' data: of several default addresses it keeps the newest.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import sqlalchemy as sa
from flask import current_app

ADOPTED_REVISION = "0001"  # EverShop's customer tables, as EverShop makes them
PREFLIGHT_UNTIL = "0002"  # the first revision whose indexes existing rows can break

EMPTY, MANAGED, EVERSHOP = "empty", "managed", "evershop"

# EverShop 2.2's customer tables, and the columns revision 0001 makes in each.
EVERSHOP_TABLES = {
    "customer_group": ("customer_group_id", "uuid", "group_name", "created_at", "updated_at"),
    "customer": (
        "customer_id",
        "uuid",
        "status",
        "group_id",
        "email",
        "password",
        "full_name",
        "created_at",
        "updated_at",
        "meta_data",
    ),
    "customer_address": (
        "customer_address_id",
        "uuid",
        "customer_id",
        "full_name",
        "telephone",
        "address_1",
        "address_2",
        "postcode",
        "city",
        "province",
        "country",
        "created_at",
        "updated_at",
        "is_default",
    ),
    "reset_password_token": ("reset_password_token_id", "customer_id", "token", "created_at"),
    "admin_user": (
        "admin_user_id",
        "uuid",
        "status",
        "email",
        "password",
        "full_name",
        "created_at",
        "updated_at",
    ),
}

# EverShop's own rule for new passwords.
EVERSHOP_MIN_PASSWORD_LENGTH = 6
# Rows shown per finding; the count says how many there are.
SHOWN = 50


class AdoptionRefused(RuntimeError):
    """The database cannot be adopted as it is: the message lists why."""

    def __init__(self, findings: list[Finding] | None = None, reason: str | None = None):
        self.findings = findings or []
        lines = [reason] if reason else report(self.findings)
        super().__init__("\n".join(lines))


@dataclass
class Finding:
    """One thing the pre-flight check found."""

    code: str
    blocking: bool  # the migration would fail on it
    title: str  # what, with how many
    remedy: str  # what to do, and what --fix does
    items: list[str] = field(default_factory=list)  # the rows, one line each
    count: int = 0  # how many rows in all


# --- what the database is ---------------------------------------------------------------


def schema_kind(conn: sa.Connection) -> str:
    """``EMPTY`` (none of EverShop's customer tables), ``MANAGED`` (stamped by
    this service's migrations) or ``EVERSHOP`` (EverShop's tables, no stamp).

    Raises :class:`AdoptionRefused` for a database that has some of the
    tables, or tables without the columns revision 0001 makes: migrating it
    would fail half-way, and stamping it would be a lie.
    """
    inspector = sa.inspect(conn)
    tables = set(inspector.get_table_names())
    if "alembic_version" in tables and conn.scalar(sa.text("SELECT count(*) FROM alembic_version")):
        return MANAGED
    present = [name for name in EVERSHOP_TABLES if name in tables]
    if not present:
        return EMPTY
    missing = [name for name in EVERSHOP_TABLES if name not in tables]
    if missing:
        raise AdoptionRefused(
            reason=f"the database has some of EverShop's customer tables"
            f" ({', '.join(present)}) but not {', '.join(missing)}: it is not a database"
            " EverShop 2.2 made, and cannot be adopted"
        )
    lacking = []
    for name, columns in EVERSHOP_TABLES.items():
        found = {column["name"] for column in inspector.get_columns(name)}
        lacking += [f"{name}.{column}" for column in columns if column not in found]
    if lacking:
        raise AdoptionRefused(
            reason=f"EverShop's tables lack {', '.join(lacking)}: upgrade EverShop to 2.2"
            " (`evershop start` migrates its database) and run the upgrade again"
        )
    return EVERSHOP


# --- the pre-flight check -------------------------------------------------------------


def check(conn: sa.Connection) -> list[Finding]:
    """Every finding, blocking ones first; reads only. Call it on a database
    with EverShop's customer tables (:func:`schema_kind` is not ``EMPTY``)."""
    findings = [
        _case_duplicates(conn, "customer", "customer_id", "customer"),
        _case_duplicates(conn, "admin_user", "admin_user_id", "admin user"),
        _several_defaults(conn),
        _no_default(conn),
        _no_city(conn),
        _not_bcrypt(conn),
        _short_passwords(),
    ]
    found = [finding for finding in findings if finding is not None]
    return sorted(found, key=lambda finding: not finding.blocking)


def _finding(code, blocking, title, remedy, rows: list[str]) -> Finding | None:
    if not rows:
        return None
    n = len(rows)
    title = title.format(n=n, s="" if n == 1 else "s", es="" if n == 1 else "es")
    return Finding(code, blocking, title, remedy, rows[:SHOWN], n)


def _case_duplicates(conn, table: str, key: str, noun: str) -> Finding | None:
    # lower() here is the one the unique index of revision 0002 uses.
    rows = conn.execute(
        sa.text(
            f"SELECT lower(email) AS folded, {key} AS id, email FROM {table}"
            f" WHERE lower(email) IN (SELECT lower(email) FROM {table}"
            "  GROUP BY lower(email) HAVING count(*) > 1)"
            f" ORDER BY lower(email), {key}"
        )
    ).all()
    groups: dict[str, list[str]] = {}
    for folded, row_id, email in rows:
        groups.setdefault(folded, []).append(f"{noun} {row_id} <{email}>")
    return _finding(
        f"{table}-emails-differing-in-case",
        True,
        "{n} email{s} shared, in different letter cases, by several " + noun + "s"
        " (the service keeps emails unique whatever their case)",
        f"change the email of, or delete, all but one {noun} of each; --fix cannot choose"
        " which account to keep",
        [f"{folded}: {', '.join(members)}" for folded, members in groups.items()],
    )


def _several_defaults(conn) -> Finding | None:
    rows = conn.execute(
        sa.text(
            "SELECT a.customer_id, c.email, a.uuid, a.customer_address_id"
            " FROM customer_address a JOIN customer c ON c.customer_id = a.customer_id"
            " WHERE a.is_default AND a.customer_id IN (SELECT customer_id FROM customer_address"
            "  WHERE is_default GROUP BY customer_id HAVING count(*) > 1)"
            " ORDER BY a.customer_id, a.customer_address_id"
        )
    ).all()
    customers: dict[tuple, list[str]] = {}
    for customer_id, email, address_uuid, address_id in rows:
        customers.setdefault((customer_id, email), []).append(f"{address_uuid} (id {address_id})")
    return _finding(
        "several-default-addresses",
        True,
        "{n} customer{s} with several default addresses (the service keeps at most one)",
        "--fix keeps each customer's newest default address (the one created last) and"
        " clears the default of the others",
        [
            f"customer {customer_id} <{email}>: {', '.join(addresses)}"
            for (customer_id, email), addresses in customers.items()
        ],
    )


def _no_default(conn) -> Finding | None:
    rows = conn.execute(
        sa.text(
            "SELECT a.customer_id, c.email, count(*)"
            " FROM customer_address a JOIN customer c ON c.customer_id = a.customer_id"
            " GROUP BY a.customer_id, c.email"
            " HAVING sum(CASE WHEN a.is_default THEN 1 ELSE 0 END) = 0"
            " ORDER BY a.customer_id"
        )
    ).all()
    return _finding(
        "no-default-address",
        False,
        "{n} customer{s} with addresses but no default one",
        "nothing to do: the service allows it and does not pick one for them (an address"
        " becomes the default when one is made so); --fix leaves them",
        [
            f"customer {cid} <{email}>: {n} address{'es' if n != 1 else ''}"
            for cid, email, n in rows
        ],
    )


def _no_city(conn) -> Finding | None:
    rows = conn.execute(
        sa.text(
            "SELECT a.uuid, a.customer_id FROM customer_address a"
            " WHERE a.city IS NULL OR trim(a.city) = '' ORDER BY a.customer_address_id"
        )
    ).all()
    return _finding(
        "addresses-without-city",
        False,
        "{n} address{es} without a city (EverShop does not ask for one; the service does)",
        "nothing to do: they are read and listed as they are, with city null; a change"
        " that sends a city must give one, and new addresses need one; --fix leaves them",
        [f"address {address_uuid} of customer {customer_id}" for address_uuid, customer_id in rows],
    )


def _not_bcrypt(conn) -> Finding | None:
    rows = []
    for table, key, noun in (
        ("customer", "customer_id", "customer"),
        ("admin_user", "admin_user_id", "admin user"),
    ):
        rows += [
            f"{noun} {row_id} <{email}>"
            for row_id, email in conn.execute(
                sa.text(
                    f"SELECT {key}, email FROM {table}"
                    " WHERE password NOT LIKE '$2a$%' AND password NOT LIKE '$2b$%'"
                    f" AND password NOT LIKE '$2y$%' ORDER BY {key}"
                )
            )
        ]
    return _finding(
        "passwords-not-bcrypt",
        False,
        "{n} account{s} whose password is not a bcrypt hash: they cannot log in here",
        "they log in again after a password reset; --fix leaves them",
        rows,
    )


def _short_passwords() -> Finding | None:
    minimum = current_app.config["PASSWORD_MIN_LENGTH"]
    if minimum <= EVERSHOP_MIN_PASSWORD_LENGTH:
        return None
    return Finding(
        "passwords-shorter-than-the-minimum",
        False,
        f"EverShop accepts passwords of {EVERSHOP_MIN_PASSWORD_LENGTH} characters or more;"
        f" the service asks for {minimum} (PASSWORD_MIN_LENGTH)",
        f"nothing to do: shorter passwords set in EverShop still log in here; a new password"
        f" set through the service must have {minimum}. A hash does not tell a password's"
        " length, so the accounts cannot be listed",
    )


def report(findings: list[Finding]) -> list[str]:
    """The findings as lines of text, blocking ones first, then a verdict."""
    lines = []
    for finding in findings:
        lines.append(f"{'BLOCKS' if finding.blocking else 'note'}: {finding.title}")
        lines += [f"  {item}" for item in finding.items]
        if finding.count > len(finding.items):
            lines.append(f"  … and {finding.count - len(finding.items)} more")
        lines.append(f"  → {finding.remedy}")
    blocking = sum(finding.blocking for finding in findings)
    if blocking:
        lines.append(
            f"{blocking} finding{'s' if blocking != 1 else ''} block the migration; nothing"
            " was changed (`flask evershop check --fix` resolves what it can)"
        )
    else:
        lines.append("nothing blocks the migration")
    return lines


# --- --fix ------------------------------------------------------------------------------------


def fix(conn: sa.Connection) -> list[str]:
    """Resolve what is safe to resolve, in the caller's transaction; return
    one line per change. Of a customer's several default addresses the newest
    (highest id: created last) stays the default and the others are cleared.
    Case-duplicate emails are left: which account to keep is not ours to say."""
    rows = conn.execute(
        sa.text(
            "SELECT a.customer_id, c.email, a.customer_address_id, a.uuid"
            " FROM customer_address a JOIN customer c ON c.customer_id = a.customer_id"
            " WHERE a.is_default AND a.customer_id IN (SELECT customer_id FROM customer_address"
            "  WHERE is_default GROUP BY customer_id HAVING count(*) > 1)"
            " ORDER BY a.customer_id, a.customer_address_id DESC"
        )
    ).all()
    customers: dict[tuple, list[tuple]] = {}
    for customer_id, email, address_id, address_uuid in rows:
        customers.setdefault((customer_id, email), []).append((address_id, address_uuid))
    changes = []
    for (customer_id, email), addresses in customers.items():
        (_, kept), cleared = addresses[0], addresses[1:]
        conn.execute(
            sa.text(
                "UPDATE customer_address SET is_default = false, updated_at = CURRENT_TIMESTAMP"
                " WHERE customer_address_id IN :ids"
            ).bindparams(sa.bindparam("ids", expanding=True)),
            {"ids": [address_id for address_id, _ in cleared]},
        )
        changes.append(
            f"customer {customer_id} <{email}>: kept address {kept} as the default, cleared"
            f" the default of {', '.join(str(address_uuid) for _, address_uuid in cleared)}"
        )
    return changes
