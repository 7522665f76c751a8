"""Request and response plumbing shared by every route: the lenient JSON body
reading of docs/api.md, "Wire format", request ids, the uuid path converter and the
flask-smorest Blueprint that plugins build their routes on."""

from __future__ import annotations

import itertools
import json
import logging
import operator
import re
import time
import uuid

import flask_smorest
import marshmallow as ma
from flask import Flask, current_app, g, request
from flask.sessions import SessionInterface
from webargs.flaskparser import FlaskParser
from werkzeug.exceptions import RequestEntityTooLarge, UnsupportedMediaType
from werkzeug.routing import BaseConverter

from app.errors import BadRequest, ValidationError
from app.fields import unstorable

access_log = logging.getLogger("app.access")

_FORM = "application/x-www-form-urlencoded"
_REQUEST_ID = re.compile(r"^[A-Za-z0-9._:\-]{1,128}$")


def _is_json_mimetype(mimetype: str) -> bool:
    return mimetype == "application/json" or (
        mimetype.startswith("application/") and mimetype.endswith("+json")
    )


# The deepest nesting of arrays and objects a JSON body or GraphQL variables
# may have (docs/api.md); ``{}`` is 1 deep. Deeper text is refused before it
# is parsed, as parsing and every walk over the result recurse per level.
MAX_JSON_DEPTH = 32

_JSON_STRING = re.compile(r'"[^"\\]*(?:\\.[^"\\]*)*"', re.DOTALL)
_NOT_BRACKETS = re.compile(r"[^\[\]{}]+")
# An opening bracket steps up one level and a closing one down: as 2 and 0,
# the level after n brackets is their running sum minus n.
_BRACKET_STEPS = bytes.maketrans(b"[{]}", b"\x02\x02\x00\x00")


class JSONTooDeep(ValueError):
    """JSON text whose arrays and objects nest deeper than MAX_JSON_DEPTH."""


def json_depth(text: str) -> int:
    """How deeply arrays and objects nest in JSON ``text``, found without
    parsing it or recursing: the brackets outside strings, counted."""
    brackets = _NOT_BRACKETS.sub("", _JSON_STRING.sub("", text)).encode("ascii")
    steps = brackets.translate(_BRACKET_STEPS)
    levels = map(operator.sub, itertools.accumulate(steps), itertools.count(1))
    return max(levels, default=0)


def _reject_constant(name: str):
    raise ValueError(f"{name} is not valid JSON")


def parse_json(text: bytes | str):
    """Parse JSON text as ``json.loads`` does, except that ``NaN`` and
    ``Infinity`` are not JSON (ValueError) and that text nested deeper than
    MAX_JSON_DEPTH raises JSONTooDeep before it is parsed."""
    if isinstance(text, bytes | bytearray):
        # As json.loads decodes bytes; invalid UTF-8 raises a ValueError.
        text = text.decode(json.detect_encoding(text), "surrogatepass")
    if text.lstrip()[:1] in ("[", "{") and json_depth(text) > MAX_JSON_DEPTH:
        raise JSONTooDeep(f"nested more than {MAX_JSON_DEPTH} levels deep")
    return json.loads(text, parse_constant=_reject_constant)


def _parse(raw: bytes):
    try:
        return parse_json(raw)
    except JSONTooDeep:
        raise BadRequest(
            f"The request body nests arrays and objects more than {MAX_JSON_DEPTH} levels deep."
        ) from None


def read_body() -> bytes:
    """The raw request body; 413 above the request's ``max_content_length``
    (``MAX_CONTENT_LENGTH`` unless a view lowered it).

    A body without Content-Length (chunked) is only known to be too large once
    read, and the stream stops at the limit: one byte more is read, so that a
    body that goes on past the limit is refused rather than cut short.
    """
    limit = request.max_content_length
    if limit is not None and request.content_length is None:
        request.max_content_length = limit + 1
    raw = request.get_data(cache=True)
    if limit is not None and len(raw) > limit:
        raise RequestEntityTooLarge()
    return raw


def read_json_body() -> dict:
    """Return the request body as a dict, read as docs/api.md, "Wire format" says.

    JSON when the Content-Type says so, and also when it is absent or a form
    type but the raw body parses as JSON (the seed's ``curl --data-raw``).
    An absent body with no Content-Type reads as ``{}``. Arrays and objects
    nested deeper than MAX_JSON_DEPTH are a 400.
    """
    mimetype = request.mimetype
    raw = read_body()
    if _is_json_mimetype(mimetype):
        try:
            body = _parse(raw)
        except ValueError:
            raise BadRequest("The request body is not valid JSON.") from None
    elif mimetype in ("", _FORM):
        if not raw.strip() and not mimetype:
            return {}
        try:
            body = _parse(raw)
        except ValueError:
            raise UnsupportedMediaType() from None
    else:
        raise UnsupportedMediaType()
    if not isinstance(body, dict):
        raise BadRequest("The request body must be a JSON object.")
    refuse_unstorable_text(body)
    return body


def refuse_unstorable_text(data, path: str = "") -> None:
    """400 naming the field when any key or string in ``data`` (parsed JSON,
    or query parameters) holds text no database column can take: NUL
    characters, or unpaired surrogates (``"\\ud800"`` is valid JSON but not
    Unicode that UTF-8 can encode)."""
    if isinstance(data, dict):
        for key, value in data.items():
            name = f"{path}.{key}" if path else str(key)
            refuse_unstorable_text(str(key), name)
            refuse_unstorable_text(value, name)
    elif isinstance(data, list):
        for item in data:
            refuse_unstorable_text(item, path)
    elif isinstance(data, str):
        problem = unstorable(data)
        if problem:
            raise ValidationError.from_messages({path: [problem]})


def load(schema: ma.Schema, data: dict, **kwargs) -> dict:
    """Validate ``data`` with ``schema``; failures become a 400 naming the fields."""
    try:
        return schema.load(data, **kwargs)
    except ma.ValidationError as error:
        raise ValidationError.from_messages(error.messages) from None


class _Parser(FlaskParser):
    """webargs parser for flask-smorest: our body reading, our 400."""

    DEFAULT_VALIDATION_STATUS = 400

    def load_json(self, req, schema):
        return read_json_body()

    def load_querystring(self, req, schema):
        refuse_unstorable_text({name: req.args.getlist(name) for name in req.args})
        return super().load_querystring(req, schema)

    def handle_error(self, error, req, schema, *, error_status_code, error_headers):
        messages = error.messages
        if isinstance(messages, dict) and len(messages) == 1:
            # webargs nests messages under the location ("json", "query").
            ((location, inner),) = messages.items()
            if location in {"json", "query", "view_args"}:
                messages = inner
        raise ValidationError.from_messages(messages)


class Blueprint(flask_smorest.Blueprint):
    """The flask-smorest Blueprint, parsing arguments with our rules."""

    ARGUMENTS_PARSER = _Parser()


class UUIDConverter(BaseConverter):
    """A uuid in a path, dashed or as 32 hex digits, any case.

    Anything else does not match the route, so it is a routing 404.
    """

    regex = (
        r"(?:[0-9a-fA-F]{32}"
        r"|[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12})"
    )

    def to_python(self, value: str) -> uuid.UUID:
        return uuid.UUID(value)

    def to_url(self, value) -> str:
        return str(value)


class ExtensibleSchema(ma.Schema):
    """A response schema that also passes through the keys plugins add
    (``customer_extend_read``): they are documented by their plugin, not here."""

    class Meta:
        # Only read by the OpenAPI document: such objects may carry more properties.
        unknown = ma.INCLUDE

    @ma.post_dump(pass_original=True)
    def _keep_plugin_fields(self, data, original, **kwargs):
        if isinstance(original, dict):
            for key, value in original.items():
                data.setdefault(key, value)
        return data


def envelope(schema: type[ma.Schema], name: str) -> type[ma.Schema]:
    """``{"data": <schema>}``, the success envelope of docs/api.md, "Wire format", as a schema."""
    return ma.Schema.from_dict({"data": ma.fields.Nested(schema, required=True)}, name=name)


def path_for(endpoint: str, **values) -> str:
    """The path of a route of this app (``url_for`` without the need of a
    request, so that events and commands build the same links)."""
    adapter = current_app.extensions.get("path_builder")
    if adapter is None:
        adapter = current_app.extensions["path_builder"] = current_app.url_map.bind("localhost")
    return adapter.build(endpoint, values)


def parse_uuid(value) -> uuid.UUID | None:
    """A uuid from a string in the forms a path accepts, or None."""
    if isinstance(value, uuid.UUID):
        return value
    if isinstance(value, str) and re.fullmatch(UUIDConverter.regex, value.strip()):
        return uuid.UUID(value.strip())
    return None


def _assign_request_id():
    g.request_started = time.perf_counter()
    given = request.headers.get("X-Request-ID", "")
    g.request_id = given if _REQUEST_ID.match(given) else uuid.uuid4().hex


def _send_request_id(response):
    response.headers["X-Request-ID"] = g.get("request_id") or uuid.uuid4().hex
    _log_request(response)
    return response


def _log_request(response) -> None:
    """One access line per request (docs/operations.md, "Logs"). Never the
    body, the query string or any header: they may carry passwords, tokens or
    reset links."""
    if not access_log.isEnabledFor(logging.INFO):
        return
    started = g.get("request_started")
    duration = round((time.perf_counter() - started) * 1000, 2) if started else None
    rule = request.url_rule
    access_log.info(
        "%s %s %s %sms",
        request.method,
        request.path,
        response.status_code,
        duration,
        extra={
            "event": "request",
            "method": request.method,
            "path": request.path,
            "route": rule.rule if rule is not None else None,
            "status": response.status_code,
            "duration_ms": duration,
            "request_id": g.get("request_id"),
        },
    )


class _NoSession(SessionInterface):
    """The API keeps nothing in cookies (callers send bearer tokens): Flask's
    cookie session is never opened, where the default built a signing
    serializer and read the cookies on every request (docs/architecture.md,
    "Requests"). ``flask.session`` is Flask's null session, which refuses writes."""

    def open_session(self, app, request):
        return None  # Flask then gives the request its null session

    def save_session(self, app, session, response):
        pass


def init_app(app: Flask) -> None:
    app.session_interface = _NoSession()
    app.url_map.converters["uuid"] = UUIDConverter
    app.before_request(_assign_request_id)
    app.after_request(_send_request_id)
