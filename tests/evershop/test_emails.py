"""Emails are unique whatever their letter case once the service adopted the
database (revision 0002): a behaviour change EverShop's users see
(docs/evershop.md, "What changes for EverShop's users")."""

from __future__ import annotations

from tests.evershop.helpers import new_email


def test_evershop_refuses_a_sign_up_whose_email_differs_only_in_case(evershop, database):
    email = new_email("case")
    first = evershop.request(
        "POST", "/api/customers", {"email": email, "password": "customer-pass-1", "full_name": "A"}
    )
    assert first.status == 200, first.body

    second = evershop.request(
        "POST",
        "/api/customers",
        {"email": email.upper(), "password": "customer-pass-1", "full_name": "B"},
    )

    # EverShop checks its own case-sensitive constraint only: the database
    # refuses, and EverShop answers with its 500
    assert second.status == 500, second.body
    assert database("SELECT count(*) FROM customer WHERE lower(email) = :e", e=email) == [(1,)]
