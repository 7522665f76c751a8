"""The GraphQL endpoints: the core owns them, plugins contribute the schema.

Two schemas are built once, when the app is made, from what every plugin's
``register_graphql(audience)`` returns: ``admin`` (served at
``/api/admin/graphql``, admin token required) and ``public`` (``/api/graphql``,
customer token optional). The core contributes only the shared types.

Resolvers get ``info.context``, a dict with ``principal`` (the caller, or
None) and the per-request batch caches used by :func:`batched`.

Each endpoint refuses queries beyond its limits (``app.graphql_limits``) and
keeps the small queries it has parsed and validated in a :class:`QueryCache`.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Hashable, Iterable
from copy import deepcopy
from dataclasses import dataclass, field
from datetime import datetime

import ariadne
from ariadne.validation import cost_directive
from flask import Blueprint, Flask, current_app, g, jsonify, request
from graphql import (
    DocumentNode,
    FieldNode,
    GraphQLError,
    GraphQLSchema,
    parse,
    specified_rules,
    validate,
)

from app.auth.guards import current_principal, require
from app.db import as_utc
from app.errors import AppError, BadRequest, ValidationError
from app.graphql_limits import Limits, query_limits_rule
from app.http import (
    MAX_JSON_DEPTH,
    JSONTooDeep,
    load,
    parse_json,
    read_json_body,
    refuse_unstorable_text,
)
from app.plugins import collect

log = logging.getLogger(__name__)

# ariadne logs every error of every query, the client's own included; ours
# are logged by _format_error when they are faults of the service.
_ariadne_log = logging.getLogger("app.graphql.ariadne")
_ariadne_log.propagate = False
_ariadne_log.addHandler(logging.NullHandler())

AUDIENCES = ("admin", "public")

# Types every schema shares, named as EverShop names them.
CORE_SDL = """
type Query

"A moment, as EverShop gives it: milliseconds since the epoch, and a date for people."
type Date {
  value: String
  text: String
}

enum FilterOperation {
  eq
  neq
  gt
  gteq
  lt
  lteq
  like
  nlike
  in
  nin
}

input FilterInput {
  key: String!
  operation: FilterOperation!
  value: ID
}

type FilterOutput {
  key: String!
  operation: FilterOperation!
  value: String
}

"Any JSON value."
scalar JSON

enum MetafieldType {
  SHORT_TEXT
  LONG_TEXT
  RICH_TEXT
  INTEGER
  NUMBER
  BOOLEAN
  DATE
  COLOR
  URL
  GROUP
}

"A value of an entity's metafields, with its definition's namespace, key and type."
type Metafield {
  namespace: String!
  key: String!
  type: MetafieldType!
  value: JSON
}
"""


@dataclass
class GraphQLContribution:
    """What a plugin adds to a schema: SDL and the ariadne bindables for it."""

    sdl: str
    bindables: list = field(default_factory=list)


def date_value(moment: datetime | None) -> dict | None:
    """A ``Date``: ``value`` in milliseconds since the epoch (a string), ``text``
    like ``Nov 27, 2026``."""
    moment = as_utc(moment)
    if moment is None:
        return None
    return {
        "value": str(int(moment.timestamp() * 1000)),
        "text": f"{moment.strftime('%b')} {moment.day}, {moment.year}",
    }


def remember(info, scope: str, ids: Iterable[Hashable]) -> None:
    """Note the ids of objects a resolver produced (e.g. a page of customers),
    so that :func:`batched` loads their children for all of them at once."""
    seen = info.context.setdefault("seen", {}).setdefault(scope, {})
    for item_id in ids:
        seen.setdefault(item_id, None)


def requested_fields(info) -> frozenset[str]:
    """Every field name the query selects, anywhere (its fragments included).

    Enough to leave out work for a field no part of the query asks for, such
    as a plugin field's load (docs/plugins.md); a name asked for on another
    type only makes the work happen when it was not needed. Worked out once
    per request."""
    names = info.context.get("requested_fields")
    if names is None:
        found: set[str] = set()
        pending = [info.operation.selection_set]
        pending += [fragment.selection_set for fragment in info.fragments.values()]
        while pending:
            selection_set = pending.pop()
            for node in selection_set.selections if selection_set else ():
                if isinstance(node, FieldNode):
                    found.add(node.name.value)
                pending.append(getattr(node, "selection_set", None))
        names = info.context["requested_fields"] = frozenset(found)
    return names


def parse_filters(filters, keys: dict, schema) -> tuple[dict, list[dict]]:
    """GraphQL ``FilterInput``s -> (``schema``-validated list parameters,
    ``currentFilters``). ``keys`` maps each ``(key, operation)`` a list takes
    to the parameter it sets; page and limit are echoed even when defaulted."""
    raw: dict = {}
    current: list[dict] = []
    for index, item in enumerate(filters or []):
        key, operation, value = item["key"], item["operation"], item.get("value")
        target = keys.get((key, operation))
        if target is None:
            known = sorted({k for k, _ in keys})
            message = (
                f"Filter {key!r} does not take the operation {operation!r}."
                if key in known
                else f"Unknown filter {key!r}; use one of: {', '.join(known)}."
            )
            raise ValidationError(message, [{"field": f"filters.{index}", "message": message}])
        raw[target] = value
        current.append({"key": key, "operation": operation, "value": value})
    validated = load(schema, raw)
    for key in ("page", "limit"):
        if key not in raw:
            current.append({"key": key, "operation": "eq", "value": str(validated[key])})
    return validated, current


def batched(info, key: str, scope: str, item_id: Hashable, load_many: Callable[[list], dict]):
    """The value of ``key`` for ``item_id``, loaded for every remembered id of
    ``scope`` in one call of ``load_many(ids) -> {id: value}``.

    However many objects a query returns, each kind of child costs one query.
    """
    cache = info.context.setdefault("batches", {}).setdefault(key, {})
    if item_id not in cache:
        seen = info.context.setdefault("seen", {}).setdefault(scope, {})
        seen.setdefault(item_id, None)
        wanted = [i for i in seen if i not in cache]
        found = load_many(wanted)
        for i in wanted:
            cache[i] = found.get(i)
    return cache[item_id]


def prime(info, key: str, values: dict) -> None:
    """Give :func:`batched` values of ``key`` already read with their parents
    (``{id: value}``), so that it does not query for them again."""
    info.context.setdefault("batches", {}).setdefault(key, {}).update(values)


def build_schema(audience: str) -> GraphQLSchema:
    contributions = collect("register_graphql", audience=audience)
    # ariadne's @cost lets a plugin weigh a costly field (docs/plugins.md).
    type_defs = [CORE_SDL, cost_directive] + [c.sdl for c in contributions]
    bindables = [b for c in contributions for b in c.bindables]
    return ariadne.make_executable_schema(type_defs, *bindables)


def _format_error(error: GraphQLError, debug: bool = False) -> dict:
    """Errors in the GraphQL convention; an unexpected exception is logged and
    shown only as a generic message with the request id."""
    original = error.original_error
    if original is None or isinstance(original, AppError | GraphQLError):
        return error.formatted
    request_id = g.get("request_id", "-")
    log.error("GraphQL resolver failed (request id %s)", request_id, exc_info=original)
    formatted = dict(error.formatted)
    formatted["message"] = (
        f"An unexpected error occurred. Quote request id {request_id} when reporting it."
    )
    return formatted


def _read_operation() -> dict:
    if request.method == "GET":
        operation = {
            "query": request.args.get("query"),
            "operationName": request.args.get("operationName"),
        }
        if request.args.get("variables"):
            try:
                operation["variables"] = parse_json(request.args["variables"])
            except JSONTooDeep:
                raise BadRequest(
                    "The variables parameter nests arrays and objects more than"
                    f" {MAX_JSON_DEPTH} levels deep."
                ) from None
            except ValueError:
                raise BadRequest("The variables parameter is not valid JSON.") from None
        refuse_unstorable_text(operation)
        return operation
    return read_json_body()


class QueryCache:
    """One endpoint's parsed and validated queries: clients send the same few
    query texts over and over, and parsing and validating cost more than
    running them.

    Parsing stops past the endpoint's token limit, and validation checks its
    depth and field limits before the other rules (``app.graphql_limits``).
    Only queries of at most MAX_QUERY_LENGTH characters are kept, and at most
    MAX_TOTAL_LENGTH characters of them (a parsed query takes some 70 times
    its length in memory); when full it starts again empty, which costs one
    parse per query.
    """

    MAX_QUERY_LENGTH = 4096
    MAX_TOTAL_LENGTH = 128 * 1024

    def __init__(self, limits: Limits):
        self.limits = limits
        self._limit_rules = (query_limits_rule(limits),)
        self._documents: dict[str, DocumentNode] = {}
        self._errors: dict[tuple, list] = {}
        # The cost's verdict on queries that declare no variables: a constant
        # of their text (docs/api.md, "GraphQL limits").
        self._costs: dict[str, list] = {}
        self._total_length = 0

    def __contains__(self, query: str) -> bool:
        return query in self._documents

    @property
    def cached_length(self) -> int:
        """The characters of query text held."""
        return self._total_length

    def parse(self, context, data) -> DocumentNode:
        query = data["query"]
        document = self._documents.get(query)
        if document is None:
            # A syntax error, or too many tokens, is raised and never cached.
            document = parse(query, max_tokens=self.limits.tokens)
            if len(query) <= self.MAX_QUERY_LENGTH:
                if self._total_length + len(query) > self.MAX_TOTAL_LENGTH:
                    self._documents.clear()
                    self._errors.clear()
                    self._costs.clear()
                    self._total_length = 0
                self._documents[query] = document
                self._total_length += len(query)
        return document

    def validate(self, schema, document_ast, rules=None, max_errors=None, **kwargs) -> list:
        """The limits first, then ``rules``; a cost rule, which depends on the
        request's variables, is run afterwards, and its verdict is kept only
        for a query that declares no variables, whose cost its text fixes."""
        rules = tuple(specified_rules if rules is None else rules)
        per_request = tuple(rule for rule in rules if getattr(rule, "per_request", False))
        shared = tuple(rule for rule in rules if rule not in per_request)
        source = document_ast.loc.source.body if document_ast.loc else None
        key = (source, shared)
        cached = source is not None and source in self._documents
        errors = self._errors.get(key) if cached else None
        if errors is None:
            errors = validate(schema, document_ast, rules=self._limit_rules) or validate(
                schema, document_ast, rules=shared, max_errors=max_errors, **kwargs
            )
            if cached:
                self._errors[key] = errors
        if errors or not per_request:
            return errors
        constant = cached and not _declares_variables(document_ast)
        errors = self._costs.get(source) if constant else None
        if errors is None:
            errors = validate(
                schema, document_ast, rules=per_request, max_errors=max_errors, **kwargs
            )
            if constant:
                self._costs[source] = errors
        return errors


def _declares_variables(document: DocumentNode) -> bool:
    """Whether any operation of the document declares a variable: without one,
    every argument is written in the text (a variable used undeclared fails
    the shared rules first)."""
    return any(
        getattr(definition, "variable_definitions", None) for definition in document.definitions
    )


def _execute(audience: str, principal):
    cache: QueryCache = current_app.extensions["graphql_queries"][audience]
    schema = current_app.extensions["graphql"][audience]
    request.max_content_length = cache.limits.body_bytes  # read_json_body: 413 beyond
    operation = _read_operation()
    if not isinstance(operation.get("query"), str) or not operation["query"].strip():
        raise BadRequest("Send a GraphQL query in the 'query' field.")
    if request.method == "GET" and operation["query"].lstrip().startswith("mutation"):
        raise BadRequest("Mutations are not accepted over GET.")
    success, result = ariadne.graphql_sync(
        schema,
        operation,
        context_value={"principal": principal, "request": request},
        introspection=audience == "admin",
        query_parser=cache.parse,
        query_validator=cache.validate,
        validation_rules=lambda context, document, data: [
            cache.limits.cost_rule(data.get("variables"))
        ],
        debug=False,
        error_formatter=_format_error,
        logger=_ariadne_log.name,
    )
    return jsonify(result), 200 if success else 400


blueprint = Blueprint("graphql", __name__, url_prefix="/api")


@blueprint.route("/admin/graphql", methods=["GET", "POST"])
def admin_graphql():
    """Admin GraphQL (admin token)."""
    return _execute("admin", require("admin"))


@blueprint.route("/graphql", methods=["GET", "POST"])
def public_graphql():
    """Storefront GraphQL (customer token optional)."""
    return _execute("public", current_principal())


def init_app(app: Flask) -> None:
    """Build both schemas (after the plugins are loaded) and serve them."""
    with app.app_context():
        app.extensions["graphql"] = {audience: build_schema(audience) for audience in AUDIENCES}
    app.extensions["graphql_queries"] = {
        audience: QueryCache(Limits.from_config(app.config, audience)) for audience in AUDIENCES
    }
    app.register_blueprint(blueprint)
    if "api" in app.extensions:
        _document(app, app.extensions["api"].spec)


# --- the endpoints in the OpenAPI document ------------------------------------------

_GRAPHQL_REQUEST = {
    "type": "object",
    "properties": {
        "query": {"type": "string", "minLength": 1, "example": "{ currentCustomer { email } }"},
        "variables": {"type": "object", "nullable": True, "additionalProperties": True},
        "operationName": {"type": "string", "nullable": True},
    },
    "required": ["query"],
}
_GRAPHQL_RESULT = {
    "type": "object",
    "description": "A GraphQL result: `data`, and `errors` when something failed.",
    "properties": {
        "data": {"type": "object", "nullable": True, "additionalProperties": True},
        "errors": {
            "type": "array",
            "items": {
                "type": "object",
                "properties": {"message": {"type": "string"}},
                "required": ["message"],
                "additionalProperties": True,
            },
        },
    },
}
_SECURITY = {
    "admin": [{"adminToken": []}],
    "public": [{}, {"customerToken": []}],
}
_SUMMARY = {
    "admin": "Admin GraphQL: customer(id), customers(filters) (admin token).",
    "public": "Storefront GraphQL: currentCustomer (customer token optional).",
}


def _document(app: Flask, spec) -> None:
    """Both endpoints take ``{query, variables, operationName}`` as a JSON
    body (POST) or as query parameters (GET); the schema itself is served by
    introspection on the admin endpoint, not here."""
    spec.components.schema("GraphQLRequest", _GRAPHQL_REQUEST)
    spec.components.schema("GraphQLResult", _GRAPHQL_RESULT)
    spec.tag({"name": "graphql", "description": "GraphQL endpoints"})
    result = {"$ref": "#/components/schemas/GraphQLResult"}
    answers = {
        "200": {
            "description": "The query ran (errors inside it are in `errors`).",
            "content": {"application/json": {"schema": result}},
        },
        "400": {
            "description": "No query, or one that does not parse or validate, or is"
            " beyond the endpoint's limits (tokens, depth, fields, cost).",
            "content": {
                "application/json": {
                    "schema": {"anyOf": [result, {"$ref": "#/components/schemas/ErrorEnvelope"}]}
                }
            },
        },
    }
    get_parameters = [
        {"in": "query", "name": "query", "required": True, "schema": {"type": "string"}},
        {
            "in": "query",
            "name": "variables",
            "required": False,
            "description": "A JSON object, as text.",
            "schema": {"type": "string"},
        },
        {"in": "query", "name": "operationName", "required": False, "schema": {"type": "string"}},
    ]
    for audience, endpoint in (("admin", "admin_graphql"), ("public", "public_graphql")):
        rule = next(app.url_map.iter_rules(f"{blueprint.name}.{endpoint}"))
        common = {
            "tags": ["graphql"],
            "summary": _SUMMARY[audience],
            "security": _SECURITY[audience],
        }
        if audience == "admin":
            common["responses"] = {"403": "FORBIDDEN"}
        operations = {
            "get": {
                **deepcopy(common),
                "parameters": get_parameters,
                "responses": {**deepcopy(answers), **common.get("responses", {})},
            },
            "post": {
                **deepcopy(common),
                "requestBody": {
                    "required": True,
                    "content": {
                        "application/json": {
                            "schema": {"$ref": "#/components/schemas/GraphQLRequest"}
                        }
                    },
                },
                "responses": {**deepcopy(answers), **common.get("responses", {})},
            },
        }
        spec.path(rule=rule, operations=operations)
