"""The OpenAPI document at /api/openapi.json and the docs page at /api/docs.

The document is generated from the routes' marshmallow schemas; these tests
hold it to the service: it is valid OpenAPI 3, it lists every route under
/api with its methods (and nothing else), it documents the error envelope, the
token schemes and the statuses each route can answer, its examples (the
seed's) match its own schemas, and real answers match the schemas it
documents. The docs page and its assets come from the service itself.
"""

from __future__ import annotations

import re
from copy import deepcopy
from html.parser import HTMLParser

import pytest
from openapi_schema_validator import OAS30Validator
from openapi_spec_validator import validate

from tests.conftest import ADMIN_EMAIL

METHODS = {"get", "post", "put", "patch", "delete"}
# Endpoints under /api that are not operations: the document itself, the page, its assets.
NOT_OPERATIONS = {"api-docs.openapi_json", "api-docs.openapi_swagger_ui", "openapi_assets.static"}
ADMIN = [{"adminToken": []}]
CUSTOMER = [{"customerToken": []}]
EITHER = [{"adminToken": []}, {"customerToken": []}]
PUBLIC: list = []
RATE_LIMITED = [
    ("post", "/api/user/tokens"),
    ("post", "/api/user/token/refresh"),
    ("post", "/api/customer/tokens"),
    ("post", "/api/customer/token/refresh"),
    ("post", "/api/customers"),
    ("post", "/api/customers/reset-password"),
]
ADDRESS = {
    "full_name": "John Smith",
    "address_1": "123 Main St",
    "city": "New York",
    "country": "us",
}


@pytest.fixture
def document(client) -> dict:
    response = client.get("/api/openapi.json")
    assert response.status_code == 200
    return response.json


def operations(document):
    for path, item in document["paths"].items():
        for method, operation in item.items():
            if method in METHODS:
                yield path, method, operation


def resolve(node, document):
    """``node`` with every ``$ref`` replaced by what it points to."""
    if isinstance(node, dict):
        if "$ref" in node:
            target = document
            for part in node["$ref"].removeprefix("#/").split("/"):
                target = target[part]
            return resolve(deepcopy(target), document)
        return {key: resolve(value, document) for key, value in node.items()}
    if isinstance(node, list):
        return [resolve(item, document) for item in node]
    return node


def schema_errors(instance, schema, document) -> list[str]:
    validator = OAS30Validator(
        resolve(schema, document), format_checker=OAS30Validator.FORMAT_CHECKER
    )
    return [f"{list(e.absolute_path)}: {e.message}" for e in validator.iter_errors(instance)]


def documented_body(document, path, method, status) -> dict:
    response = resolve(document["paths"][path][method]["responses"][str(status)], document)
    return response["content"]["application/json"]


def answer_errors(document, path, method, response) -> list[str]:
    """How a real answer departs from what the document says of it."""
    responses = document["paths"][path][method]["responses"]
    if str(response.status_code) not in responses:
        return [f"status {response.status_code} is not documented"]
    schema = documented_body(document, path, method, response.status_code)["schema"]
    return schema_errors(response.json, schema, document)


def operation_doc(document, method, path) -> dict:
    return document["paths"][path][method]


def example_of(document, method, path, status) -> dict:
    return documented_body(document, path, method, status)["example"]


def request_example(document, method, path, name=None) -> dict:
    content = operation_doc(document, method, path)["requestBody"]["content"]["application/json"]
    return content["examples"][name]["value"] if name else content["example"]


# --- the document -----------------------------------------------------------------


def test_the_document_is_served_as_openapi_3_json(client):
    # When the document is requested
    response = client.get("/api/openapi.json")

    # Then it is JSON, OpenAPI 3, named for the service
    assert response.status_code == 200
    assert response.mimetype == "application/json"
    assert response.json["openapi"] == "3.0.3"
    assert response.json["info"]["title"] == "EverShop Customer API"


def test_the_document_is_a_valid_openapi_document(document):
    # When the validator reads it, then it raises nothing
    assert validate(document) is None


def test_every_route_under_api_is_in_the_document_with_its_methods(app, document):
    # Given every rule the app routes under /api (GraphQL included, see docs/api.md)
    wanted = set()
    for rule in app.url_map.iter_rules():
        if rule.rule.startswith("/api/") and rule.endpoint not in NOT_OPERATIONS:
            path = re.sub(r"<(?:[^:<>]+:)?([^<>]+)>", r"{\1}", rule.rule)
            wanted |= {(path, method.lower()) for method in rule.methods - {"HEAD", "OPTIONS"}}

    # Then each path and method is an operation of the document
    documented = {(path, method) for path, method, _ in operations(document)}
    assert wanted - documented == set()
    assert len(wanted) == 52  # 28, the webhook plugin's 8, the lifecycle plugins' 8 and 8


def test_the_document_lists_no_operation_the_service_does_not_route(app, document):
    # Given the rules the app routes
    routed = set()
    for rule in app.url_map.iter_rules():
        path = re.sub(r"<(?:[^:<>]+:)?([^<>]+)>", r"{\1}", rule.rule)
        routed |= {(path, method.lower()) for method in rule.methods}

    # Then nothing in the document is missing from them
    assert {(path, method) for path, method, _ in operations(document)} - routed == set()


def test_every_operation_has_a_summary_and_a_success_answer(document):
    for path, method, operation in operations(document):
        assert operation.get("summary"), (method, path)
        assert any(code.startswith("2") for code in operation["responses"]), (method, path)


def test_the_graphql_endpoints_take_query_variables_and_operation_name(document):
    # When the GraphQL request body is read from the document
    body = resolve(
        operation_doc(document, "post", "/api/graphql")["requestBody"]["content"],
        document,
    )["application/json"]["schema"]

    # Then it is {query, variables, operationName} with the query required
    assert set(body["properties"]) == {"query", "variables", "operationName"}
    assert body["required"] == ["query"]
    assert operation_doc(document, "post", "/api/admin/graphql")["security"] == ADMIN


# --- the error envelope and the statuses -------------------------------------------


def test_the_error_envelope_is_a_component(document):
    schemas = document["components"]["schemas"]

    # Then Error has status, message and errors[] of {field, message}
    assert schemas["Error"]["properties"]["status"]["type"] == "integer"
    assert schemas["Error"]["properties"]["message"]["type"] == "string"
    assert schemas["Error"]["properties"]["errors"] == {
        "type": "array",
        "items": {"$ref": "#/components/schemas/ErrorDetail"},
    }
    assert sorted(schemas["Error"]["required"]) == ["message", "status"]
    assert sorted(schemas["ErrorDetail"]["required"]) == ["field", "message"]
    # And ErrorEnvelope wraps it in "error"
    assert schemas["ErrorEnvelope"]["properties"] == {
        "error": {"$ref": "#/components/schemas/Error"}
    }
    assert schemas["ErrorEnvelope"]["required"] == ["error"]


def test_every_error_answer_is_documented_as_the_envelope(document):
    # Given every non-2xx response of every operation but GraphQL's own 400
    for path, method, operation in operations(document):
        for status, response in operation["responses"].items():
            if status.startswith("2") or (path.endswith("graphql") and status == "400"):
                continue
            # Then it is the shared component for that status, in the envelope
            assert response["$ref"].startswith("#/components/responses/"), (method, path, status)
            name = response["$ref"].rsplit("/", 1)[1]
            body = document["components"]["responses"][name]["content"]["application/json"]
            assert body["schema"] == {"$ref": "#/components/schemas/ErrorEnvelope"}
            assert body["example"]["error"]["status"] == int(status)


def test_the_envelope_documented_is_the_one_the_service_answers(client, document):
    # Given real error answers: a 400 naming fields, a routing 404, a 401
    invalid = client.post("/api/customers", json={"email": "nope"})
    missing = client.get("/api/nowhere")
    unauthenticated = client.get("/api/customers")
    envelope = {"$ref": "#/components/schemas/ErrorEnvelope"}

    # Then each matches the ErrorEnvelope schema
    assert invalid.status_code == 400 and invalid.json["error"]["errors"]
    assert schema_errors(invalid.json, envelope, document) == []
    assert missing.status_code == 404
    assert schema_errors(missing.json, envelope, document) == []
    assert unauthenticated.status_code == 401
    assert schema_errors(unauthenticated.json, envelope, document) == []


def test_every_operation_documents_500_and_no_catch_all(document):
    for path, method, operation in operations(document):
        assert "500" in operation["responses"], (method, path)
        assert "default" not in operation["responses"], (method, path)


def test_operations_with_a_body_document_400_413_and_415(document):
    for path, method, operation in operations(document):
        if "requestBody" in operation:
            assert {"400", "413", "415"} <= set(operation["responses"]), (method, path)


def test_operations_on_a_resource_document_404(document):
    for path, method, operation in operations(document):
        if "{" in path:
            assert "404" in operation["responses"], (method, path)


def test_operations_that_read_a_token_document_401(document):
    for path, method, operation in operations(document):
        if any(operation["security"]):
            assert "401" in operation["responses"], (method, path)


def test_rate_limited_operations_document_429_with_retry_after(document):
    for method, path in RATE_LIMITED:
        assert "429" in operation_doc(document, method, path)["responses"], (method, path)
    too_many = document["components"]["responses"]["TOO_MANY_REQUESTS"]
    assert "Retry-After" in too_many["headers"]


def test_taken_emails_are_documented_as_409(document):
    assert "409" in operation_doc(document, "post", "/api/customers")["responses"]
    assert "409" in operation_doc(document, "patch", "/api/customers/{customer_uuid}")["responses"]
    assert "409" in operation_doc(document, "patch", "/api/customers/me")["responses"]


# --- authentication -----------------------------------------------------------------


def test_the_token_schemes_are_bearer_jwts(document):
    schemes = document["components"]["securitySchemes"]

    assert set(schemes) == {"adminToken", "customerToken"}
    for scheme in schemes.values():
        assert (scheme["type"], scheme["scheme"], scheme["bearerFormat"]) == (
            "http",
            "bearer",
            "JWT",
        )


def test_admin_only_operations_ask_for_the_admin_token(document):
    assert operation_doc(document, "get", "/api/customers")["security"] == ADMIN
    assert operation_doc(document, "patch", "/api/customers/{customer_uuid}")["security"] == ADMIN
    assert operation_doc(document, "delete", "/api/customers/{customer_uuid}")["security"] == ADMIN


def test_operations_open_to_an_admin_or_the_customer_ask_for_either_token(document):
    assert operation_doc(document, "get", "/api/customers/{customer_uuid}")["security"] == EITHER
    for path, method, operation in operations(document):
        if path.startswith("/api/customers/{customer_uuid}/addresses"):
            assert operation["security"] == EITHER, (method, path)
            assert "403" in operation["responses"], (method, path)


def test_self_service_operations_ask_for_the_customer_token(document):
    for path, method, operation in operations(document):
        if path.startswith("/api/customers/me"):
            assert operation["security"] == CUSTOMER, (method, path)
            assert "403" in operation["responses"], (method, path)


def test_public_operations_say_so(document):
    # Sign-up takes no token, or an admin's
    assert operation_doc(document, "post", "/api/customers")["security"] == [{}] + ADMIN
    for path in ("/api/user/tokens", "/api/customer/tokens", "/api/customers/reset-password"):
        assert operation_doc(document, "post", path)["security"] == PUBLIC
    assert operation_doc(document, "post", "/api/graphql")["security"] == [{}] + CUSTOMER


# --- bodies read by hand, and the seed's examples ----------------------------------


def test_bodies_read_by_hand_are_documented(document):
    create = operation_doc(document, "post", "/api/customers")["requestBody"]
    update_me = operation_doc(document, "patch", "/api/customers/me")["requestBody"]

    assert create["required"] is True
    assert create["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/CustomerCreate"
    }
    assert update_me["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/SelfUpdate"
    }
    assert sorted(document["components"]["schemas"]["SelfUpdate"]["properties"]) == [
        "email",
        "full_name",
    ]


def test_the_seed_customer_examples_are_attached(document):
    created = example_of(document, "post", "/api/customers", 201)["data"]
    updated = example_of(document, "patch", "/api/customers/{customer_uuid}", 200)["data"]
    deleted = example_of(document, "delete", "/api/customers/{customer_uuid}", 200)["data"]

    assert request_example(document, "post", "/api/customers", "admin") == {
        "email": "john.smith@example.com",
        "password": "s3cret-Passw0rd",
        "full_name": "John Smith",
        "status": 1,
    }
    assert (created["customer_id"], created["email"], created["full_name"]) == (
        21,
        "john.smith@example.com",
        "John Smith",
    )
    assert created["created_at"] == "2023-02-07 14:18:05"
    assert [link["rel"] for link in created["links"]] == ["customerGrid", "edit"]
    assert request_example(document, "patch", "/api/customers/{customer_uuid}") == {
        "full_name": "John A. Smith"
    }
    assert updated["uuid"] == "433ba97f-8be7-4be9-be3f-a9f341f2b89f"
    assert (updated["full_name"], updated["updated_at"]) == ("John A. Smith", "2023-02-07 14:18:06")
    assert deleted["uuid"] == "433ba97f-8be7-4be9-be3f-a9f341f2b89f"
    assert "links" not in deleted


def test_the_seed_address_examples_are_attached(document):
    many = "/api/customers/{customer_uuid}/addresses"
    one = many + "/{address_uuid}"
    created = example_of(document, "post", many, 201)["data"]
    updated = example_of(document, "patch", one, 200)["data"]
    deleted = example_of(document, "delete", one, 200)["data"]

    assert request_example(document, "post", many) == {
        "full_name": "John Smith",
        "address_1": "123 Main St",
        "city": "New York",
        "province": "NY",
        "country": "US",
        "postcode": "10001",
    }
    assert (created["customer_address_id"], created["customer_id"]) == (42, 21)
    assert created["uuid"] == "a1b2c3d4-e5f6-7890-abcd-ef1234567890"
    assert request_example(document, "patch", one) == {
        "full_name": "John A. Smith",
        "address_1": "456 Oak Ave",
    }
    assert (updated["full_name"], updated["address_1"]) == ("John A. Smith", "456 Oak Ave")
    assert (deleted["customer_address_id"], deleted["uuid"]) == (
        42,
        "a1b2c3d4-e5f6-7890-abcd-ef1234567890",
    )


def test_the_seed_password_examples_are_attached(document):
    reset = "/api/customers/reset-password"
    password = "/api/customers/password"

    assert request_example(document, "post", reset) == {"email": "john.smith@example.com"}
    assert example_of(document, "post", reset, 200) == {"data": {"success": True}}
    assert set(request_example(document, "post", password)) == {"token", "password"}
    assert example_of(document, "post", password, 200) == {"data": {"success": True}}


def test_every_example_matches_its_own_schema(document):
    # Given every example of a request body or an answer in the document
    checked = 0
    for path, method, operation in operations(document):
        bodies = [operation.get("requestBody", {}).get("content", {}).get("application/json")]
        for response in operation["responses"].values():
            bodies.append(resolve(response, document).get("content", {}).get("application/json"))
        for body in filter(None, bodies):
            examples = [body["example"]] if "example" in body else []
            examples += [e["value"] for e in body.get("examples", {}).values()]
            for example in examples:
                # Then it is valid under the schema it illustrates
                assert schema_errors(example, body["schema"], document) == [], (method, path)
                checked += 1
    assert checked > 40


# --- real answers match the documented schemas --------------------------------------


def test_a_created_customer_and_its_reads_match_the_document(client, auth, document):
    # Given a customer with an address, created by an admin
    admin = auth.admin_headers()
    created = client.post(
        "/api/customers",
        json={"email": "ann@example.com", "password": "ann-pass-12", "full_name": "Ann"},
        headers=admin,
    )
    uuid = created.json["data"]["uuid"]
    client.post(f"/api/customers/{uuid}/addresses", json=ADDRESS, headers=admin)
    customer = auth.customer_headers("ann@example.com", "ann-pass-12")

    # When it is read every way
    answers = [
        ("/api/customers", "post", created),
        (
            "/api/customers/{customer_uuid}",
            "get",
            client.get(f"/api/customers/{uuid}", headers=admin),
        ),
        ("/api/customers/me", "get", client.get("/api/customers/me", headers=customer)),
        ("/api/customers", "get", client.get("/api/customers", headers=admin)),
    ]

    # Then each answer, addresses included, is what the document says
    for path, method, response in answers:
        assert response.status_code in (200, 201), response.json
        assert answer_errors(document, path, method, response) == [], (method, path)
    assert answers[1][2].json["data"]["addresses"][0]["country"] == "US"


def test_address_answers_match_the_document(client, auth, document):
    # Given a customer
    admin = auth.admin_headers()
    uuid = auth.create_customer()["uuid"]
    many = "/api/customers/{customer_uuid}/addresses"

    # When an address is created, listed, changed and deleted
    created = client.post(f"/api/customers/{uuid}/addresses", json=ADDRESS, headers=admin)
    address = f"/api/customers/{uuid}/addresses/{created.json['data']['uuid']}"
    listed = client.get(f"/api/customers/{uuid}/addresses", headers=admin)
    changed = client.patch(address, json={"telephone": "555-0100"}, headers=admin)
    deleted = client.delete(address, headers=admin)

    # Then every answer is what the document says
    assert [r.status_code for r in (created, listed, changed, deleted)] == [201, 200, 200, 200]
    assert answer_errors(document, many, "post", created) == []
    assert answer_errors(document, many, "get", listed) == []
    assert answer_errors(document, many + "/{address_uuid}", "patch", changed) == []
    assert answer_errors(document, many + "/{address_uuid}", "delete", deleted) == []
    assert created.headers["Location"] == address


def test_token_answers_match_the_document(client, auth, document):
    # Given an admin and a customer who log in and refresh
    auth.admin_headers()
    auth.create_customer()
    admin_login = client.post(
        "/api/user/tokens", json={"email": ADMIN_EMAIL, "password": "admin-password-1"}
    )
    customer_login = client.post(
        "/api/customer/tokens",
        json={"email": "john.smith@example.com", "password": "customer-pass-1"},
    )
    refreshed = client.post(
        "/api/customer/token/refresh",
        json={"refreshToken": customer_login.json["data"]["refreshToken"]},
    )
    wrong = client.post(
        "/api/customer/tokens", json={"email": "john.smith@example.com", "password": "wrong-pw-1"}
    )

    # Then the tokens and the refusal are what the document says
    assert answer_errors(document, "/api/user/tokens", "post", admin_login) == []
    assert answer_errors(document, "/api/customer/tokens", "post", customer_login) == []
    assert answer_errors(document, "/api/customer/token/refresh", "post", refreshed) == []
    assert wrong.status_code == 401
    assert answer_errors(document, "/api/customer/tokens", "post", wrong) == []


# --- the docs page ------------------------------------------------------------------


class _Assets(HTMLParser):
    def __init__(self):
        super().__init__()
        self.urls = []

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "script" and attrs.get("src"):
            self.urls.append(attrs["src"])
        if tag == "link" and attrs.get("href"):
            self.urls.append(attrs["href"])


def test_the_docs_page_is_served(client):
    response = client.get("/api/docs")

    assert response.status_code == 200
    assert response.mimetype == "text/html"
    assert 'url: "/api/openapi.json"' in response.get_data(as_text=True)


def test_the_docs_page_names_no_other_host(client):
    # When the page is read
    html = client.get("/api/docs").get_data(as_text=True)

    # Then it has no absolute or protocol-relative address: nothing is fetched elsewhere
    assert re.findall(r"https?://|[\"'(]//", html) == []
    # And Swagger UI's online validator is switched off
    assert '"validatorUrl": null' in html


def test_the_docs_page_assets_are_served_by_the_service(client):
    # Given the scripts and stylesheets the page loads
    parser = _Assets()
    parser.feed(client.get("/api/docs").get_data(as_text=True))
    assert len(parser.urls) == 3

    # Then each is a path on this service that answers 200 with the right type
    for url in parser.urls:
        assert url.startswith("/api/docs/assets/"), url
        response = client.get(url)
        assert response.status_code == 200, url
        assert response.mimetype in {"text/javascript", "application/javascript", "text/css"}
        assert len(response.data) > 10_000, url


def test_the_docs_stylesheet_fetches_nothing_from_elsewhere(client):
    css = client.get("/api/docs/assets/swagger-ui.css").get_data(as_text=True)

    urls = re.findall(r"url\(\s*['\"]?([^'\")]{0,20})", css)
    assert urls and all(url.startswith("data:") for url in urls)


# --- the document's frame -------------------------------------------------------------


def test_the_document_names_its_server(document):
    assert document["servers"] == [{"url": "/", "description": "this service"}]


def test_tags_come_in_the_order_a_reader_needs(document):
    names = [tag["name"] for tag in document["tags"]]

    assert names[:5] == ["tokens", "customers", "addresses", "passwords", "graphql"]
    assert names[-1] == "operations"


def test_every_token_route_is_under_the_tokens_tag(document):
    for path in (
        "/api/user/tokens",
        "/api/user/token/refresh",
        "/api/customer/tokens",
        "/api/customer/token/refresh",
        "/api/customer/tokens/revoke",
    ):
        assert document["paths"][path]["post"]["tags"] == ["tokens"], path


def test_the_probes_and_metrics_are_documented(document):
    for path in ("/healthz", "/readyz", "/metrics"):
        assert document["paths"][path]["get"]["tags"] == ["operations"], path
    assert "503" in document["paths"]["/readyz"]["get"]["responses"]


def test_every_api_operation_documents_401_for_a_bad_authorization_header(document):
    for path, method, operation in operations(document):
        if path.startswith("/api/"):
            assert "401" in operation["responses"], (method, path)
