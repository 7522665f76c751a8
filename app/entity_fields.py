"""Fields that plugins add to an entity (a customer, an address).

A plugin declares an :class:`EntityField` (through the entity plugin's
``register_<entity>_fields`` hook) once, and the field then exists everywhere
the entity does: it is validated in the create and update bodies it is
allowed in, stored (in EverShop's ``meta_data`` JSON column under the
plugin's name, or by the plugin itself), shown in every answer and event, a
GraphQL field, and a property of the OpenAPI schemas. :class:`EntityFields`
does all of that for one entity of one app.
"""

from __future__ import annotations

import contextvars
import copy
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any

import marshmallow as ma
import sqlalchemy as sa

from app import driver_reads
from app.config import ConfigError

# What the loads of one presentation share (see shared_load).
_shared_loads: contextvars.ContextVar[dict | None] = contextvars.ContextVar(
    "shared_loads", default=None
)
# The rows read with the entities of the presentation under way (rows_read_with).
_read_with_now: contextvars.ContextVar[dict | None] = contextvars.ContextVar(
    "read_with_now", default=None
)
# Where a session keeps the rows read with an entity until its next presentation.
_READ_WITH = "entity_rows_read_with"


@dataclass(frozen=True)
class _OneQuery:
    """How :meth:`EntityFields.read_one` reads one entity with its fields'
    ``read_with`` rows: the ORM's query, the same as columns, and the classes
    those columns fill one after the other."""

    query: sa.Select
    columns: sa.Select
    models: tuple[type, ...]


def shared_load(key: Any, load: Callable[[], Any]) -> Any:
    """``load()``, called once for all the fields shown in one presentation.

    Two fields a plugin keeps in the same rows (the verification plugin's
    ``email_verified`` and ``pending_email``) each have a ``load``; with the
    rows read through ``shared_load(("my-plugin", tuple(ids)), read_rows)``
    the second field costs no query. ``key`` names what is read, ids
    included. Outside a presentation ``load()`` is simply called.
    """
    memo = _shared_loads.get()
    if memo is None:
        return load()
    if key not in memo:
        memo[key] = load()
    return memo[key]


def rows_read_with(model: type, ids: list[int]) -> dict[int, Any]:
    """For a field's ``load``: the rows of ``model`` (the field's
    ``read_with``) that came in the same statement as the entities ``ids``,
    by entity id (``None`` for an entity that has no row). An id missing from
    the answer was not read that way (a page of a list, a second
    presentation): read its row yourself. ``{}`` outside a presentation."""
    now = _read_with_now.get()
    came = now.get(model) if now else None
    if not came:
        return {}
    return {i: came[i] for i in ids if i in came}


# Who may send a field: an admin (create and update), the customer itself
# (its own account), a visitor signing up.
INPUTS = ("admin", "self", "signup")


@dataclass(frozen=True)
class EntityField:
    """A field a plugin adds to an entity.

    :param name: its name in JSON (``loyalty_tier``); it must not be one of the
        entity's own fields or another plugin's.
    :param field: a marshmallow field: it validates input and documents the
        property in OpenAPI (``fields.Integer(validate=Range(min=0))``).
    :param input: who may send it: any of ``"admin"``, ``"self"`` (the
        customer through ``/api/customers/me``), ``"signup"``; empty: read only.
    :param load: for a field the plugin stores itself: ``load(entities) ->
        {id: value}`` for a whole page of entities at once (the API's dicts;
        ids are ``customer_id`` / ``customer_address_id``). Without ``load``,
        the value lives in the entity's ``meta_data`` under the plugin's name.
    :param save: with ``load``: ``save(entity, value, context)``, called in the
        write's transaction after the entity's row is written, when a client
        sent the field.
    :param read_with: with ``load``: a mapped class (``db.Model``) holding at most one row per
        entity, keyed by a column named like the entity's id (``customer_id``).
        When the core reads one entity by its key (a ``GET``, the row an update
        locks), it reads that row in the same statement (an outer join) and
        hands it to ``load`` through :func:`rows_read_with`: one round trip
        less. Fields that share a class share the join.
    :param graphql: its GraphQL type (``"Int"``, ``"String"``, ``"[String]"``);
        None keeps it out of GraphQL.
    :param graphql_name: its GraphQL name (default: ``name`` in camelCase).
    :param default: its value when nothing is stored.
    :param description: one sentence for the OpenAPI document.
    """

    name: str
    field: ma.fields.Field
    input: tuple[str, ...] = ("admin",)
    load: Callable[[list[dict]], dict] | None = None
    save: Callable[[dict, Any, Any], None] | None = None
    read_with: type | None = None
    graphql: str | None = None
    graphql_name: str | None = None
    default: Any = None
    description: str = ""
    plugin: str = ""  # set by the core: who declared it

    @property
    def stored_in_meta(self) -> bool:
        return self.load is None

    @property
    def camel_name(self) -> str:
        if self.graphql_name:
            return self.graphql_name
        head, *rest = self.name.split("_")
        return head + "".join(part.title() for part in rest)


class EntityFields:
    """The plugin fields of one entity in one app.

    :param entity: ``"customer"`` or ``"address"``.
    :param declared: each plugin's fields, by plugin name.
    :param core_names: the entity's own field names (a plugin may not reuse one).
    :param id_key: the key of the entity's id in its dicts.
    """

    def __init__(
        self,
        entity: str,
        declared: dict[str, list[EntityField]],
        core_names: set[str],
        id_key: str,
    ):
        self.entity = entity
        self.id_key = id_key
        self.fields: list[EntityField] = []
        taken = {name: "the service" for name in core_names}
        for plugin, fields in declared.items():
            for field in fields:
                if field.name in taken:
                    raise ConfigError(
                        f"plugin {plugin}: the {entity} field {field.name!r} is already"
                        f" {taken[field.name]}'s"
                    )
                unknown = set(field.input) - set(INPUTS)
                if unknown:
                    raise ConfigError(
                        f"plugin {plugin}: the {entity} field {field.name!r} has input"
                        f" {sorted(unknown)}; use some of {INPUTS}"
                    )
                for needs_load in ("save", "read_with"):
                    if getattr(field, needs_load) is not None and field.load is None:
                        raise ConfigError(
                            f"plugin {plugin}: the {entity} field {field.name!r} has"
                            f" {needs_load} but no load"
                        )
                if field.read_with is not None:
                    mapper = sa.inspect(field.read_with, raiseerr=False)
                    if not isinstance(mapper, sa.orm.Mapper) or id_key not in mapper.columns:
                        raise ConfigError(
                            f"plugin {plugin}: the {entity} field {field.name!r} reads with"
                            f" {field.read_with!r}: give a mapped class with a column {id_key}"
                        )
                taken[field.name] = f"plugin {plugin}"
                self.fields.append(replace(field, plugin=plugin))
        self._schemas: dict = {}
        # The classes whose rows come with one entity's read, each once.
        self.read_with = tuple(dict.fromkeys(f.read_with for f in self.fields if f.read_with))
        self._one_queries: dict = {}

    def __bool__(self) -> bool:
        return bool(self.fields)

    # --- input -------------------------------------------------------------------

    def schema(self, base: type[ma.Schema], who: str) -> type[ma.Schema]:
        """``base`` with the plugin fields ``who`` may send (a class, made once)."""
        key = (base, who)
        if key not in self._schemas:
            extra = {f.name: copy.deepcopy(f.field) for f in self.fields if who in f.input}
            self._schemas[key] = type(base.__name__, (base,), extra) if extra else base
        return self._schemas[key]

    def validator(self, base: type[ma.Schema], who: str) -> ma.Schema:
        """An instance of :meth:`schema`, made once: a schema keeps no state
        between loads, and making one per request costs a tenth of a
        millisecond."""
        key = ("instance", base, who)
        if key not in self._schemas:
            self._schemas[key] = self.schema(base, who)()
        return self._schemas[key]

    def split(self, data: dict) -> tuple[dict, dict]:
        """``(the entity's own values, the plugin fields' values)`` of a body."""
        names = {f.name for f in self.fields}
        own = {k: v for k, v in data.items() if k not in names}
        extra = {k: v for k, v in data.items() if k in names}
        return own, extra

    # --- storage -----------------------------------------------------------------

    def changed(self, shown: dict, extra: dict) -> list[str]:
        """The plugin fields whose sent value differs from ``shown``'s."""
        return [name for name, value in extra.items() if shown.get(name) != value]

    def store(self, shown: dict, meta_data: dict | None, extra: dict, context) -> dict:
        """Write ``extra`` (plugin field values a client sent) for the entity
        ``shown``: the plugins' own ``save`` calls, in the caller's transaction;
        the other values into a copy of ``meta_data``, which is returned."""
        meta = copy.deepcopy(meta_data or {})
        for field in self.fields:
            if field.name not in extra:
                continue
            value = extra[field.name]
            if field.stored_in_meta:
                meta.setdefault(field.plugin, {})[field.name] = value
            else:
                field.save(dict(shown), value, context)
        return meta

    # --- reading -----------------------------------------------------------------

    def read_one(self, session, statement: sa.Select, params: dict, lock: bool = False):
        """The entity row of ``statement`` (a select of one entity class by a
        key, built once) with ``params``, or None; locked ``FOR UPDATE`` with
        ``lock``. The rows of the fields' ``read_with`` classes come in the same
        statement and are kept for the entity's next presentation. The
        columns go on the driver's cursor and the objects are made from them
        (app/driver_reads.py); a row the session holds is its object, read
        again by the ORM when its values have expired."""
        one = self._one_query(statement, lock)
        found = driver_reads.first(session, one.columns, params)
        if found is None:
            return None
        instances = driver_reads.loaded(session, one.models, found)
        if instances is None:
            instances = session.execute(one.query, params).first()
            if instances is None:  # gone meanwhile (not under this lock)
                return None
        row, *others = instances
        if self.read_with:
            kept = session.info.setdefault(_READ_WITH, {})
            kept[(self.entity, getattr(row, self.id_key))] = dict(
                zip(self.read_with, others, strict=True)
            )
        return row

    def inserted(self, session, row) -> None:
        """``row``, an entity this write has just inserted (and flushed), has
        no rows yet in the fields' ``read_with`` classes: its next
        presentation reads none of them. A field's ``save`` that writes one
        afterwards is read after the next flush, which forgets this."""
        if self.read_with:
            kept = session.info.setdefault(_READ_WITH, {})
            kept[(self.entity, getattr(row, self.id_key))] = dict.fromkeys(self.read_with)

    def _one_query(self, statement: sa.Select, lock: bool) -> _OneQuery:
        key = (statement, lock)
        if key not in self._one_queries:
            entity = statement.column_descriptions[0]["entity"]
            query = statement
            for model in self.read_with:
                joined_id = sa.inspect(model).columns[self.id_key]
                query = query.add_columns(model).outerjoin(
                    model, joined_id == sa.inspect(entity).columns[self.id_key]
                )
            if lock:
                # Only the entity's row: the joined side of an outer join cannot be.
                query = query.with_for_update(of=entity)
            models = (entity, *self.read_with)
            self._one_queries[key] = _OneQuery(
                query, driver_reads.as_columns(query, models), models
            )
        return self._one_queries[key]

    # --- output ------------------------------------------------------------------

    def present(
        self, items: list[dict], metas: list[dict | None], only: set[str] | None = None
    ) -> None:
        """Set every plugin field on each of ``items`` (the API's dicts, in
        place), from ``metas`` (each item's ``meta_data``) or the plugins'
        ``load``, one call per field for all the items (and one read for what
        those calls share, :func:`shared_load`). With ``only`` (field names),
        a field with a ``load`` outside it is not loaded and not set."""
        token = _shared_loads.set({})
        read_with = _read_with_now.set(self._take_read_with(items))
        try:
            self._present(items, metas, only)
        finally:
            _read_with_now.reset(read_with)
            _shared_loads.reset(token)

    def _take_read_with(self, items: list[dict]) -> dict | None:
        """The rows read with these entities, by class and entity id; what was
        read for one presentation is not shown by another."""
        if not self.read_with:
            return None
        from app.db import db

        kept = db.session.info.get(_READ_WITH)
        if not kept:
            return None
        taken: dict = {}
        for item in items:
            rows = kept.pop((self.entity, item[self.id_key]), None)
            for model, row in (rows or {}).items():
                taken.setdefault(model, {})[item[self.id_key]] = row
        return taken

    def graphql_selected(self, requested: frozenset[str]) -> set[str]:
        """The names of the fields whose GraphQL name is in ``requested``."""
        return {f.name for f in self.fields if f.graphql and f.camel_name in requested}

    def _present(self, items: list[dict], metas: list[dict | None], only: set[str] | None) -> None:
        for field in self.fields:
            if only is not None and not field.stored_in_meta and field.name not in only:
                continue
            if field.stored_in_meta:
                for item, meta in zip(items, metas, strict=True):
                    item[field.name] = ((meta or {}).get(field.plugin) or {}).get(
                        field.name, field.default
                    )
                continue
            found = field.load([dict(item) for item in items]) if items else {}
            for item in items:
                item[field.name] = found.get(item[self.id_key], field.default)

    def plugin_namespaces(self) -> set[str]:
        """The ``meta_data`` keys that plugin fields own."""
        return {f.plugin for f in self.fields if f.stored_in_meta}

    # --- documents -------------------------------------------------------------

    def graphql_sdl(self, type_name: str) -> str:
        """``extend type <type_name> {...}`` with the fields that have a GraphQL type."""
        lines = [f"  {f.camel_name}: {f.graphql}" for f in self.fields if f.graphql]
        if not lines:
            return ""
        return f"extend type {type_name} {{\n" + "\n".join(lines) + "\n}\n"

    def graphql_resolvers(self, object_type) -> None:
        """Each GraphQL field reads the value the presenter set (the API's dict)."""
        for field in self.fields:
            if field.graphql:
                object_type.set_field(
                    field.camel_name, lambda obj, info, _name=field.name: obj.get(_name)
                )

    def document(self, spec, components: dict[str, str]) -> None:
        """Add the plugin fields to OpenAPI schema components: ``components``
        maps a component name to who it is for (``"output"`` or an input)."""
        converter = _converter(spec)
        schemas = spec.to_dict().get("components", {}).get("schemas", {})
        for component, who in components.items():
            if component not in schemas:
                continue
            target = spec.components.schemas[component]
            for field in self.fields:
                if who != "output" and who not in field.input:
                    continue
                prop = converter.field2property(copy.deepcopy(field.field))
                if field.description:
                    prop.setdefault("description", field.description)
                prop["x-plugin"] = field.plugin
                if who == "output":
                    prop.pop("writeOnly", None)
                target.setdefault("properties", {})[field.name] = prop


@sa.event.listens_for(sa.orm.Session, "after_flush")
@sa.event.listens_for(sa.orm.Session, "after_transaction_end")
def _forget_rows_read_with(session, *_args):
    # Written or ended since they were read: a presentation reads afresh.
    session.info.pop(_READ_WITH, None)


def _converter(spec):
    for plugin in spec.plugins:
        converter = getattr(plugin, "converter", None)
        if converter is not None:
            return converter
    raise RuntimeError("the OpenAPI document has no marshmallow plugin")
