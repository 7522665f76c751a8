"""docs/api.md, "Wire format", the wire format: how bodies are read, unknown fields, trimming,
uuids in paths, request ids and timestamps, against the real routes."""

from __future__ import annotations

import io
import logging
import re
import uuid

import pytest

CUSTOMERS = "/api/customers"
ADMIN_TOKENS = "/api/user/tokens"
TIMESTAMP = re.compile(r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d$")
CANONICAL_UUID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")
REQUEST_ID = re.compile(r"^[A-Za-z0-9._:\-]{1,128}$")
RAW_BODY = (
    '{"email": "jane.doe@example.com", "password": "jane-password-1", "full_name": "Jane Doe"}'
)
FORM_415 = {
    "error": {
        "status": 415,
        "message": "Send the body as JSON with Content-Type: application/json.",
    }
}
NOT_JSON = {"error": {"status": 400, "message": "The request body is not valid JSON."}}
NOT_AN_OBJECT = {"error": {"status": 400, "message": "The request body must be a JSON object."}}
NO_ROUTE = {"error": {"status": 404, "message": "No resource lives at this address."}}
MISSING = "Missing data for required field."
TOO_LARGE = {"error": {"status": 413, "message": "The request body is too large."}}
TOO_DEEP = {
    "error": {
        "status": 400,
        "message": "The request body nests arrays and objects more than 32 levels deep.",
    }
}


def _new_customer(**overrides) -> dict:
    return {
        "email": "jane.doe@example.com",
        "password": "jane-password-1",
        "full_name": "Jane Doe",
        **overrides,
    }


def _customer_total(client, auth) -> int:
    response = client.get(CUSTOMERS, headers=auth.admin_headers())
    assert response.status_code == 200, response.json
    return response.json["data"]["total"]


def _assert_nothing_created(client, auth, events) -> None:
    assert _customer_total(client, auth) == 0
    assert events() == []


def _read(client, auth, customer_uuid: str) -> dict:
    response = client.get(f"{CUSTOMERS}/{customer_uuid}", headers=auth.admin_headers())
    assert response.status_code == 200, response.json
    return response.json["data"]


# --- body reading ----------------------------------------------------------------


@pytest.mark.parametrize(
    "content_type",
    ["application/json", "application/json; charset=utf-8", "application/merchant+json"],
)
def test_json_content_types_are_read_as_json(client, auth, events, content_type):
    # given a JSON body labelled with a JSON content type
    # when an admin creates a customer with it
    response = client.post(
        CUSTOMERS, data=RAW_BODY, content_type=content_type, headers=auth.admin_headers()
    )
    # then the body was read
    assert response.status_code == 201, response.json
    assert response.json["data"]["email"] == "jane.doe@example.com"
    assert response.json["data"]["full_name"] == "Jane Doe"
    assert [name for name, _ in events()] == ["customer_registered"]


def test_json_body_without_content_type_is_read_as_json(client, auth, events):
    # given the seed's curl line: --data-raw '<json>' and no Content-Type
    # when an admin creates a customer with it
    response = client.post(CUSTOMERS, data=RAW_BODY, headers=auth.admin_headers())
    # then it works verbatim
    assert response.status_code == 201, response.json
    assert response.json["data"]["email"] == "jane.doe@example.com"
    assert [name for name, _ in events()] == ["customer_registered"]


def test_json_body_with_form_content_type_is_read_as_json(client, auth, events):
    # given a JSON body sent as application/x-www-form-urlencoded (curl's default -d)
    # when an admin creates a customer with it
    response = client.post(
        CUSTOMERS,
        data=RAW_BODY,
        content_type="application/x-www-form-urlencoded",
        headers=auth.admin_headers(),
    )
    # then it is read as JSON
    assert response.status_code == 201, response.json
    assert response.json["data"]["email"] == "jane.doe@example.com"
    assert [name for name, _ in events()] == ["customer_registered"]


def test_admin_login_reads_json_body_without_content_type(client, auth):
    # given an admin user
    auth.create_admin()
    # when it logs in with the seed's curl line (no Content-Type)
    response = client.post(
        ADMIN_TOKENS, data='{"email": "admin@example.com", "password": "admin-password-1"}'
    )
    # then it gets its tokens
    assert response.status_code == 200, response.json
    assert set(response.json["data"]) == {"accessToken", "refreshToken"}


def test_update_reads_json_body_without_content_type(client, auth, events):
    # given a customer
    customer = auth.create_customer()
    # when an admin updates it with a JSON body and no Content-Type
    response = client.patch(
        f"{CUSTOMERS}/{customer['uuid']}",
        data='{"full_name": "Johnny Smith"}',
        headers=auth.admin_headers(),
    )
    # then the update is applied
    assert response.status_code == 200, response.json
    assert response.json["data"]["full_name"] == "Johnny Smith"
    assert [name for name, _ in events()] == ["customer_registered", "customer_updated"]


@pytest.mark.parametrize("body", ['{"email": ', "{'email': 'a@example.com'}", "email=a", ""])
def test_invalid_json_with_json_content_type_is_400(client, auth, events, body):
    # given a body labelled JSON that is not valid JSON
    # when an admin creates a customer with it
    response = client.post(
        CUSTOMERS, data=body, content_type="application/json", headers=auth.admin_headers()
    )
    # then it is refused and nothing is written
    assert response.status_code == 400
    assert response.json == NOT_JSON
    _assert_nothing_created(client, auth, events)


def test_form_body_without_content_type_is_415(client, auth, events):
    # given a real form body and no Content-Type
    # when an admin creates a customer with it
    response = client.post(CUSTOMERS, data="a=b", headers=auth.admin_headers())
    # then it is an unsupported media type and nothing is written
    assert response.status_code == 415
    assert response.json == FORM_415
    _assert_nothing_created(client, auth, events)


def test_form_body_with_form_content_type_is_415(client, auth, events):
    # given a real form body labelled as a form
    # when an admin creates a customer with it
    response = client.post(
        CUSTOMERS,
        data="email=jane.doe%40example.com&password=jane-password-1&full_name=Jane",
        content_type="application/x-www-form-urlencoded",
        headers=auth.admin_headers(),
    )
    # then it is an unsupported media type and nothing is written
    assert response.status_code == 415
    assert response.json == FORM_415
    _assert_nothing_created(client, auth, events)


def test_form_body_on_update_is_415(client, auth, events):
    # given a customer
    customer = auth.create_customer()
    # when an admin updates it with a form body
    response = client.patch(
        f"{CUSTOMERS}/{customer['uuid']}",
        data="full_name=Johnny",
        content_type="application/x-www-form-urlencoded",
        headers=auth.admin_headers(),
    )
    # then it is refused and the customer is unchanged
    assert response.status_code == 415
    assert response.json == FORM_415
    assert _read(client, auth, customer["uuid"])["full_name"] == "John Smith"
    assert [name for name, _ in events()] == ["customer_registered"]


@pytest.mark.parametrize(
    "content_type",
    ["text/plain", "multipart/form-data; boundary=xyz", "application/xml", "text/json"],
)
def test_other_content_types_are_415_even_with_a_json_body(client, auth, events, content_type):
    # given a valid JSON body labelled with a content type that is not JSON
    # when an admin creates a customer with it
    response = client.post(
        CUSTOMERS, data=RAW_BODY, content_type=content_type, headers=auth.admin_headers()
    )
    # then it is an unsupported media type and nothing is written
    assert response.status_code == 415
    assert response.json == FORM_415
    _assert_nothing_created(client, auth, events)


@pytest.mark.parametrize("body", ["[]", f"[{RAW_BODY}]", '"text"', "42", "1.5", "null", "true"])
def test_json_that_is_not_an_object_is_400(client, auth, events, body):
    # given valid JSON that is not an object
    # when an admin creates a customer with it
    response = client.post(
        CUSTOMERS, data=body, content_type="application/json", headers=auth.admin_headers()
    )
    # then it is refused and nothing is written
    assert response.status_code == 400
    assert response.json == NOT_AN_OBJECT
    _assert_nothing_created(client, auth, events)


@pytest.mark.parametrize("body", ["[]", '"text"', "7", "null"])
def test_json_that_is_not_an_object_is_400_without_content_type(client, auth, events, body):
    # given valid JSON that is not an object, sent the curl way
    # when an admin creates a customer with it
    response = client.post(CUSTOMERS, data=body, headers=auth.admin_headers())
    # then it is refused as invalid input, not as a media type
    assert response.status_code == 400
    assert response.json == NOT_AN_OBJECT
    _assert_nothing_created(client, auth, events)


def test_json_that_is_not_an_object_is_400_on_update(client, auth, events):
    # given a customer
    customer = auth.create_customer()
    # when an admin updates it with a JSON list
    response = client.patch(
        f"{CUSTOMERS}/{customer['uuid']}",
        data='[{"full_name": "Johnny"}]',
        content_type="application/json",
        headers=auth.admin_headers(),
    )
    # then it is refused and the customer is unchanged
    assert response.status_code == 400
    assert response.json == NOT_AN_OBJECT
    assert _read(client, auth, customer["uuid"])["full_name"] == "John Smith"
    assert [name for name, _ in events()] == ["customer_registered"]


def test_body_over_max_content_length_is_413(client, auth, events, make_app):
    # given a service that accepts bodies of at most 1024 bytes
    small = make_app(MAX_CONTENT_LENGTH=1024).test_client()
    body = _new_customer(full_name="x" * 2000)
    # when an admin creates a customer with a bigger body
    response = small.post(CUSTOMERS, json=body, headers=auth.admin_headers())
    # then it is too large and nothing is written
    assert response.status_code == 413
    assert response.json == {"error": {"status": 413, "message": "The request body is too large."}}
    _assert_nothing_created(client, auth, events)


def test_body_of_exactly_max_content_length_is_read(client, auth, events, make_app):
    # given a service that accepts bodies of at most 1024 bytes
    small = make_app(MAX_CONTENT_LENGTH=1024).test_client()
    body = RAW_BODY.ljust(1024)  # trailing white space is still valid JSON
    assert len(body.encode()) == 1024
    # when an admin creates a customer with a body of exactly that size
    response = small.post(
        CUSTOMERS, data=body, content_type="application/json", headers=auth.admin_headers()
    )
    # then it is read
    assert response.status_code == 201, response.json
    assert [name for name, _ in events()] == ["customer_registered"]


def test_default_body_limit_is_one_mebibyte(client, auth, events):
    # given the default configuration
    # when an admin sends a body one byte over 1 MiB
    body = RAW_BODY.ljust(1024 * 1024 + 1)
    response = client.post(
        CUSTOMERS, data=body, content_type="application/json", headers=auth.admin_headers()
    )
    # then it is too large and nothing is written
    assert response.status_code == 413
    assert response.json == {"error": {"status": 413, "message": "The request body is too large."}}
    _assert_nothing_created(client, auth, events)


def _chunked(client, path: str, body: bytes, headers=None):
    """POST ``body`` as a stream without Content-Length, as a chunked request
    reaches the app under gunicorn (or Werkzeug's server): they announce a
    stream they end themselves with ``wsgi.input_terminated``."""
    return client.post(
        path,
        input_stream=io.BytesIO(body),
        content_type="application/json",
        headers={"Transfer-Encoding": "chunked", **(headers or {})},
        environ_overrides={"wsgi.input_terminated": True},
    )


def test_chunked_body_over_max_content_length_is_413(client, auth, events, make_app):
    # given a service that accepts bodies of at most 1024 bytes
    small = make_app(MAX_CONTENT_LENGTH=1024).test_client()
    body = RAW_BODY.ljust(1025).encode()
    # when an admin creates a customer with a bigger body sent chunked
    response = _chunked(small, CUSTOMERS, body, auth.admin_headers())
    # then it is too large, not cut short into invalid JSON, and nothing is written
    assert response.status_code == 413
    assert response.json == TOO_LARGE
    _assert_nothing_created(client, auth, events)


def test_chunked_body_of_exactly_max_content_length_is_read(client, auth, events, make_app):
    # given a service that accepts bodies of at most 1024 bytes
    small = make_app(MAX_CONTENT_LENGTH=1024).test_client()
    body = RAW_BODY.ljust(1024).encode()
    # when an admin creates a customer with a body of exactly that size, sent chunked
    response = _chunked(small, CUSTOMERS, body, auth.admin_headers())
    # then it is read
    assert response.status_code == 201, response.json
    assert [name for name, _ in events()] == ["customer_registered"]


def _nested(depth: int) -> str:
    """A create body with an ``extra`` field of arrays nested so that the
    whole body is ``depth`` levels deep (the body itself being the first)."""
    inner = depth - 1
    return RAW_BODY[:-1] + ', "extra": ' + "[" * inner + "]" * inner + "}"


@pytest.mark.parametrize(
    ("path", "anonymous"),
    [
        (CUSTOMERS, True),
        (CUSTOMERS, False),
        (ADMIN_TOKENS, True),
        ("/api/customer/tokens", True),
        ("/api/customers/reset-password", True),
        ("/api/customers/password", True),
        ("/api/graphql", True),
    ],
)
def test_body_nested_a_thousand_levels_is_400_without_a_traceback(
    client, auth, events, caplog, path, anonymous
):
    # given a JSON body nested 1,000 levels deep
    headers = {} if anonymous else auth.admin_headers()
    body = _nested(1000)
    # when it is posted
    response = client.post(path, data=body, content_type="application/json", headers=headers)
    # then it is a 400, no fault is logged, and nothing is written
    assert response.status_code == 400
    assert response.json == TOO_DEEP
    assert [r for r in caplog.records if r.levelno >= logging.ERROR or r.exc_info] == []
    _assert_nothing_created(client, auth, events)


def test_body_nested_a_thousand_levels_on_update_is_400(client, auth, events):
    # given a customer, and a body nested 1,000 levels deep without Content-Type
    customer = auth.create_customer()
    body = '{"full_name": ' + "[" * 999 + "]" * 999 + "}"
    # when an admin updates the customer with it
    response = client.patch(
        f"{CUSTOMERS}/{customer['uuid']}", data=body, headers=auth.admin_headers()
    )
    # then it is a 400 and the customer is unchanged
    assert response.status_code == 400
    assert response.json == TOO_DEEP
    assert _read(client, auth, customer["uuid"])["full_name"] == "John Smith"
    assert [name for name, _ in events()] == ["customer_registered"]


def test_body_nested_33_levels_is_400(client, auth, events):
    # given a body one level deeper than the limit
    # when an admin creates a customer with it
    response = client.post(
        CUSTOMERS, data=_nested(33), content_type="application/json", headers=auth.admin_headers()
    )
    # then it is refused for its depth
    assert response.status_code == 400
    assert response.json == TOO_DEEP
    _assert_nothing_created(client, auth, events)


def test_body_nested_32_levels_is_read(client, auth, events):
    # given a body exactly as deep as the limit
    # when an admin creates a customer with it
    response = client.post(
        CUSTOMERS, data=_nested(32), content_type="application/json", headers=auth.admin_headers()
    )
    # then it is read, and refused only for its unknown field
    assert response.status_code == 400
    assert response.json == {
        "error": {
            "status": 400,
            "message": "Unknown field(s): extra.",
            "errors": [{"field": "extra", "message": "Unknown field."}],
        }
    }
    _assert_nothing_created(client, auth, events)


def test_brackets_inside_strings_do_not_count_as_nesting(client, auth):
    # given a name of 60 brackets, with backslashes and escaped quotes among them
    name = '[{\\"' * 20 + "]}" * 10
    # when an admin creates a customer with it
    response = client.post(
        CUSTOMERS, json=_new_customer(full_name=name), headers=auth.admin_headers()
    )
    # then it is stored as sent
    assert response.status_code == 201, response.json
    assert response.json["data"]["full_name"] == name


@pytest.mark.parametrize("literal", ["NaN", "Infinity", "-Infinity"])
def test_nan_and_infinity_literals_are_400(client, auth, events, literal):
    # given JSON using a literal that Python accepts but JSON does not
    body = RAW_BODY[:-1] + f', "status": {literal}}}'
    # when an admin creates a customer with it
    response = client.post(
        CUSTOMERS, data=body, content_type="application/json", headers=auth.admin_headers()
    )
    # then it is not valid JSON and nothing is written
    assert response.status_code == 400
    assert response.json == NOT_JSON
    _assert_nothing_created(client, auth, events)


def test_invalid_utf8_is_400(client, auth, events):
    # given a JSON body whose bytes are not UTF-8
    body = b'{"email": "jane.doe@example.com", "password": "jane-password-1", "full_name": "J\xff"}'
    # when an admin creates a customer with it
    response = client.post(
        CUSTOMERS, data=body, content_type="application/json", headers=auth.admin_headers()
    )
    # then it is not valid JSON and nothing is written
    assert response.status_code == 400
    assert response.json == NOT_JSON
    _assert_nothing_created(client, auth, events)


def test_empty_body_without_content_type_reads_as_empty_object(client, auth, events):
    # given no body and no Content-Type
    # when an admin creates a customer
    response = client.post(CUSTOMERS, headers=auth.admin_headers())
    # then the body is {} and the required fields are named
    assert response.status_code == 400
    assert response.json == {
        "error": {
            "status": 400,
            "message": f"Invalid email: {MISSING}",
            "errors": [
                {"field": "email", "message": MISSING},
                {"field": "password", "message": MISSING},
                {"field": "full_name", "message": MISSING},
            ],
        }
    }
    _assert_nothing_created(client, auth, events)


def test_non_ascii_text_round_trips_in_utf8(client, auth):
    # given a name outside ASCII, sent as UTF-8 without a Content-Type
    name = "Zoë Ølsen 山田"
    body = RAW_BODY.replace("Jane Doe", name).encode("utf-8")
    # when an admin creates the customer
    response = client.post(CUSTOMERS, data=body, headers=auth.admin_headers())
    # then the answer is JSON in UTF-8 and the name is stored as it was sent
    assert response.status_code == 201, response.json
    assert response.mimetype == "application/json"
    assert response.json["data"]["full_name"] == name
    assert _read(client, auth, response.json["data"]["uuid"])["full_name"] == name


# --- unknown fields --------------------------------------------------------------


def test_unknown_fields_on_create_are_400_naming_each(client, auth, events):
    # given a create body with two fields the service does not know
    body = _new_customer(nickname="JD", favourite_colour="blue")
    # when an admin creates the customer
    response = client.post(CUSTOMERS, json=body, headers=auth.admin_headers())
    # then it is refused, the message names both, and each is listed with its field
    assert response.status_code == 400
    error = response.json["error"]
    assert set(error) == {"status", "message", "errors"}
    assert error["status"] == 400
    assert error["message"].startswith("Unknown field(s): ")
    assert "nickname" in error["message"]
    assert "favourite_colour" in error["message"]
    assert sorted(error["errors"], key=lambda e: e["field"]) == [
        {"field": "favourite_colour", "message": "Unknown field."},
        {"field": "nickname", "message": "Unknown field."},
    ]
    _assert_nothing_created(client, auth, events)


def test_unknown_field_on_update_is_400_naming_it(client, auth, events):
    # given a customer
    customer = auth.create_customer()
    # when an admin updates it with a known and an unknown field
    response = client.patch(
        f"{CUSTOMERS}/{customer['uuid']}",
        json={"full_name": "Johnny", "nickname": "JJ"},
        headers=auth.admin_headers(),
    )
    # then it is refused and nothing changes
    assert response.status_code == 400
    assert response.json == {
        "error": {
            "status": 400,
            "message": "Unknown field(s): nickname.",
            "errors": [{"field": "nickname", "message": "Unknown field."}],
        }
    }
    assert _read(client, auth, customer["uuid"])["full_name"] == "John Smith"
    assert [name for name, _ in events()] == ["customer_registered"]


def test_unknown_field_on_admin_login_is_400_naming_it(client, auth):
    # given an admin user
    auth.create_admin()
    # when it logs in with an extra field
    response = client.post(
        ADMIN_TOKENS,
        json={"email": "admin@example.com", "password": "admin-password-1", "remember": True},
    )
    # then it is refused, naming the field
    assert response.status_code == 400
    assert response.json == {
        "error": {
            "status": 400,
            "message": "Unknown field(s): remember.",
            "errors": [{"field": "remember", "message": "Unknown field."}],
        }
    }


# --- trimming --------------------------------------------------------------------


def test_string_fields_are_trimmed_on_create(client, auth):
    # given a name and an email with surrounding white space
    body = _new_customer(full_name="  John  ", email="  john@example.com\t")
    # when an admin creates the customer
    response = client.post(CUSTOMERS, json=body, headers=auth.admin_headers())
    # then both are stored trimmed
    assert response.status_code == 201, response.json
    assert response.json["data"]["full_name"] == "John"
    assert response.json["data"]["email"] == "john@example.com"
    stored = _read(client, auth, response.json["data"]["uuid"])
    assert (stored["full_name"], stored["email"]) == ("John", "john@example.com")


def test_string_fields_are_trimmed_on_update(client, auth):
    # given a customer
    customer = auth.create_customer()
    # when an admin renames it with surrounding white space
    response = client.patch(
        f"{CUSTOMERS}/{customer['uuid']}",
        json={"full_name": "\n Johnny Smith  "},
        headers=auth.admin_headers(),
    )
    # then the name is stored trimmed
    assert response.status_code == 200, response.json
    assert response.json["data"]["full_name"] == "Johnny Smith"
    assert _read(client, auth, customer["uuid"])["full_name"] == "Johnny Smith"


def test_name_of_only_white_space_is_400(client, auth, events):
    # given a name that is empty once trimmed
    body = _new_customer(full_name="   ")
    # when an admin creates the customer
    response = client.post(CUSTOMERS, json=body, headers=auth.admin_headers())
    # then it is refused naming full_name, and nothing is written
    assert response.status_code == 400
    assert response.json["error"]["status"] == 400
    assert [e["field"] for e in response.json["error"]["errors"]] == ["full_name"]
    _assert_nothing_created(client, auth, events)


def test_password_is_not_trimmed(client, auth):
    # given a customer whose password has surrounding spaces
    auth.create_customer(email="space@example.com", password="  spaced-pass-1  ")
    # when it logs in with the spaces
    response = client.post(
        "/api/customer/tokens",
        json={"email": "space@example.com", "password": "  spaced-pass-1  "},
    )
    # then it gets its tokens
    assert response.status_code == 200, response.json
    assert set(response.json["data"]) == {"accessToken", "refreshToken"}


def test_password_without_its_spaces_does_not_log_in(client, auth):
    # given a customer whose password has surrounding spaces
    auth.create_customer(email="space@example.com", password="  spaced-pass-1  ")
    # when it logs in without them
    response = client.post(
        "/api/customer/tokens", json={"email": "space@example.com", "password": "spaced-pass-1"}
    )
    # then the password does not match
    assert response.status_code == 401
    assert response.json == {"error": {"status": 401, "message": "Invalid email or password"}}


# --- uuids in paths --------------------------------------------------------------


@pytest.mark.parametrize(
    "spell",
    [
        pytest.param(lambda u: str(u), id="dashed-lower"),
        pytest.param(lambda u: str(u).upper(), id="dashed-upper"),
        pytest.param(lambda u: u.hex, id="hex-lower"),
        pytest.param(lambda u: u.hex.upper(), id="hex-upper"),
        pytest.param(lambda u: u.hex[:16].upper() + u.hex[16:], id="hex-mixed"),
    ],
)
def test_uuid_in_path_is_accepted_in_every_form(client, auth, spell):
    # given a customer
    customer = auth.create_customer()
    written = spell(uuid.UUID(customer["uuid"]))
    # when an admin reads it with its uuid written another way
    response = client.get(f"{CUSTOMERS}/{written}", headers=auth.admin_headers())
    # then it is the same customer, its uuid given in canonical form
    assert response.status_code == 200, response.json
    assert response.json["data"]["customer_id"] == customer["customer_id"]
    assert response.json["data"]["uuid"] == customer["uuid"]


def test_response_uuid_is_canonical_lower_dashed(client, auth):
    # given / when an admin creates a customer
    response = client.post(CUSTOMERS, json=_new_customer(), headers=auth.admin_headers())
    # then its uuid is lower-case and dashed, in the body, the Location and the links
    assert response.status_code == 201, response.json
    customer = response.json["data"]
    assert CANONICAL_UUID.match(customer["uuid"])
    assert response.headers["Location"] == f"/api/customers/{customer['uuid']}"
    assert customer["links"][1]["href"] == f"/admin/customers/edit/{customer['uuid']}"


def test_update_accepts_upper_case_uuid(client, auth):
    # given a customer
    customer = auth.create_customer()
    # when an admin updates it through its upper-case uuid
    response = client.patch(
        f"{CUSTOMERS}/{customer['uuid'].upper()}",
        json={"full_name": "Johnny"},
        headers=auth.admin_headers(),
    )
    # then it is updated, and the uuid comes back canonical
    assert response.status_code == 200, response.json
    assert response.json["data"]["uuid"] == customer["uuid"]
    assert response.json["data"]["full_name"] == "Johnny"


def test_delete_accepts_32_hex_digit_uuid(client, auth):
    # given a customer
    customer = auth.create_customer()
    # when an admin deletes it through its uuid as 32 upper-case hex digits
    response = client.delete(
        f"{CUSTOMERS}/{uuid.UUID(customer['uuid']).hex.upper()}", headers=auth.admin_headers()
    )
    # then it is deleted, and the uuid comes back canonical
    assert response.status_code == 200, response.json
    assert response.json["data"]["uuid"] == customer["uuid"]
    assert _customer_total(client, auth) == 0


NOT_UUIDS = [
    pytest.param(lambda u: "abc", id="abc"),
    pytest.param(lambda u: "123", id="digits"),
    pytest.param(lambda u: u + "0", id="dashed-one-char-too-many"),
    pytest.param(lambda u: u.replace("-", "") + "0", id="hex-one-char-too-many"),
    pytest.param(lambda u: u[:-1], id="one-char-too-few"),
    pytest.param(lambda u: "g" + u[1:], id="not-hex"),
    pytest.param(lambda u: "{" + u + "}", id="braces"),
    pytest.param(lambda u: "urn:uuid:" + u, id="urn"),
    pytest.param(lambda u: "../x", id="dot-dot"),
    pytest.param(lambda u: "..%2Fx", id="encoded-dot-dot"),
]


@pytest.mark.parametrize("spell", NOT_UUIDS)
@pytest.mark.parametrize("method", ["get", "patch", "delete"])
def test_non_uuid_in_path_is_404(client, auth, events, spell, method):
    # given a customer
    customer = auth.create_customer()
    # when an admin addresses something that is not a uuid where one belongs
    call = getattr(client, method)
    kwargs = {"json": {"full_name": "Johnny"}} if method == "patch" else {}
    response = call(
        f"{CUSTOMERS}/{spell(customer['uuid'])}", headers=auth.admin_headers(), **kwargs
    )
    # then it is a 404 in the envelope, and the customer is untouched
    assert response.status_code == 404
    assert response.json == NO_ROUTE
    assert _read(client, auth, customer["uuid"])["full_name"] == "John Smith"
    assert [name for name, _ in events()] == ["customer_registered"]


@pytest.mark.parametrize("method", ["get", "patch", "delete"])
def test_unknown_uuid_in_path_is_404(client, auth, events, method):
    # given a customer, and a well-formed uuid that is not its
    customer = auth.create_customer()
    call = getattr(client, method)
    kwargs = {"json": {"full_name": "Johnny"}} if method == "patch" else {}
    # when an admin addresses the unknown uuid
    response = call(f"{CUSTOMERS}/{uuid.uuid4()}", headers=auth.admin_headers(), **kwargs)
    # then it is a 404 and nothing is touched
    assert response.status_code == 404
    assert response.json == {"error": {"status": 404, "message": "Customer not found."}}
    assert _read(client, auth, customer["uuid"])["full_name"] == "John Smith"
    assert [name for name, _ in events()] == ["customer_registered"]


# --- request ids -----------------------------------------------------------------


def test_success_response_carries_a_generated_request_id(client, auth):
    # given a customer
    customer = auth.create_customer()
    # when an admin reads it without sending a request id
    response = client.get(f"{CUSTOMERS}/{customer['uuid']}", headers=auth.admin_headers())
    # then the answer carries one
    assert response.status_code == 200
    assert REQUEST_ID.match(response.headers["X-Request-ID"])


def test_create_response_carries_a_generated_request_id(client, auth):
    # given / when an admin creates a customer without sending a request id
    response = client.post(CUSTOMERS, json=_new_customer(), headers=auth.admin_headers())
    # then the answer carries one
    assert response.status_code == 201
    assert REQUEST_ID.match(response.headers["X-Request-ID"])


def test_error_response_carries_a_generated_request_id(client):
    # given / when a client calls a route that does not exist
    response = client.get("/api/nope")
    # then the error carries a request id too
    assert response.status_code == 404
    assert response.json == NO_ROUTE
    assert REQUEST_ID.match(response.headers["X-Request-ID"])


def test_generated_request_ids_differ_between_requests(client):
    # given / when two requests send no request id
    first = client.get("/api/nope").headers["X-Request-ID"]
    second = client.get("/api/nope").headers["X-Request-ID"]
    # then each gets its own
    assert first != second


@pytest.mark.parametrize("sent", ["abc-123", "req_1.2:3", "A" * 128])
def test_client_request_id_is_echoed(client, auth, sent):
    # given a customer
    customer = auth.create_customer()
    # when an admin reads it sending a well-formed request id
    headers = {**auth.admin_headers(), "X-Request-ID": sent}
    response = client.get(f"{CUSTOMERS}/{customer['uuid']}", headers=headers)
    # then the same id comes back
    assert response.status_code == 200
    assert response.headers["X-Request-ID"] == sent


def test_client_request_id_is_echoed_on_errors(client):
    # given / when a client sends a request id to a route that does not exist
    response = client.get("/api/nope", headers={"X-Request-ID": "trace-42"})
    # then the error carries the same id
    assert response.status_code == 404
    assert response.json == NO_ROUTE
    assert response.headers["X-Request-ID"] == "trace-42"


@pytest.mark.parametrize(
    "sent",
    [
        pytest.param("has spaces in it", id="spaces"),
        pytest.param("A" * 129, id="129-chars"),
        pytest.param("semi;colon", id="semicolon"),
        pytest.param("<script>", id="markup"),
    ],
)
def test_malformed_request_id_is_replaced(client, auth, sent):
    # given a customer
    customer = auth.create_customer()
    # when an admin reads it sending a malformed request id
    headers = {**auth.admin_headers(), "X-Request-ID": sent}
    response = client.get(f"{CUSTOMERS}/{customer['uuid']}", headers=headers)
    # then a well-formed id of the service's own comes back instead
    assert response.status_code == 200
    assert response.headers["X-Request-ID"] != sent
    assert REQUEST_ID.match(response.headers["X-Request-ID"])


def test_malformed_request_id_is_replaced_on_errors(client):
    # given / when a client sends a malformed request id to a route that does not exist
    response = client.get("/api/nope", headers={"X-Request-ID": "bad id"})
    # then the error carries a generated id
    assert response.status_code == 404
    assert response.headers["X-Request-ID"] != "bad id"
    assert REQUEST_ID.match(response.headers["X-Request-ID"])


# --- timestamps ------------------------------------------------------------------


def _assert_timestamps(customer: dict) -> None:
    assert TIMESTAMP.match(customer["created_at"]), customer["created_at"]
    assert TIMESTAMP.match(customer["updated_at"]), customer["updated_at"]


def test_timestamps_on_create_are_seconds_without_zone(client, auth):
    # given / when an admin creates a customer
    customer = auth.create_customer()
    # then its timestamps read YYYY-MM-DD HH:MM:SS
    _assert_timestamps(customer)


def test_timestamps_on_read_and_list_are_seconds_without_zone(client, auth):
    # given a customer
    customer = auth.create_customer()
    # when an admin reads it, alone and in the list
    one = _read(client, auth, customer["uuid"])
    listed = client.get(CUSTOMERS, headers=auth.admin_headers()).json["data"]["items"]
    # then every timestamp reads YYYY-MM-DD HH:MM:SS
    _assert_timestamps(one)
    assert len(listed) == 1
    _assert_timestamps(listed[0])


def test_timestamps_on_update_and_delete_are_seconds_without_zone(client, auth):
    # given a customer
    customer = auth.create_customer()
    path = f"{CUSTOMERS}/{customer['uuid']}"
    # when an admin updates it, then deletes it
    updated = client.patch(path, json={"full_name": "Johnny"}, headers=auth.admin_headers())
    deleted = client.delete(path, headers=auth.admin_headers())
    # then both answers carry timestamps as YYYY-MM-DD HH:MM:SS
    assert (updated.status_code, deleted.status_code) == (200, 200)
    _assert_timestamps(updated.json["data"])
    _assert_timestamps(deleted.json["data"])


def test_no_cookie_is_set_even_when_one_is_sent(client, auth):
    client.set_cookie("session", "eyJ4IjoxfQ.forged.signature")

    response = client.get(CUSTOMERS, headers=auth.admin_headers())

    assert response.status_code == 200, response.json
    assert "Set-Cookie" not in response.headers


def test_the_request_session_is_flasks_null_session(app):
    from flask import session
    from flask.sessions import NullSession

    with app.test_request_context("/api/customers"):
        app.preprocess_request()
        assert isinstance(session, NullSession)
        with pytest.raises(RuntimeError):
            session["x"] = 1
