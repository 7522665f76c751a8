"""The OpenAPI document and the interactive docs page.

flask-smorest builds the document from the blueprints' marshmallow schemas
and serves it at ``/api/openapi.json``; Swagger UI renders it at ``/api/docs``
from assets the service serves itself (the ``swagger-ui-bundle`` package), so
the page works with no network. This module adds what every route shares:

* the error envelope of docs/api.md, "Wire format" (the ``Error`` schema) and one response
  component per error status, with the headers that go with it;
* the bearer token schemes ``adminToken`` and ``customerToken``; a view says
  who may call it with :func:`access` (the guards in ``app.auth.guards`` do it
  for the views they protect);
* the error answers every route of a kind can give, added to each operation
  by :class:`ErrorResponsesPlugin` (see its docstring); a view names any other
  with :func:`errors`.
"""

from __future__ import annotations

import http
import json
from copy import deepcopy

import flask_smorest
import marshmallow as ma
from apispec import BasePlugin
from flask import Blueprint, Flask, current_app
from marshmallow import fields
from swagger_ui_bundle import swagger_ui_path

from app.fields import FlexibleBoolean, LenientInteger
from app.http import UUIDConverter

# Who may call a route: the token types of app.auth.tokens, as security schemes.
SCHEMES = {"admin": "adminToken", "customer": "customerToken"}
ASSETS_URL = "/api/docs/assets/"
DIGITS = r"^\s*-?[0-9]+\s*$"


class ErrorDetailSchema(ma.Schema):
    field = fields.String(required=True, metadata={"example": "email"})
    message = fields.String(required=True, metadata={"example": "Not a valid email address."})


class ErrorSchema(ma.Schema):
    """What went wrong: the status again, one sentence a person can act on, and
    the fields at fault (only when fields are at fault)."""

    status = fields.Integer(required=True, metadata={"example": 400})
    message = fields.String(required=True)
    errors = fields.List(fields.Nested(ErrorDetailSchema))


class ErrorEnvelopeSchema(ma.Schema):
    """Every error answer: ``{"error": {"status", "message", "errors"?}}``."""

    error = fields.Nested(ErrorSchema, required=True)


_REQUEST_ID = {
    "description": "The client's X-Request-ID echoed, or one made by the service.",
    "schema": {"type": "string"},
}

# status -> (description, example message, extra headers)
ERROR_RESPONSES: dict[int, tuple[str, str, dict]] = {
    400: (
        "Invalid input: a body that is not JSON or not an object, unknown or "
        "invalid fields (`errors` names each), or bad query parameters.",
        "Invalid email: Not a valid email address.",
        {},
    ),
    401: (
        "No token where one is required, or an `Authorization` header that is "
        "not a valid access token (or whose account is gone or disabled).",
        "Authentication is required: send a valid Bearer token.",
        {"WWW-Authenticate": {"schema": {"type": "string", "example": "Bearer"}}},
    ),
    403: (
        "Authenticated, but this token may not do this (or a plugin vetoed it).",
        "This token does not grant access to this resource.",
        {},
    ),
    404: (
        "No such resource (an unknown or malformed uuid included).",
        "Customer not found.",
        {},
    ),
    405: ("This method is not allowed here.", "This method is not allowed on this resource.", {}),
    409: (
        "The request conflicts with what is stored: the email is already used by another"
        " account, a customer group has the name already, or a group cannot be deleted"
        " (the message says which).",
        "Email is already used",
        {},
    ),
    413: ("The body is larger than MAX_CONTENT_LENGTH.", "The request body is too large.", {}),
    415: (
        "The body is not JSON (send it with Content-Type: application/json).",
        "Send the body as JSON with Content-Type: application/json.",
        {},
    ),
    429: (
        "Rate limited: wait as long as Retry-After says.",
        "Too many requests: wait as long as the Retry-After header says, then try again.",
        {
            "Retry-After": {
                "description": "Seconds to wait before trying again.",
                "schema": {"type": "integer"},
            }
        },
    ),
    503: (
        "The database is unavailable at the moment (a restart, an outage): retry after"
        " Retry-After seconds. Nothing was written.",
        "The database is unavailable at the moment: try again in a few seconds.",
        {
            "Retry-After": {
                "description": "Seconds to wait before trying again.",
                "schema": {"type": "integer"},
            }
        },
    ),
    500: (
        "A fault of the service: a generic message that quotes the request id.",
        "An unexpected error occurred. Quote request id 3f1c0d5e when reporting it.",
        {},
    ),
}


def response_name(status: int) -> str:
    """The name of the shared response component for an error status."""
    return http.HTTPStatus(status).name


def _doc(**kwargs):
    return flask_smorest.Blueprint.doc(**kwargs)


def access(*token_types: str, anonymous: bool = False):
    """Decorator documenting who may call a view: the access tokens it takes
    (``"admin"``, ``"customer"``), and whether callers without a token are
    served too. A route with any of these answers 401 to a bad token."""
    security = [{}] if anonymous else []
    security += [{SCHEMES[kind]: []} for kind in token_types]
    return _doc(security=security)


def errors(*statuses: int):
    """Decorator documenting error answers that :class:`ErrorResponsesPlugin`
    cannot infer (e.g. 403 from a rule, 409 for a taken email)."""
    return _doc(responses={str(status): response_name(status) for status in statuses})


class ErrorResponsesPlugin(BasePlugin):
    """Completes each operation with what every route of its kind answers:

    * ``security``: ``[]`` (public, no token read) unless the view said otherwise;
    * 401 on every ``/api`` route (a present but invalid ``Authorization``
      header is refused everywhere) and on any other that reads a token;
    * 400, 413 and 415 when it reads a JSON body; 400 when it has query parameters;
    * 404 when its path names a resource;
    * 429 when the view is rate limited (``app.ratelimit.rate_limited``);
    * 503 on every ``/api`` route (the database away);
    * 500 everywhere, and ``X-Request-ID`` on every answer.
    """

    def __init__(self, app: Flask):
        super().__init__()
        self.app = app

    def operation_helper(self, path=None, operations=None, **kwargs):
        rule = kwargs.get("rule")
        view = self.app.view_functions.get(rule.endpoint) if rule is not None else None
        for method, operation in (operations or {}).items():
            if method not in {"get", "post", "put", "patch", "delete"}:
                continue
            responses = {str(code): doc for code, doc in operation.get("responses", {}).items()}
            security = operation.setdefault("security", [])
            wanted = {500}
            # A bad Authorization header is a 401 on every /api route, public ones too.
            if any(requirement for requirement in security) or (path or "").startswith("/api/"):
                wanted.add(401)
            if "requestBody" in operation:
                wanted |= {400, 413, 415}
            if any(p.get("in") == "query" for p in operation.get("parameters", [])):
                wanted.add(400)
            if "{" in (path or ""):
                wanted.add(404)
            if getattr(view, "rate_limit", None):
                wanted.add(429)
            if (path or "").startswith("/api/"):
                wanted.add(503)  # the database is away (docs/operations.md)
            for status in wanted:
                responses.setdefault(str(status), response_name(status))
            for doc in responses.values():
                if isinstance(doc, dict):
                    doc.setdefault("headers", {}).setdefault("X-Request-ID", _REQUEST_ID)
            operation["responses"] = dict(sorted(responses.items()))


class Api(flask_smorest.Api):
    """flask-smorest's Api with our error envelope and no catch-all ``default``
    response: each operation lists the statuses it really answers; its tags in
    the order a reader needs (:data:`TAG_ORDER`)."""

    ERROR_SCHEMA = ErrorEnvelopeSchema
    DEFAULT_ERROR_RESPONSE_NAME = None

    def ordered(self) -> dict:
        """The document, its tags in :data:`TAG_ORDER` (others after, as added)."""
        document = self.spec.to_dict()
        used = {
            tag
            for operations in document.get("paths", {}).values()
            for operation in operations.values()
            if isinstance(operation, dict)
            for tag in operation.get("tags", [])
        }
        rank = {name: index for index, name in enumerate(TAG_ORDER)}
        document["tags"] = sorted(
            (tag for tag in document.get("tags", []) if tag["name"] in used),
            key=lambda tag: rank.get(tag["name"], len(TAG_ORDER)),
        )
        return document

    def _openapi_json(self):
        return current_app.response_class(
            json.dumps(self.ordered(), indent=2), mimetype="application/json"
        )

    def _register_pagination_header(self):
        # flask-smorest's pagination is not used: the list carries its own page fields.
        pass

    def _register_responses(self):
        for status, (description, message, headers) in ERROR_RESPONSES.items():
            example = {"error": {"status": status, "message": message}}
            if status == 400:
                example["error"]["errors"] = [
                    {"field": "email", "message": "Not a valid email address."}
                ]
            self.spec.components.response(
                response_name(status),
                {
                    "description": description,
                    "headers": {"X-Request-ID": _REQUEST_ID, **deepcopy(headers)},
                    "content": {
                        "application/json": {"schema": self.ERROR_SCHEMA, "example": example}
                    },
                },
                lazy=True,
            )


def _uuid_parameter(converter) -> dict:
    return {
        "type": "string",
        "pattern": f"^{UUIDConverter.regex}$",
        "description": "A uuid, dashed or as 32 hex digits, in any case.",
    }


def _lenient_types(converter, field, ret, **kwargs) -> dict:
    """LenientInteger takes a number or a string of digits; FlexibleBoolean
    true/false, 0/1 or "0"/"1": their schemas say so."""
    if isinstance(field, LenientInteger):
        ret.pop("type", None)
        if field.choices is not None:
            ret["enum"] = [*field.choices, *(str(choice) for choice in field.choices)]
        else:
            number = {
                "type": "integer",
                "minimum": ret.pop("minimum", field.MIN),
                "maximum": ret.pop("maximum", field.MAX),
            }
            ret["anyOf"] = [number, {"type": "string", "pattern": DIGITS}]
    elif isinstance(field, FlexibleBoolean):
        ret.pop("type", None)
        ret["enum"] = [True, False, 0, 1, "0", "1"]
    return {}


_assets = Blueprint(
    "openapi_assets",
    __name__,
    static_folder=str(swagger_ui_path),
    static_url_path=ASSETS_URL.rstrip("/"),
)


def init_app(app: Flask) -> Api:
    """Create the Api (the document at ``/api/openapi.json``, the page at
    ``/api/docs``) and serve Swagger UI's assets from ``/api/docs/assets/``."""
    app.config.setdefault("OPENAPI_URL_PREFIX", "/api")
    app.config.setdefault("OPENAPI_JSON_PATH", "openapi.json")
    app.config.setdefault("OPENAPI_SWAGGER_UI_PATH", "docs")
    app.config.setdefault("OPENAPI_SWAGGER_UI_URL", ASSETS_URL)
    # validatorUrl null: Swagger UI would otherwise send the document to an
    # online validator and show its badge.
    app.config.setdefault(
        "OPENAPI_SWAGGER_UI_CONFIG", {"validatorUrl": None, "persistAuthorization": True}
    )
    app.config.setdefault(
        "API_SPEC_OPTIONS",
        {
            # Relative: the document describes the service that serves it.
            "servers": [{"url": "/", "description": "this service"}],
            "info": {
                "description": (
                    'EverShop\'s Customer API. Success: `{"data": ...}`; '
                    "errors: the `ErrorEnvelope`. Tokens come from "
                    "`POST /api/user/tokens` (adminToken) and "
                    "`POST /api/customer/tokens` (customerToken)."
                )
            },
        },
    )
    api = Api(app, spec_kwargs={"extra_plugins": [ErrorResponsesPlugin(app)]})
    api.register_converter(UUIDConverter, _uuid_parameter)
    api.ma_plugin.converter.add_attribute_function(_lenient_types)
    for kind, scheme in SCHEMES.items():
        api.spec.components.security_scheme(
            scheme,
            {
                "type": "http",
                "scheme": "bearer",
                "bearerFormat": "JWT",
                "description": f"A {kind} access token from POST /api/"
                + ("user" if kind == "admin" else "customer")
                + "/tokens.",
            },
        )
    app.register_blueprint(_assets)
    return api


def location_header(description: str) -> dict:
    """The ``headers`` of a 201 answer: where the new resource lives."""
    return {
        "Location": {"description": description, "required": True, "schema": {"type": "string"}}
    }


# The order a reader needs: how to get a token, then the resources, then the
# rest (tags not named here follow, in the order they were added).
TAG_ORDER = (
    "tokens",
    "customers",
    "addresses",
    "passwords",
    "graphql",
    "customer_groups",
    "sessions",
    "verification",
    "privacy",
    "timeline",
    "webhooks",
    "operations",
)
TOKENS_TAG = {
    "name": "tokens",
    "description": "Admin and customer access tokens: log in, refresh, log out.",
}
OPERATIONS_TAG = {
    "name": "operations",
    "description": "Probes for the process manager and the load balancer, and metrics.",
}

_PROBES = {
    "health.healthz": (
        "Liveness: the process answers (touches nothing else).",
        {"200": {"description": "The process answers."}},
    ),
    "health.readyz": (
        "Readiness: the database answers and every migration branch is at its head.",
        {"200": {"description": "Ready."}, "503": response_name(503)},
    ),
}


def finish_document(app: Flask, spec) -> None:
    """What no route says by itself: the probes and ``/metrics`` (served
    outside ``/api``) and the tags the token routes share. Called once every
    plugin added its routes; :meth:`Api.ordered` orders the tags."""
    spec.tag(TOKENS_TAG)
    spec.tag(OPERATIONS_TAG)
    for endpoint, (summary, responses) in _PROBES.items():
        spec.path(
            rule=next(app.url_map.iter_rules(endpoint)),
            operations={
                "get": {"tags": ["operations"], "summary": summary, "responses": responses}
            },
        )
    if "metrics.scrape" in app.view_functions:
        spec.path(
            rule=next(app.url_map.iter_rules("metrics.scrape")),
            operations={
                "get": {
                    "tags": ["operations"],
                    "summary": "Metrics in Prometheus' text format (METRICS_TOKEN as a bearer"
                    ' token when set; docs/operations.md, "Metrics").',
                    "responses": {
                        "200": {
                            "description": "The metrics.",
                            "content": {"text/plain": {"schema": {"type": "string"}}},
                        },
                        "401": response_name(401),
                    },
                }
            },
        )
