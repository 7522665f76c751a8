"""docs/api.md, "Wire format", the error envelope: every status the service answers with, and
every error class of ``app/errors.py`` raised by a plugin veto, reaches the
client as ``{"error": {"status", "message", "errors"?}}`` and writes nothing."""

from __future__ import annotations

import uuid

import pytest

from app.errors import (
    BadRequest,
    Conflict,
    Forbidden,
    NotFound,
    TooManyRequests,
    Unauthorized,
    ValidationError,
)
from app.plugins import hookimpl

CUSTOMERS = "/api/customers"


def _new_customer(**overrides) -> dict:
    return {
        "email": "jane.doe@example.com",
        "password": "jane-password-1",
        "full_name": "Jane Doe",
        **overrides,
    }


def _assert_envelope(response, status: int, message: str, errors: list | None = None) -> None:
    """The exact envelope of docs/api.md, "Wire format"; ``errors`` only where
    fields are at fault."""
    body = {"status": status, "message": message}
    if errors is not None:
        body["errors"] = errors
    assert response.status_code == status
    assert response.mimetype == "application/json"
    assert response.json == {"error": body}
    assert response.headers["X-Request-ID"]


def _customer_total(client, auth) -> int:
    response = client.get(CUSTOMERS, headers=auth.admin_headers())
    assert response.status_code == 200, response.json
    return response.json["data"]["total"]


def _assert_nothing_created(client, auth, events) -> None:
    assert _customer_total(client, auth) == 0
    assert events() == []


class _Veto:
    """A plugin that refuses every customer creation with the error it is given."""

    def __init__(self, error: Exception):
        self.error = error

    @hookimpl
    def customer_before_create(self, data, context):
        raise self.error


# --- the envelope for every status ----------------------------------------------


def test_invalid_field_is_400_with_the_field_named(client, auth, events):
    # given a create body with a status that is neither 0 nor 1
    # when an admin creates the customer
    response = client.post(CUSTOMERS, json=_new_customer(status=7), headers=auth.admin_headers())
    # then the envelope names the field, and nothing is written
    _assert_envelope(
        response,
        400,
        "Invalid status: Must be one of: 0, 1.",
        [{"field": "status", "message": "Must be one of: 0, 1."}],
    )
    _assert_nothing_created(client, auth, events)


def test_invalid_json_is_400_without_field_errors(client, auth, events):
    # given a body labelled JSON that does not parse
    # when an admin creates a customer with it
    response = client.post(
        CUSTOMERS, data="{", content_type="application/json", headers=auth.admin_headers()
    )
    # then the envelope has no field errors, and nothing is written
    _assert_envelope(response, 400, "The request body is not valid JSON.")
    _assert_nothing_created(client, auth, events)


def test_missing_token_is_401_with_www_authenticate(client, auth):
    # given a customer
    customer = auth.create_customer()
    # when it is read without a token
    response = client.get(f"{CUSTOMERS}/{customer['uuid']}")
    # then it is a 401 that says how to authenticate
    _assert_envelope(response, 401, "Authentication is required: send a valid Bearer token.")
    assert response.headers["WWW-Authenticate"] == "Bearer"


def test_invalid_token_is_401_with_www_authenticate(client, auth, events):
    # given a bearer token that is not a JWT
    # when it is used to create a customer
    response = client.post(
        CUSTOMERS, json=_new_customer(), headers={"Authorization": "Bearer not-a-token"}
    )
    # then it is a 401 in the envelope, never read as anonymous, and nothing is written
    _assert_envelope(response, 401, "The token is invalid or expired.")
    assert response.headers["WWW-Authenticate"] == "Bearer"
    _assert_nothing_created(client, auth, events)


def test_wrong_admin_password_is_401_without_www_authenticate(client, auth):
    # given an admin user
    auth.create_admin()
    # when it logs in with a wrong password
    response = client.post(
        "/api/user/tokens", json={"email": "admin@example.com", "password": "wrong-password"}
    )
    # then it is a 401 with the contract's message, and no bearer challenge:
    # that header belongs to routes that take a token
    _assert_envelope(response, 401, "Invalid email or password")
    assert "WWW-Authenticate" not in response.headers


def test_customer_token_on_admin_route_is_403(client, auth, events):
    # given a customer signed in
    customer = auth.create_customer()
    headers = auth.customer_headers()
    # when it tries to delete itself through the admin route
    response = client.delete(f"{CUSTOMERS}/{customer['uuid']}", headers=headers)
    # then it is a 403, and the customer is still there
    _assert_envelope(response, 403, "This token does not grant access to this resource.")
    assert "WWW-Authenticate" not in response.headers
    assert _customer_total(client, auth) == 1
    assert [name for name, _ in events()] == ["customer_registered"]


def test_unknown_customer_is_404(client, auth):
    # given no customer with this uuid
    # when an admin reads it
    response = client.get(f"{CUSTOMERS}/{uuid.uuid4()}", headers=auth.admin_headers())
    # then it is a 404 in the envelope
    _assert_envelope(response, 404, "Customer not found.")


@pytest.mark.parametrize("path", ["/api/nope", "/api", "/nope", "/api/customers/x/y/z"])
def test_unknown_route_is_404(client, path):
    # given / when a client calls an address where nothing lives
    response = client.get(path)
    # then it is a 404 in the envelope, not Flask's HTML page
    _assert_envelope(response, 404, "No resource lives at this address.")


@pytest.mark.parametrize(
    ("method", "path", "allowed"),
    [
        (
            "put",
            f"{CUSTOMERS}/0b5d6a3e-4f1c-4e2a-9c7d-2f8e1a6b3c90",
            {"GET", "HEAD", "OPTIONS", "PATCH", "DELETE"},
        ),
        ("delete", CUSTOMERS, {"GET", "HEAD", "OPTIONS", "POST"}),
        ("get", "/api/user/tokens", {"OPTIONS", "POST"}),
    ],
)
def test_wrong_method_is_405_with_allow(client, auth, events, method, path, allowed):
    # given / when an admin calls a route with a method it does not take
    response = getattr(client, method)(path, headers=auth.admin_headers())
    # then it is a 405 naming the methods that are allowed, and nothing is written
    _assert_envelope(response, 405, "This method is not allowed on this resource.")
    assert {m.strip() for m in response.headers["Allow"].split(",")} == allowed
    _assert_nothing_created(client, auth, events)


def test_taken_email_is_409(client, auth, events):
    # given a customer
    auth.create_customer(email="jane.doe@example.com")
    # when an admin creates another with the same email
    response = client.post(CUSTOMERS, json=_new_customer(), headers=auth.admin_headers())
    # then it is a 409, and only the first customer exists
    _assert_envelope(response, 409, "Email is already used")
    assert _customer_total(client, auth) == 1
    assert [name for name, _ in events()] == ["customer_registered"]


def test_body_too_large_is_413(client, auth, events, make_app):
    # given a service that accepts bodies of at most 1024 bytes
    small = make_app(MAX_CONTENT_LENGTH=1024).test_client()
    # when an admin logs in with a bigger body
    auth.create_admin()
    response = small.post(
        "/api/user/tokens", json={"email": "admin@example.com", "password": "p" * 2048}
    )
    # then it is a 413 in the envelope
    _assert_envelope(response, 413, "The request body is too large.")


def test_unsupported_media_type_is_415(client, auth):
    # given an admin user
    auth.create_admin()
    # when it logs in with a plain-text body
    response = client.post(
        "/api/user/tokens",
        data='{"email": "admin@example.com", "password": "admin-password-1"}',
        content_type="text/plain",
    )
    # then it is a 415 in the envelope
    _assert_envelope(response, 415, "Send the body as JSON with Content-Type: application/json.")


class _Crash:
    """A plugin with a bug: it fails in the middle of a customer creation."""

    @hookimpl
    def customer_before_create(self, data, context):
        raise RuntimeError("secret internal detail: table xyz is on fire")


def test_plugin_crash_is_500_quoting_the_request_id(client, auth, events, register_plugin):
    # given a plugin that crashes while a customer is created
    register_plugin(_Crash())
    # when an admin creates a customer
    response = client.post(CUSTOMERS, json=_new_customer(), headers=auth.admin_headers())
    # then it is a generic 500 that quotes the request id, and nothing is written
    request_id = response.headers["X-Request-ID"]
    _assert_envelope(
        response,
        500,
        f"An unexpected error occurred. Quote request id {request_id} when reporting it.",
    )
    text = response.get_data(as_text=True)
    assert "Traceback" not in text
    assert "RuntimeError" not in text
    assert "secret internal detail" not in text
    assert 'File "' not in text
    _assert_nothing_created(client, auth, events)


def test_plugin_crash_500_quotes_the_client_request_id(client, auth, events, register_plugin):
    # given a plugin that crashes while a customer is created
    register_plugin(_Crash())
    # when an admin creates a customer sending its own request id
    headers = {**auth.admin_headers(), "X-Request-ID": "support-case-17"}
    response = client.post(CUSTOMERS, json=_new_customer(), headers=headers)
    # then the 500 quotes that id, and nothing is written
    assert response.headers["X-Request-ID"] == "support-case-17"
    _assert_envelope(
        response,
        500,
        "An unexpected error occurred. Quote request id support-case-17 when reporting it.",
    )
    _assert_nothing_created(client, auth, events)


# --- each error class, raised by a plugin veto ----------------------------------


def _create_vetoed(client, auth, register_plugin, error):
    register_plugin(_Veto(error))
    return client.post(CUSTOMERS, json=_new_customer(), headers=auth.admin_headers())


def test_veto_with_bad_request_is_400(client, auth, events, register_plugin):
    # given a plugin that refuses sign-ups as bad requests
    # when an admin creates a customer
    response = _create_vetoed(
        client, auth, register_plugin, BadRequest("Customers from this region are not served.")
    )
    # then the client gets its status and message, and nothing is written
    _assert_envelope(response, 400, "Customers from this region are not served.")
    _assert_nothing_created(client, auth, events)


def test_veto_with_validation_error_is_400_with_its_fields(client, auth, events, register_plugin):
    # given a plugin that refuses an email domain, naming the field
    error = ValidationError(
        "Invalid email: this domain is not accepted.",
        [{"field": "email", "message": "This domain is not accepted."}],
    )
    # when an admin creates a customer
    response = _create_vetoed(client, auth, register_plugin, error)
    # then the client gets the status, message and field errors, and nothing is written
    _assert_envelope(
        response,
        400,
        "Invalid email: this domain is not accepted.",
        [{"field": "email", "message": "This domain is not accepted."}],
    )
    _assert_nothing_created(client, auth, events)


def test_veto_with_unauthorized_is_401(client, auth, events, register_plugin):
    # given a plugin that demands stronger credentials
    error = Unauthorized("A second factor is required to create customers.")
    # when an admin creates a customer
    response = _create_vetoed(client, auth, register_plugin, error)
    # then the client gets a 401 with the challenge header, and nothing is written
    _assert_envelope(response, 401, "A second factor is required to create customers.")
    assert response.headers["WWW-Authenticate"] == "Bearer"
    _assert_nothing_created(client, auth, events)


def test_veto_with_forbidden_is_403(client, auth, events, register_plugin):
    # given a plugin that forbids creations for now
    error = Forbidden("Customer creation is frozen during the audit.")
    # when an admin creates a customer
    response = _create_vetoed(client, auth, register_plugin, error)
    # then the client gets its status and message, and nothing is written
    _assert_envelope(response, 403, "Customer creation is frozen during the audit.")
    _assert_nothing_created(client, auth, events)


def test_veto_with_not_found_is_404(client, auth, events, register_plugin):
    # given a plugin that looks up a referral that does not exist
    error = NotFound("The referral code was not found.")
    # when an admin creates a customer
    response = _create_vetoed(client, auth, register_plugin, error)
    # then the client gets its status and message, and nothing is written
    _assert_envelope(response, 404, "The referral code was not found.")
    _assert_nothing_created(client, auth, events)


def test_veto_with_conflict_is_409(client, auth, events, register_plugin):
    # given a plugin that finds the customer already in a remote CRM
    error = Conflict("This customer already exists in the CRM.")
    # when an admin creates a customer
    response = _create_vetoed(client, auth, register_plugin, error)
    # then the client gets its status and message, and nothing is written
    _assert_envelope(response, 409, "This customer already exists in the CRM.")
    _assert_nothing_created(client, auth, events)


def test_veto_with_too_many_requests_is_429(client, auth, events, register_plugin):
    # given a plugin that throttles creations
    error = TooManyRequests("Too many customers created this minute.")
    # when an admin creates a customer
    response = _create_vetoed(client, auth, register_plugin, error)
    # then the client gets its status and message, and nothing is written
    _assert_envelope(response, 429, "Too many customers created this minute.")
    _assert_nothing_created(client, auth, events)


@pytest.mark.parametrize(
    "error_class",
    [BadRequest, ValidationError, Unauthorized, Forbidden, NotFound, Conflict, TooManyRequests],
)
def test_veto_without_a_message_gets_the_class_default(
    client, auth, events, register_plugin, error_class
):
    # given a plugin that vetoes without saying why
    # when an admin creates a customer
    response = _create_vetoed(client, auth, register_plugin, error_class())
    # then the client gets the class's status and default message, and nothing is written
    _assert_envelope(response, error_class.status, error_class.default_message)
    _assert_nothing_created(client, auth, events)
