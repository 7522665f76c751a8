"""The error hierarchy and the one handler that renders every error.

Every failure, whether raised by a view, a plugin hook, routing or Werkzeug,
leaves the service in the envelope of docs/api.md, "Wire format"::

    {"error": {"status": 400, "message": "...", "errors": [{"field": ..., "message": ...}]}}
"""

from __future__ import annotations

import logging

import marshmallow
from flask import Flask, g, jsonify
from werkzeug.exceptions import HTTPException

log = logging.getLogger(__name__)


class AppError(Exception):
    """An error meant for the client: its status and message are sent as they are.

    Plugins raise the subclasses below from ``*_before_*`` hooks to veto an
    operation; the client gets the status and the message, and nothing is written.
    """

    status = 500
    default_message = "The request failed."

    def __init__(
        self,
        message: str | None = None,
        errors: list[dict] | None = None,
        headers: dict[str, str] | None = None,
    ):
        self.message = message or self.default_message
        self.errors = errors or []
        self.headers = headers or {}
        super().__init__(self.message)


class BadRequest(AppError):
    status = 400
    default_message = "The request is invalid."


class ValidationError(BadRequest):
    """Input that failed validation, with the fields at fault."""

    @classmethod
    def for_field(cls, field: str, message: str) -> ValidationError:
        """One field at fault: ``Invalid <field>: <message>``, with ``errors``
        naming it."""
        return cls(f"Invalid {field}: {message}", [{"field": field, "message": message}])

    @classmethod
    def from_messages(cls, messages) -> ValidationError:
        errors = [{"field": field, "message": text} for field, text in _flatten(messages)]
        unknown = [e["field"] for e in errors if e["message"] == "Unknown field."]
        if unknown:
            message = "Unknown field(s): " + ", ".join(unknown) + "."
        elif errors and errors[0]["field"]:
            first = errors[0]
            message = f"Invalid {first['field']}: {first['message']}"
        elif errors:
            message = errors[0]["message"]
        else:
            message = None
        return cls(message, [e for e in errors if e["field"]])


class Unauthorized(AppError):
    status = 401
    default_message = "Authentication is required: send a valid Bearer token."


class Forbidden(AppError):
    status = 403
    default_message = "You are not allowed to do this."


class NotFound(AppError):
    status = 404
    default_message = "The resource was not found."


class Conflict(AppError):
    status = 409
    default_message = "The request conflicts with the current state."


class PayloadTooLarge(AppError):
    status = 413
    default_message = "The request is too large."


class TooManyRequests(AppError):
    status = 429
    default_message = "Too many requests: try again later."


def _flatten(messages, prefix: str = ""):
    """Yield ``(field, message)`` pairs from marshmallow's nested error dicts."""
    if isinstance(messages, dict):
        for key, value in messages.items():
            if key == "_schema":
                yield from _flatten(value, prefix)
            else:
                name = f"{prefix}.{key}" if prefix else str(key)
                yield from _flatten(value, name)
    elif isinstance(messages, list | tuple):
        for item in messages:
            yield from _flatten(item, prefix)
    else:
        yield prefix, str(messages)


# Messages for Werkzeug's errors, written for a client of a JSON API.
_HTTP_MESSAGES = {
    400: "The request is invalid.",
    401: "Authentication is required: send a valid Bearer token.",
    404: "No resource lives at this address.",
    405: "This method is not allowed on this resource.",
    413: "The request body is too large.",
    415: "Send the body as JSON with Content-Type: application/json.",
    429: "Too many requests: wait as long as the Retry-After header says, then try again.",
}


def error_response(status: int, message: str, errors: list[dict] | None = None):
    body: dict = {"status": status, "message": message}
    if errors:
        body["errors"] = errors
    response = jsonify({"error": body})
    response.status_code = status
    return response


def _handle_app_error(error: AppError):
    response = error_response(error.status, error.message, error.errors)
    response.headers.update(error.headers)
    return response


def _handle_marshmallow_error(error: marshmallow.ValidationError):
    return _handle_app_error(ValidationError.from_messages(error.messages))


def _handle_http_exception(error: HTTPException):
    status = error.code or 500
    if status >= 500:
        return handle_unexpected(error)
    message = _HTTP_MESSAGES.get(status) or error.description or "The request failed."
    response = error_response(status, message)
    if status == 405 and error.get_response().headers.get("Allow"):
        response.headers["Allow"] = error.get_response().headers["Allow"]
    return response


def handle_unexpected(error: Exception):
    request_id = g.get("request_id", "-")
    log.exception("unhandled error (request id %s)", request_id, exc_info=error)
    return error_response(
        500,
        f"An unexpected error occurred. Quote request id {request_id} when reporting it.",
    )


def init_app(app: Flask) -> None:
    """Register the handlers; called last in the factory so that they win over
    the ones flask-smorest registers."""
    app.register_error_handler(AppError, _handle_app_error)
    app.register_error_handler(marshmallow.ValidationError, _handle_marshmallow_error)
    app.register_error_handler(HTTPException, _handle_http_exception)
    app.register_error_handler(Exception, handle_unexpected)
