"""The email policy, through the service's pytest plugin."""

from __future__ import annotations

import pytest
import sqlalchemy as sa
from app.plugin_api import db

PASSWORD = "customer-pass-1"
REFUSED = {
    "field": "email",
    "message": "Addresses at disposable email domains are not accepted.",
}


def sign_up(client, email):
    return client.post(
        "/api/customers", json={"email": email, "password": PASSWORD, "full_name": "John Smith"}
    )


def emails(app) -> list[str]:
    with app.app_context():
        found = list(db.session.scalars(sa.text("SELECT email FROM customer ORDER BY customer_id")))
        db.session.remove()
    return found


def reset_tokens(app) -> int:
    with app.app_context():
        count = db.session.scalar(sa.text("SELECT count(*) FROM reset_password_token"))
        db.session.remove()
    return count


# --- refusals ------------------------------------------------------------------------------


def test_sign_up_at_a_disposable_domain_is_refused_naming_email(service_app, service_client):
    response = sign_up(service_client, "john@mailinator.com")

    assert response.status_code == 400
    assert response.get_json()["error"]["errors"] == [REFUSED]
    assert emails(service_app) == []


def test_sign_up_at_a_subdomain_of_a_disposable_domain_is_refused(service_app, service_client):
    response = sign_up(service_client, "john@eu.Mailinator.COM")

    assert response.status_code == 400
    assert emails(service_app) == []


def test_admin_creating_a_customer_at_a_disposable_domain_is_refused(
    service_app, service_client, admin_headers
):
    response = service_client.post(
        "/api/customers",
        json={"email": "john@yopmail.com", "password": PASSWORD, "full_name": "John"},
        headers=admin_headers,
    )

    assert response.status_code == 400
    assert response.get_json()["error"]["errors"] == [REFUSED]
    assert emails(service_app) == []


def test_changing_the_email_to_a_disposable_domain_is_refused(
    service_app, service_client, make_customer, customer_headers
):
    customer = make_customer(email="john@example.com")

    response = service_client.patch(
        "/api/customers/me",
        json={"email": "john@trashmail.com"},
        headers=customer_headers(customer),
    )

    assert response.status_code == 400
    assert response.get_json()["error"]["errors"] == [REFUSED]
    assert emails(service_app) == ["john@example.com"]


@pytest.mark.service_config(EMAIL_POLICY_BLOCKED_DOMAINS="spam.example, Junk.Example")
def test_email_policy_blocked_domains_adds_domains(service_app, service_client):
    response = sign_up(service_client, "john@junk.example")

    assert response.status_code == 400
    assert emails(service_app) == []


def test_email_policy_blocked_domains_refuses_a_value_that_is_not_a_domain(service_app_factory):
    with pytest.raises(Exception) as raised:
        service_app_factory(EMAIL_POLICY_BLOCKED_DOMAINS="john@example.com")

    assert str(raised.value) == (
        "plugin email_policy: EMAIL_POLICY_BLOCKED_DOMAINS 'john@example.com' is not a domain,"
        " got 'john@example.com'"
    )


def test_an_ordinary_domain_is_accepted(service_app, service_client):
    response = sign_up(service_client, "john@example.com")

    assert response.status_code == 201
    assert emails(service_app) == ["john@example.com"]


# --- normalisation -------------------------------------------------------------------------


def test_a_gmail_address_is_stored_lower_case_without_its_tag(service_app, service_client):
    response = sign_up(service_client, "John.Smith+shop@GMail.com")

    assert response.status_code == 201
    assert response.get_json()["data"]["email"] == "john.smith@gmail.com"
    assert emails(service_app) == ["john.smith@gmail.com"]


def test_an_address_at_another_domain_is_stored_as_sent(service_app, service_client):
    sign_up(service_client, "John+shop@example.com")

    assert emails(service_app) == ["John+shop@example.com"]


@pytest.mark.service_config(EMAIL_POLICY_NORMALISED_DOMAINS="example.com")
def test_email_policy_normalised_domains_names_the_domains(service_app, service_client):
    sign_up(service_client, "John+shop@example.com")
    sign_up(service_client, "Jane+shop@gmail.com")

    assert emails(service_app) == ["john@example.com", "Jane+shop@gmail.com"]


def test_a_changed_email_is_normalised(
    service_app, service_client, make_customer, customer_headers
):
    customer = make_customer(email="john@example.com")

    response = service_client.patch(
        "/api/customers/me",
        json={"email": "New+news@Gmail.com"},
        headers=customer_headers(customer),
    )

    # A customer's own change waits for the new address to confirm it: the
    # address it waits for is the normalised one.
    assert response.status_code == 200
    assert response.get_json()["data"]["pending_email"] == "new@gmail.com"
    assert response.get_json()["data"]["email"] == "john@example.com"


def test_a_second_tag_of_an_existing_account_is_a_conflict(service_app, service_client):
    sign_up(service_client, "john@gmail.com")

    response = sign_up(service_client, "John+again@gmail.com")

    assert response.status_code == 409
    assert emails(service_app) == ["john@gmail.com"]


def test_the_address_as_typed_logs_in(service_client):
    sign_up(service_client, "John+shop@gmail.com")

    response = service_client.post(
        "/api/customer/tokens", json={"email": "JOHN+other@gmail.com", "password": PASSWORD}
    )

    assert response.status_code == 200


def test_a_reset_request_with_the_address_as_typed_reaches_the_account(service_app, service_client):
    sign_up(service_client, "john@gmail.com")

    response = service_client.post(
        "/api/customers/reset-password", json={"email": "John+shop@GMAIL.com"}
    )

    assert response.status_code == 200
    assert reset_tokens(service_app) == 1


@pytest.mark.service_config(plugins=[])
def test_without_the_policy_a_tagged_reset_request_finds_no_account(service_app, service_client):
    sign_up(service_client, "john@gmail.com")

    service_client.post("/api/customers/reset-password", json={"email": "John+shop@GMAIL.com"})

    assert reset_tokens(service_app) == 0
