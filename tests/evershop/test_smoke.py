"""Smoke tests of the coexistence: EverShop 2.2.1 and this service share tokens,
customers and passwords on one database (docs/evershop.md)."""

from __future__ import annotations

from tests.evershop.helpers import bearer, new_email

CUSTOMER_QUERY = "query ($id: String) { customer(id: $id) { uuid email fullName } }"


def evershop_sign_up(evershop, email: str, password: str = "customer-pass-1") -> dict:
    answer = evershop.request(
        "POST",
        "/api/customers",
        {"email": email, "password": password, "full_name": "Evershop Made"},
    )
    assert answer.status == 200, answer.body
    return answer.body["data"]


def service_create_customer(service, token: str, email: str, password="customer-pass-1") -> dict:
    answer = service.post(
        "/api/customers",
        json={"email": email, "password": password, "full_name": "Service Made"},
        headers=bearer(token),
    )
    assert answer.status_code == 201, answer.json
    return answer.json["data"]


def test_evershop_serves_its_storefront_home_page(evershop):
    answer = evershop.request("GET", "/")

    assert answer.status == 200
    assert answer.headers["Content-Type"] == "text/html; charset=utf-8"
    assert "<title>EverShop</title>" in answer.body


def test_evershop_refuses_its_admin_graphql_without_a_token(evershop):
    answer = evershop.request("POST", "/api/admin/graphql", {"query": "{ customers { total } }"})

    assert answer.status == 401


def test_evershop_admin_token_reads_a_customer_on_the_service(
    evershop, evershop_admin_token, service
):
    email = new_email()
    made = evershop_sign_up(evershop, email)

    answer = service.get(f"/api/customers/{made['uuid']}", headers=bearer(evershop_admin_token))

    assert answer.status_code == 200, answer.json
    assert answer.json["data"]["email"] == email


def test_service_admin_token_reads_a_customer_on_evershop_admin_graphql(
    evershop, service, service_admin_token
):
    email = new_email()
    made = service_create_customer(service, service_admin_token, email)

    answer = evershop.request(
        "POST",
        "/api/admin/graphql",
        {"query": CUSTOMER_QUERY, "variables": {"id": made["uuid"]}},
        token=service_admin_token,
    )

    assert answer.status == 200, answer.body
    assert answer.body["data"]["customer"] == {
        "uuid": made["uuid"],
        "email": email,
        "fullName": "Service Made",
    }


def test_customer_created_on_evershop_is_read_by_the_service(
    evershop, service, service_admin_token
):
    email = new_email()
    made = evershop_sign_up(evershop, email)

    answer = service.get(f"/api/customers/{made['uuid']}", headers=bearer(service_admin_token))

    assert answer.status_code == 200, answer.json
    data = answer.json["data"]
    assert (data["customer_id"], data["uuid"], data["email"], data["full_name"]) == (
        made["customer_id"],
        made["uuid"],
        email,
        "Evershop Made",
    )
    assert (data["status"], data["group_id"]) == (1, 1)


def test_customer_created_on_evershop_logs_in_on_the_service(evershop, service, database):
    email = new_email()
    made = evershop_sign_up(evershop, email, password="evershop-pass-1")
    [(stored,)] = database("SELECT password FROM customer WHERE uuid = :uuid", uuid=made["uuid"])
    assert stored.startswith("$2a$10$")  # bcryptjs, EverShop's hasher

    answer = service.post(
        "/api/customer/tokens", json={"email": email, "password": "evershop-pass-1"}
    )

    assert answer.status_code == 200, answer.json
    me = service.get("/api/customers/me", headers=bearer(answer.json["data"]["accessToken"]))
    assert me.json["data"]["uuid"] == made["uuid"]


def test_customer_created_on_the_service_logs_in_on_evershop(
    evershop, service, service_admin_token, database
):
    email = new_email()
    made = service_create_customer(service, service_admin_token, email, password="service-pass-1")
    [(stored,)] = database("SELECT password FROM customer WHERE uuid = :uuid", uuid=made["uuid"])
    assert stored.startswith("$2b$10$")  # Python's bcrypt

    answer = evershop.request(
        "POST", "/api/customer/tokens", {"email": email, "password": "service-pass-1"}
    )

    assert answer.status == 200, answer.body
    me = evershop.request(
        "POST",
        "/api/graphql",
        {"query": "{ currentCustomer { uuid email } }"},
        token=answer.body["data"]["accessToken"],
    )
    assert me.body["data"]["currentCustomer"] == {"uuid": made["uuid"], "email": email}
