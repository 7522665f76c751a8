"""EverShop's own default-address requests on the adopted database: it writes
the new default before clearing the old one, which the unique index of
revision 0002 refused (500, duplicate key) until revision 0006's trigger
cleared the old default first. Each leaves exactly one default."""

from __future__ import annotations

from tests.evershop.helpers import bearer, new_email

ADDRESS = {
    "full_name": "Eve Shop",
    "telephone": "555-0100",
    "address_1": "1 Main Street",
    "city": "Springfield",
    "province": "US-IL",
    "country": "US",
    "postcode": "62701",
}


def evershop_customer(evershop) -> dict:
    answer = evershop.request(
        "POST",
        "/api/customers",
        {"email": new_email(), "password": "customer-pass-1", "full_name": "Eve Shop"},
    )
    assert answer.status == 200, answer.body
    return answer.body["data"]


def evershop_add_address(evershop, token: str, customer: dict, **fields) -> dict:
    answer = evershop.request(
        "POST", f"/api/customers/{customer['uuid']}/addresses", {**ADDRESS, **fields}, token=token
    )
    assert answer.status == 200, answer.body
    return answer.body["data"]


def defaults(database, customer: dict) -> list[str]:
    rows = database(
        "SELECT a.uuid FROM customer_address a JOIN customer c USING (customer_id)"
        " WHERE c.uuid = :uuid AND a.is_default ORDER BY a.customer_address_id",
        uuid=customer["uuid"],
    )
    return [str(value) for (value,) in rows]


def test_evershop_adds_a_second_default_address(evershop, evershop_admin_token, database):
    customer = evershop_customer(evershop)
    evershop_add_address(evershop, evershop_admin_token, customer, is_default=True)

    answer = evershop.request(
        "POST",
        f"/api/customers/{customer['uuid']}/addresses",
        {**ADDRESS, "address_1": "2 Side Street", "is_default": True},
        token=evershop_admin_token,
    )

    assert answer.status == 200, answer.body
    assert answer.body["data"]["is_default"] is True
    assert defaults(database, customer) == [answer.body["data"]["uuid"]]


def test_evershop_makes_an_address_the_default(evershop, evershop_admin_token, database):
    customer = evershop_customer(evershop)
    evershop_add_address(evershop, evershop_admin_token, customer, is_default=True)
    other = evershop_add_address(evershop, evershop_admin_token, customer, is_default=False)

    answer = evershop.request(
        "PATCH",
        f"/api/customers/{customer['uuid']}/addresses/{other['uuid']}",
        {"is_default": True},
        token=evershop_admin_token,
    )

    assert answer.status == 200, answer.body
    assert defaults(database, customer) == [other["uuid"]]


def test_a_customer_adds_a_second_default_address_on_evershops_storefront_api(evershop, database):
    email = new_email()
    answer = evershop.request(
        "POST",
        "/api/customers",
        {"email": email, "password": "customer-pass-1", "full_name": "Eve Shop"},
    )
    assert answer.status == 200, answer.body
    customer = answer.body["data"]
    token = evershop.request(
        "POST", "/api/customer/tokens", {"email": email, "password": "customer-pass-1"}
    ).body["data"]["accessToken"]
    first = evershop.request(
        "POST", "/api/customers/me/addresses", {**ADDRESS, "is_default": True}, token=token
    )
    assert first.status == 200, first.body

    second = evershop.request(
        "POST", "/api/customers/me/addresses", {**ADDRESS, "is_default": True}, token=token
    )

    assert second.status == 200, second.body
    assert defaults(database, customer) == [second.body["data"]["uuid"]]


def test_the_service_reads_the_default_evershop_chose(
    evershop, evershop_admin_token, service, service_admin_token
):
    customer = evershop_customer(evershop)
    evershop_add_address(evershop, evershop_admin_token, customer, is_default=True)
    newer = evershop_add_address(evershop, evershop_admin_token, customer, is_default=True)

    answer = service.get(
        f"/api/customers/{customer['uuid']}/addresses", headers=bearer(service_admin_token)
    )

    assert answer.status_code == 200, answer.json
    assert [(a["uuid"], a["is_default"]) for a in answer.json["data"]][0] == (newer["uuid"], True)
    assert [a["is_default"] for a in answer.json["data"]] == [True, False]
