"""Customers in bulk: the export stream and the import's batches behind
``flask customers export`` and ``flask customers import`` (docs/operations.md,
"Exporting and importing customers").

The export reads customers through a server-side cursor, a chunk at a time,
and shows each as a full read does (the presenter, plus what
``customer_extend_read`` adds: the address plugin's ``addresses``), with its
group and ``meta_data``.

The import validates each record with the API's own schemas
(``CustomerCreateSchema`` and the plugins' fields; addresses through the
address plugin's ``address_import`` service), then upserts a batch by
case-insensitive email in one transaction with one statement per kind of
write, and writes the events the API writes (``customer_registered`` or
``account_created``, ``customer_updated``, ``customer_password_changed``,
``address_created``, ``address_updated``) in bulk. It runs no per-customer
lifecycle hook: plugins learn of imported customers through those events.
Passwords are never hashed here: a bcrypt hash in the file is kept as it is,
and a customer without one gets :data:`app.passwords.UNUSABLE_PASSWORD`.
"""

from __future__ import annotations

import copy
import re
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime

import marshmallow as ma
import sqlalchemy as sa
from flask import current_app

from app.db import db, insert_rows, parse_timestamp, utcnow
from app.errors import ValidationError
from app.events import emit_many
from app.passwords import UNUSABLE_PASSWORD
from app.plugins import HookContext, hooks
from app.transactions import transaction
from plugins.customer import events
from plugins.customer.bulk_formats import OWN_INPUT, Record
from plugins.customer.models import DEFAULT_GROUP_ID, Customer, CustomerGroup
from plugins.customer.presenter import fields, present_many
from plugins.customer.schemas import CustomerCreateSchema

TABLE = Customer.__table__
# EverShop's bcryptjs writes $2a$, this service $2b$, PHP $2y$.
BCRYPT_HASH = re.compile(r"\$2[aby]\$(0[4-9]|[12][0-9]|3[01])\$[./A-Za-z0-9]{53}")
NOT_A_HASH = "Not a bcrypt hash ($2a$, $2b$ or $2y$): only hashes are imported, never passwords."
UNKNOWN_GROUP = "No customer group has this id."
UUID_TAKEN = "Another customer (another email) has this uuid."


# --- export ----------------------------------------------------------------------------


def groups() -> dict[int, dict]:
    """Every customer group as the export shows it: ``{id, uuid, name}`` by id."""
    table = CustomerGroup.__table__
    return {
        row.customer_group_id: {
            "id": row.customer_group_id,
            "uuid": str(row.uuid),
            "name": row.group_name,
        }
        for row in db.session.execute(sa.select(table))
    }


def export_customers(
    since: datetime | None = None, with_password_hashes: bool = False, chunk: int = 1000
) -> Iterator[list[dict]]:
    """Every customer (updated at or after ``since``), oldest id first, in
    lists of ``chunk``: as a full read shows it (addresses without their
    ``links``), with ``group`` (``{id, uuid, name}`` or null), ``meta_data``
    and, only when asked, ``password_hash``. Reads through one server-side
    cursor, so memory stays the same whatever the number of customers."""
    known_groups = groups()
    statement = sa.select(TABLE).order_by(TABLE.c.customer_id).execution_options(yield_per=chunk)
    if since is not None:
        statement = statement.where(TABLE.c.updated_at >= since)
    try:
        for rows in db.session.execute(statement).partitions():
            shown = present_many(rows)
            hooks().customer_extend_read(customers=shown)
            for customer, row in zip(shown, rows, strict=True):
                for address in customer.get("addresses") or []:
                    address.pop("links", None)  # the API's paths, not data
                customer["group"] = known_groups.get(row.group_id)
                customer["meta_data"] = row.meta_data or {}
                if with_password_hashes:
                    customer["password_hash"] = row.password
            yield shown
    finally:
        db.session.rollback()


# --- import: checking one record ---------------------------------------------------------


@dataclass
class Checked:
    """A record that passed every rule, in the form the batch writes it."""

    line: int
    key: str  # the email, lower case: what the upsert matches
    values: dict  # email, full_name, status, group_id, plugin fields
    uuid: uuid.UUID | None = None
    created_at: datetime | None = None
    password_hash: str | None = None
    meta_data: dict | None = None  # replaces the stored meta_data
    meta_patch: dict | None = None  # merged into it, key by key
    addresses: list[dict] | None = None


@dataclass
class Rejected:
    line: int
    field: str
    message: str

    def __str__(self) -> str:
        return f"line {self.line}: {self.field}: {self.message}"


def _flat(messages) -> list[tuple[str, str]]:
    return [(e["field"], e["message"]) for e in ValidationError.from_messages(messages).errors]


def _timestamp(text) -> datetime:
    if not isinstance(text, str):
        raise ValueError
    try:
        return parse_timestamp(text.strip())
    except ValueError:
        value = datetime.fromisoformat(text.strip())
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


class Checker:
    """Validates records with the API's rules, as an admin's create would.

    :param address_import: the address plugin's ``address_import`` service,
        or None when that plugin is not loaded (``addresses`` are then ignored).
    """

    def __init__(self, address_import=None):
        self.schema = fields().schema(CustomerCreateSchema, "admin")(partial=("password",))
        self.inputs = tuple(name for name in self.schema.fields if name != "password")
        self.plugin_inputs = tuple(name for name in self.inputs if name not in OWN_INPUT)
        self.check_addresses = address_import.checker() if address_import else None
        found = groups()
        self.group_ids = set(found)
        self.group_by_uuid = {group["uuid"]: group_id for group_id, group in found.items()}

    def check(self, record: Record) -> Checked | list[Rejected]:
        data = record.data
        if record.problems and not data:  # not readable: nothing to check
            return [Rejected(record.line, name, text) for name, text in record.problems]
        problems = list(record.problems)
        values = {}
        try:
            values = self.schema.load({k: data[k] for k in self.inputs if k in data})
        except ma.ValidationError as error:
            problems += _flat(error.messages)
        checked = Checked(record.line, values.get("email", "").lower(), values)
        if data.get("group_uuid") in self.group_by_uuid:
            values["group_id"] = self.group_by_uuid[data["group_uuid"]]
        elif "group_id" in values and values["group_id"] not in self.group_ids:
            problems.append(("group_id", UNKNOWN_GROUP))
        if "uuid" in data:
            try:
                checked.uuid = uuid.UUID(str(data["uuid"]))
            except ValueError:
                problems.append(("uuid", "Not a valid UUID."))
        if "created_at" in data:
            try:
                checked.created_at = _timestamp(data["created_at"])
            except ValueError:
                problems.append(("created_at", "Not a timestamp (YYYY-MM-DD HH:MM:SS, UTC)."))
        if "password_hash" in data:
            given = data["password_hash"]
            if isinstance(given, str) and BCRYPT_HASH.fullmatch(given):
                checked.password_hash = given
            else:
                problems.append((data.get("password_column", "password_hash"), NOT_A_HASH))
        if "meta_data" in data:
            if isinstance(data["meta_data"], dict):
                checked.meta_data = data["meta_data"]
            else:
                problems.append(("meta_data", "Not a JSON object."))
        checked.meta_patch = data.get("meta_patch")
        if "addresses" in data and self.check_addresses is not None:
            checked.addresses, found = self.check_addresses(data["addresses"])
            problems += found
        if problems:
            return [Rejected(record.line, name or "line", text) for name, text in problems]
        return checked


# --- import: writing a batch -------------------------------------------------------------


@dataclass
class BatchResult:
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    invited: int = 0
    addresses_created: int = 0
    addresses_updated: int = 0
    rejected: list[Rejected] = field(default_factory=list)


def _merge(records: list[Checked]) -> list[Checked]:
    """One record per email, in order of first appearance: a later record of
    the same email is applied over the earlier one, as a second import would."""
    merged: dict[str, Checked] = {}
    for record in records:
        earlier = merged.get(record.key)
        if earlier is None:
            merged[record.key] = copy.copy(record)
            continue
        earlier.values = earlier.values | record.values
        for name in ("uuid", "created_at", "password_hash", "meta_data"):
            if getattr(record, name) is not None:
                setattr(earlier, name, getattr(record, name))
        if record.meta_patch:
            earlier.meta_patch = (earlier.meta_patch or {}) | record.meta_patch
        if record.addresses is not None:
            earlier.addresses = (earlier.addresses or []) + record.addresses
    return list(merged.values())


class Importer:
    """Writes batches of checked records (see the module's docstring).

    :param dry_run: look up what would happen, write nothing.
    :param password_reset: the password plugin's ``password_reset`` service
        when new customers without a password are to get a reset link
        (``--invite``), else None.
    """

    def __init__(self, dry_run: bool = False, address_import=None, password_reset=None):
        self.dry_run = dry_run
        self.address_import = address_import
        self.password_reset = password_reset
        declared = [f for f in fields().fields if "admin" in f.input]
        self.meta_fields = [f for f in declared if f.stored_in_meta]
        self.saved_fields = [f for f in declared if not f.stored_in_meta]

    def write(self, records: list[Checked]) -> BatchResult:
        """Upsert one batch; on a real run, in one transaction (all or nothing)."""
        records = _merge(records)
        if not records:
            return BatchResult()
        if self.dry_run:
            try:
                return self._plan(db.session.connection(), records, utcnow())[0]
            finally:
                db.session.rollback()
        with transaction() as session:
            conn = session.connection()
            if conn.dialect.name == "postgresql":
                # Every lookup of a batch is of keys with a b-tree index. The
                # tables grow faster than autovacuum analyzes them, and on
                # stale statistics the planner scans a table whole, or walks
                # the email's trigram index, slower at each batch.
                conn.execute(sa.text("SET LOCAL enable_seqscan = off"))
                conn.execute(sa.text("SET LOCAL enable_bitmapscan = off"))
            return self._write(conn, records, utcnow())

    # The plan: which records create, which update, which change nothing.
    def _plan(self, conn, records: list[Checked], now):
        result = BatchResult()
        existing = {
            row.email.lower(): row
            for row in conn.execute(
                sa.select(TABLE).where(sa.func.lower(TABLE.c.email).in_([r.key for r in records]))
            )
        }
        wanted = [r.uuid for r in records if r.uuid is not None and r.key not in existing]
        owners = {}
        if wanted:
            owners = dict(
                conn.execute(
                    sa.select(TABLE.c.uuid, sa.func.lower(TABLE.c.email)).where(
                        TABLE.c.uuid.in_(wanted)
                    )
                ).all()
            )
        inserts, updates = [], []
        for record in records:
            row = existing.get(record.key)
            if row is None:
                if record.uuid is not None and owners.get(record.uuid, record.key) != record.key:
                    result.rejected.append(Rejected(record.line, "uuid", UUID_TAKEN))
                    continue
                inserts.append((record, self._new_row(record, now)))
                continue
            change = self._changes(record, row)
            if change or record.addresses:
                updates.append((record, row, change))
            if not change:
                result.unchanged += 1
        result.created = len(inserts)
        result.updated = sum(1 for _, _, change in updates if change)
        return result, inserts, updates

    def _meta(self, record: Checked, stored: dict | None) -> dict:
        meta = copy.deepcopy(record.meta_data if record.meta_data is not None else stored or {})
        for name, value in (record.meta_patch or {}).items():
            meta[name] = value
        for declared in self.meta_fields:
            if declared.name in record.values:
                meta.setdefault(declared.plugin, {})[declared.name] = record.values[declared.name]
        return meta

    def _new_row(self, record: Checked, now) -> dict:
        return {
            "uuid": record.uuid or uuid.uuid4(),
            "status": record.values.get("status", 1),
            "group_id": record.values.get("group_id", DEFAULT_GROUP_ID),
            "email": record.values["email"],
            "password": record.password_hash or UNUSABLE_PASSWORD,
            "full_name": record.values["full_name"],
            "created_at": record.created_at or now,
            "updated_at": now,
            "meta_data": self._meta(record, None),
            "token_version": 0,
        }

    def _changes(self, record: Checked, row) -> dict:
        """The columns of an existing customer the record changes."""
        wanted = {name: record.values[name] for name in OWN_INPUT if name in record.values}
        wanted["meta_data"] = self._meta(record, row.meta_data)
        if record.password_hash is not None:
            wanted["password"] = record.password_hash
        return {name: value for name, value in wanted.items() if getattr(row, name) != value}

    def _write(self, conn, records: list[Checked], now) -> BatchResult:
        result, inserts, updates = self._plan(conn, records, now)
        created = self._insert(conn, inserts)
        changed = self._update(conn, [(row, change) for _, row, change in updates if change], now)
        self._save_plugin_fields(created, [record for record, _ in inserts])
        self._save_plugin_fields(changed, [record for record, _, c in updates if c])
        if self.address_import is not None:
            books = [
                (customer, record.addresses)
                for customer, (record, _) in zip(created, inserts, strict=True)
                if record.addresses
            ]
            unchanged = [(record, row) for record, row, change in updates if not change]
            books += [
                (shown, record.addresses)
                for shown, (record, _) in zip(
                    present_many([row for _, row in unchanged]), unchanged, strict=True
                )
            ]
            books += [
                (customer, record.addresses)
                for customer, (record, _, _) in zip(
                    changed, [u for u in updates if u[2]], strict=True
                )
                if record.addresses
            ]
            counts = self.address_import.write(conn, books, now)
            result.addresses_created, result.addresses_updated = (
                counts["created"],
                counts["updated"],
            )
        if self.password_reset is not None:
            context = HookContext()
            for customer, (record, _) in zip(created, inserts, strict=True):
                if record.password_hash is None and customer["status"] == 1:
                    self.password_reset.request_reset(customer["email"], context)
                    result.invited += 1
        return result

    def _insert(self, conn, inserts: list[tuple]) -> list[dict]:
        if not inserts:
            return []
        insert_rows(conn, TABLE, [values for _, values in inserts])
        order = {values["uuid"]: index for index, (_, values) in enumerate(inserts)}
        rows = conn.execute(sa.select(TABLE).where(TABLE.c.uuid.in_(list(order)))).all()
        created = present_many(sorted(rows, key=lambda row: order[row.uuid]))
        emit_many(events.CUSTOMER_REGISTERED, [c for c in created if c["status"] == 1], conn)
        emit_many(events.ACCOUNT_CREATED, [c for c in created if c["status"] != 1], conn)
        return created

    def _update(self, conn, changes: list[tuple], now) -> list[dict]:
        if not changes:
            return []
        columns = (*OWN_INPUT, "meta_data")
        plain, password = [], []
        for row, change in changes:
            params = {name: change.get(name, getattr(row, name)) for name in columns}
            params["_id"] = row.customer_id
            if "password" in change:
                password.append(params | {"password": change["password"]})
            else:
                plain.append(params)
        statement = (
            sa.update(TABLE)
            .where(TABLE.c.customer_id == sa.bindparam("_id"))
            .values({name: sa.bindparam(name) for name in columns} | {"updated_at": now})
        )
        if plain:
            conn.execute(statement, plain)
        if password:
            # A new hash is a password change: every token issued before is refused.
            conn.execute(
                statement.values(
                    password=sa.bindparam("password"),
                    password_changed_at=now,
                    token_version=TABLE.c.token_version + 1,
                ),
                password,
            )
        ids = [row.customer_id for row, _ in changes]
        order = {customer_id: index for index, customer_id in enumerate(ids)}
        rows = conn.execute(sa.select(TABLE).where(TABLE.c.customer_id.in_(ids))).all()
        changed = present_many(sorted(rows, key=lambda row: order[row.customer_id]))
        emit_many(events.CUSTOMER_UPDATED, changed, conn)
        moved = {params["_id"] for params in password}
        emit_many(
            events.CUSTOMER_PASSWORD_CHANGED,
            [c for c in changed if c["customer_id"] in moved],
            conn,
        )
        return changed

    def _save_plugin_fields(self, customers: list[dict], records: list[Checked]) -> None:
        """Fields that plugins store themselves (``save``): one call per
        customer, only when a plugin declares such a field."""
        if not self.saved_fields:
            return
        names = {f.name for f in self.saved_fields}
        context = HookContext()
        for customer, record in zip(customers, records, strict=True):
            extra = {k: v for k, v in record.values.items() if k in names}
            if extra:
                fields().store(customer, None, extra, context)


def services_for_import(invite: bool):
    """The other plugins' services an import uses: ``(address_import,
    password_reset)``; ``password_reset`` only with ``invite`` (LookupError
    when the password plugin is not loaded)."""
    offered = current_app.extensions["services"]
    address_import = offered.get("address_import")
    password_reset = None
    if invite:
        if "password_reset" not in offered:
            raise LookupError("--invite needs the password plugin, which is not loaded")
        password_reset = offered["password_reset"]
    return address_import, password_reset
