"""Customer addresses (docs/api.md, "Addresses" and "Events"): the default address, the database
guard against two defaults, concurrent requests, the address hooks and the
address events.

General create/read/update/delete, validation and access rules are tested
elsewhere; these tests use them only as the way in.
"""

from __future__ import annotations

import logging
import threading
import uuid
from datetime import UTC, datetime

import pluggy
import pytest
import sqlalchemy as sa

from app.db import db
from app.errors import Forbidden
from plugins.address.models import CustomerAddress

hookimpl = pluggy.HookimplMarker("evershop")

ADDRESS = {
    "full_name": "John Smith",
    "address_1": "1 Main Street",
    "city": "Springfield",
    "country": "US",
}
# A moment far enough in the past that any write today moves ``updated_at``.
LONG_AGO = datetime(2020, 1, 2, 3, 4, 5, tzinfo=UTC)
LONG_AGO_TEXT = "2020-01-02 03:04:05"

ADDRESS_EVENTS = ("address_created", "address_updated", "address_deleted")


# --- helpers --------------------------------------------------------------------------


def addresses_url(customer: dict) -> str:
    return f"/api/customers/{customer['uuid']}/addresses"


def address_url(customer: dict, address: dict) -> str:
    return f"/api/customers/{customer['uuid']}/addresses/{address['uuid']}"


def add_address(client, customer: dict, headers: dict, **fields) -> dict:
    response = client.post(addresses_url(customer), json={**ADDRESS, **fields}, headers=headers)
    assert response.status_code == 201, response.json
    data = response.json["data"]
    assert data.pop("insertId") == data["customer_address_id"]  # EverShop's name
    return data


def shown(response) -> dict:
    """The address an answer shows, without EverShop's ``insertId`` (create)
    or ``updatedId`` (update), which events and hooks do not carry."""
    data = dict(response.json["data"])
    for key in ("insertId", "updatedId"):
        if key in data:
            assert data.pop(key) == data["customer_address_id"]
    return data


def read_address(client, customer: dict, address: dict, headers: dict) -> dict:
    response = client.get(address_url(customer, address), headers=headers)
    assert response.status_code == 200, response.json
    return response.json["data"]


def list_addresses(client, customer: dict, headers: dict) -> list[dict]:
    response = client.get(addresses_url(customer), headers=headers)
    assert response.status_code == 200, response.json
    return response.json["data"]


def address_events(events) -> list[tuple[str, dict]]:
    return [(name, payload) for name, payload in events() if name in ADDRESS_EVENTS]


def stored_defaults(app, customer: dict) -> list[str]:
    """The uuids of the customer's default addresses, read from the table."""
    with app.app_context():
        found = db.session.scalars(
            sa.select(CustomerAddress.uuid).where(
                CustomerAddress.customer_id == customer["customer_id"],
                CustomerAddress.is_default.is_(True),
            )
        ).all()
        db.session.remove()
    return sorted(str(value) for value in found)


def stored_address_count(app, customer_id: int) -> int:
    with app.app_context():
        count = db.session.execute(
            sa.text("SELECT count(*) FROM customer_address WHERE customer_id = :id"),
            {"id": customer_id},
        ).scalar()
        db.session.remove()
    return count


def backdate(app, address: dict) -> None:
    """Set an address's ``updated_at`` far in the past, so that a later write
    within the same second is still visible."""
    with app.app_context():
        db.session.execute(
            sa.update(CustomerAddress)
            .where(CustomerAddress.uuid == uuid.UUID(address["uuid"]))
            .values(updated_at=LONG_AGO)
        )
        db.session.commit()
        db.session.remove()


@pytest.fixture
def admin(auth) -> dict:
    return auth.admin_headers()


@pytest.fixture
def customer(auth) -> dict:
    return auth.create_customer()


class Recorder:
    """A plugin that records what the address after-hooks were handed."""

    def __init__(self):
        self.calls = []

    @hookimpl
    def address_after_create(self, address, context):
        self.calls.append(("address_after_create", address, None, context.actor_type))

    @hookimpl
    def address_after_update(self, address, changes, context):
        self.calls.append(("address_after_update", address, changes, context.actor_type))

    @hookimpl
    def address_after_delete(self, address, context):
        self.calls.append(("address_after_delete", address, None, context.actor_type))


# --- the default address ----------------------------------------------------------------


def test_first_address_becomes_the_default_when_is_default_is_not_sent(client, admin, customer):
    # when a customer without addresses gets one, without saying is_default
    response = client.post(addresses_url(customer), json=ADDRESS, headers=admin)

    # then it is the customer's default
    assert response.status_code == 201, response.json
    assert shown(response)["is_default"] is True
    assert read_address(client, customer, shown(response), admin)["is_default"] is True


def test_second_address_without_is_default_is_not_the_default(client, app, admin, customer):
    # given a customer with a first (default) address
    first = add_address(client, customer, admin)

    # when a second one is added without is_default
    response = client.post(addresses_url(customer), json=ADDRESS, headers=admin)

    # then it is not the default, and the first one still is
    assert response.status_code == 201, response.json
    assert shown(response)["is_default"] is False
    assert stored_defaults(app, customer) == [first["uuid"]]


def test_explicit_is_default_false_on_the_first_address_leaves_no_default(
    client, app, admin, customer
):
    # when a customer's first address is sent with is_default false
    response = client.post(
        addresses_url(customer), json={**ADDRESS, "is_default": False}, headers=admin
    )

    # then that is honoured: the customer has no default address at all
    assert response.status_code == 201, response.json
    assert shown(response)["is_default"] is False
    assert stored_defaults(app, customer) == []
    assert [a["is_default"] for a in list_addresses(client, customer, admin)] == [False]


def test_creating_a_default_address_clears_the_previous_default_in_the_same_request(
    client, app, admin, customer, events
):
    # given a customer whose default address was last written long ago
    old = add_address(client, customer, admin, city="Old Town")
    backdate(app, old)
    before = len(events())

    # when a new address is created with is_default true
    response = client.post(
        addresses_url(customer), json={**ADDRESS, "is_default": True}, headers=admin
    )

    # then the new one is the only default; the old one reads is_default false with
    # a new updated_at, and the same request wrote an address_updated event for it
    assert response.status_code == 201, response.json
    new = shown(response)
    assert new["is_default"] is True
    old_now = read_address(client, customer, old, admin)
    assert old_now["is_default"] is False
    assert old_now["updated_at"] != LONG_AGO_TEXT
    assert old_now["updated_at"] >= old["created_at"]
    assert {k: v for k, v in old_now.items() if k not in ("is_default", "updated_at")} == {
        k: v for k, v in old.items() if k not in ("is_default", "updated_at")
    }
    assert stored_defaults(app, customer) == [new["uuid"]]
    assert events()[before:] == [("address_updated", old_now), ("address_created", new)]


def test_patch_is_default_true_makes_the_address_the_only_default(
    client, app, admin, customer, events
):
    # given a default address and a second, non-default one
    first = add_address(client, customer, admin, city="First")
    second = add_address(client, customer, admin, city="Second")
    backdate(app, first)
    before = len(events())

    # when the second one is made the default
    response = client.patch(address_url(customer, second), json={"is_default": True}, headers=admin)

    # then it is the only default; the first one was cleared, with its own event
    assert response.status_code == 200, response.json
    assert shown(response)["is_default"] is True
    first_now = read_address(client, customer, first, admin)
    assert first_now["is_default"] is False
    assert first_now["updated_at"] != LONG_AGO_TEXT
    assert stored_defaults(app, customer) == [second["uuid"]]
    assert events()[before:] == [
        ("address_updated", first_now),
        ("address_updated", shown(response)),
    ]


def test_patch_is_default_false_on_the_default_leaves_no_default(
    client, app, admin, customer, events
):
    # given a customer with a default address and another one
    default = add_address(client, customer, admin)
    other = add_address(client, customer, admin)
    before = len(events())

    # when the default is unset
    response = client.patch(
        address_url(customer, default), json={"is_default": False}, headers=admin
    )

    # then the customer has no default; no other address was promoted
    assert response.status_code == 200, response.json
    assert shown(response)["is_default"] is False
    assert stored_defaults(app, customer) == []
    assert read_address(client, customer, other, admin)["is_default"] is False
    assert events()[before:] == [("address_updated", shown(response))]


def test_patch_is_default_true_on_the_default_changes_nothing(client, app, admin, customer, events):
    # given a default address, last written long ago
    default = add_address(client, customer, admin)
    backdate(app, default)
    before = events()

    # when it is made the default again
    response = client.patch(
        address_url(customer, default), json={"is_default": True}, headers=admin
    )

    # then nothing changes: same address, same updated_at, no event
    assert response.status_code == 200, response.json
    assert shown(response) == {**default, "updated_at": LONG_AGO_TEXT}
    assert stored_defaults(app, customer) == [default["uuid"]]
    assert events() == before


def test_patch_is_default_true_on_an_unknown_address_is_404_and_keeps_the_default(
    client, app, admin, customer, events
):
    # given a default address
    default = add_address(client, customer, admin)
    before = events()

    # when an address the customer does not have is made the default
    response = client.patch(
        address_url(customer, {"uuid": str(uuid.uuid4())}), json={"is_default": True}, headers=admin
    )

    # then it is not found, and the default stays, without an event
    assert response.status_code == 404, response.json
    assert stored_defaults(app, customer) == [default["uuid"]]
    assert events() == before


def test_patch_is_default_true_on_another_customers_address_is_404(
    client, app, admin, customer, auth, events
):
    # given a customer with a default address, and another customer's address
    mine = add_address(client, customer, admin)
    other = auth.create_customer(email="other@example.com")
    theirs = add_address(client, other, admin)
    before = events()

    # when the other customer's address is made the default under this customer
    response = client.patch(address_url(customer, theirs), json={"is_default": True}, headers=admin)

    # then it is not found; both defaults stay
    assert response.status_code == 404, response.json
    assert stored_defaults(app, customer) == [mine["uuid"]]
    assert stored_defaults(app, other) == [theirs["uuid"]]
    assert events() == before


def test_list_shows_the_default_first_then_the_others_in_creation_order(client, admin, customer):
    # given four addresses, the third of which is made the default
    first = add_address(client, customer, admin, city="A")
    second = add_address(client, customer, admin, city="B")
    third = add_address(client, customer, admin, city="C")
    fourth = add_address(client, customer, admin, city="D")
    response = client.patch(address_url(customer, third), json={"is_default": 1}, headers=admin)
    assert response.status_code == 200, response.json

    # when the list is read
    listed = list_addresses(client, customer, admin)

    # then the default comes first, then the rest oldest first
    assert [(a["uuid"], a["is_default"]) for a in listed] == [
        (third["uuid"], True),
        (first["uuid"], False),
        (second["uuid"], False),
        (fourth["uuid"], False),
    ]


def test_deleting_the_default_address_leaves_the_customer_without_a_default(
    client, app, admin, customer
):
    """Chosen behaviour: no other address is promoted when the default goes;
    the customer (or an admin) picks the next default explicitly."""
    # given a default address and two others
    default = add_address(client, customer, admin)
    add_address(client, customer, admin)
    add_address(client, customer, admin)

    # when the default is deleted
    response = client.delete(address_url(customer, default), headers=admin)

    # then the customer has no default address
    assert response.status_code == 200, response.json
    assert shown(response)["is_default"] is True
    assert stored_defaults(app, customer) == []
    assert [a["is_default"] for a in list_addresses(client, customer, admin)] == [False, False]


def test_a_default_address_written_past_the_service_clears_the_previous_default(
    client, app, admin, customer
):
    # given a customer with a default address
    default = add_address(client, customer, admin)
    backdate(app, default)

    # when a second default row is inserted for it past the service, in raw
    # SQL, the way EverShop does (migration 0006)
    new_uuid = uuid.uuid4()
    with app.app_context():
        db.session.execute(
            sa.text(
                "INSERT INTO customer_address (uuid, customer_id, full_name, address_1,"
                " city, country, is_default)"
                " VALUES (:uuid, :customer_id, 'Jane', '2 Side Street', 'Shelbyville',"
                " 'US', :is_default)"
            ),
            {
                "uuid": new_uuid.hex,
                "customer_id": customer["customer_id"],
                "is_default": True,
            },
        )
        db.session.commit()
        db.session.remove()

    # then the database cleared the old default: still one, the new one
    assert stored_defaults(app, customer) == [str(new_uuid)]
    assert stored_address_count(app, customer["customer_id"]) == 2
    old = read_address(client, customer, default, admin)
    assert old["is_default"] is False
    assert old["updated_at"] != LONG_AGO_TEXT


def test_deleting_a_customer_deletes_its_addresses(client, app, auth, admin, customer):
    # given a customer with addresses, and another customer with one
    add_address(client, customer, admin)
    add_address(client, customer, admin)
    other = auth.create_customer(email="jane.doe@example.com", full_name="Jane Doe")
    add_address(client, other, admin)

    # when the first customer is deleted
    response = client.delete(f"/api/customers/{customer['uuid']}", headers=admin)

    # then its address rows are gone from customer_address, and only its own
    assert response.status_code == 200, response.json
    assert stored_address_count(app, customer["customer_id"]) == 0
    assert stored_address_count(app, other["customer_id"]) == 1


# --- concurrency (PostgreSQL) -----------------------------------------------------------

RACERS = 6
ROUNDS = 5


def race(app, requests) -> list:
    """Run each ``request(client)`` in its own thread with its own test client,
    all released together; return what each answered (or raised)."""
    barrier = threading.Barrier(len(requests))
    results: list = [None] * len(requests)

    def run(index, request):
        client = app.test_client()
        try:
            barrier.wait(timeout=60)
            response = request(client)
            results[index] = (response.status_code, response.json)
        except Exception as error:  # reported through the results
            results[index] = error

    threads = [
        threading.Thread(target=run, args=(index, request))
        for index, request in enumerate(requests)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return results


def test_concurrent_patches_to_is_default_leave_exactly_one_default(
    backend, app, client, admin, customer
):
    # given a customer with six addresses
    addresses = [add_address(client, customer, admin, city=f"City {i}") for i in range(RACERS)]
    uuids = sorted(a["uuid"] for a in addresses)

    for _ in range(ROUNDS):
        # given no default at the start of the round
        for current in stored_defaults(app, customer):
            response = client.patch(
                address_url(customer, {"uuid": current}),
                json={"is_default": False},
                headers=admin,
            )
            assert response.status_code == 200, response.json
        assert stored_defaults(app, customer) == []

        # when six requests each make a different address the default, at once
        results = race(
            app,
            [
                lambda c, a=address: c.patch(
                    address_url(customer, a), json={"is_default": True}, headers=admin
                )
                for address in addresses
            ],
        )

        # then every request succeeded, and exactly one of them is the default
        assert [r if isinstance(r, Exception) else r[0] for r in results] == [200] * RACERS
        assert all(r[1]["data"]["is_default"] is True for r in results)
        defaults = stored_defaults(app, customer)
        assert len(defaults) == 1
        assert defaults[0] in uuids


def test_concurrent_creates_of_default_addresses_leave_exactly_one_default(
    backend, app, client, admin, customer
):
    created: list[str] = []

    for round_number in range(ROUNDS):
        # when six requests each create a default address for one customer, at once
        results = race(
            app,
            [
                lambda c, i=i, n=round_number: c.post(
                    addresses_url(customer),
                    json={**ADDRESS, "city": f"City {n}-{i}", "is_default": True},
                    headers=admin,
                )
                for i in range(RACERS)
            ],
        )

        # then all were created, and exactly one of the customer's addresses is the default
        assert [r if isinstance(r, Exception) else r[0] for r in results] == [201] * RACERS
        created += [r[1]["data"]["uuid"] for r in results]
        assert stored_address_count(app, customer["customer_id"]) == len(created)
        defaults = stored_defaults(app, customer)
        assert len(defaults) == 1
        assert defaults[0] in created


# --- hooks ------------------------------------------------------------------------------


def test_address_before_create_can_rewrite_the_address(
    client, admin, customer, register_plugin, events
):
    # given a plugin that stores cities in upper case
    class UpperCity:
        @hookimpl
        def address_before_create(self, data):
            data["city"] = data["city"].upper()

    register_plugin(UpperCity(), name="upper-city")

    # when an address is created
    response = client.post(
        addresses_url(customer), json={**ADDRESS, "city": "Springfield"}, headers=admin
    )

    # then the rewritten value is what is answered, stored and emitted
    assert response.status_code == 201, response.json
    assert shown(response)["city"] == "SPRINGFIELD"
    assert read_address(client, customer, shown(response), admin)["city"] == "SPRINGFIELD"
    assert address_events(events) == [("address_created", shown(response))]


def test_address_before_create_veto_is_a_403_and_writes_nothing(
    client, app, admin, customer, register_plugin, events
):
    # given a plugin that refuses addresses outside the US
    class UsOnly:
        @hookimpl
        def address_before_create(self, data):
            if data["country"] != "US":
                raise Forbidden("We only ship to the United States.")

    register_plugin(UsOnly(), name="us-only")
    before = events()

    # when an address in France is created
    response = client.post(
        addresses_url(customer), json={**ADDRESS, "country": "fr"}, headers=admin
    )

    # then the plugin's refusal reaches the client, and nothing is written or emitted
    assert response.status_code == 403
    assert response.json == {
        "error": {"status": 403, "message": "We only ship to the United States."}
    }
    assert stored_address_count(app, customer["customer_id"]) == 0
    assert events() == before


def test_address_before_update_veto_is_a_403_and_leaves_the_address_unchanged(
    client, admin, customer, register_plugin, events
):
    # given an address, and a plugin that refuses any change of country
    address = add_address(client, customer, admin)

    class CountryLock:
        @hookimpl
        def address_before_update(self, data):
            if "country" in data:
                raise Forbidden("The country of an address cannot change.")

    register_plugin(CountryLock(), name="country-lock")
    before = events()

    # when the country is changed
    response = client.patch(
        address_url(customer, address), json={"country": "CA", "city": "Toronto"}, headers=admin
    )

    # then it is refused, and the address is as it was
    assert response.status_code == 403
    assert response.json == {
        "error": {"status": 403, "message": "The country of an address cannot change."}
    }
    assert read_address(client, customer, address, admin) == address
    assert events() == before


def test_address_before_delete_veto_is_a_403_and_keeps_the_address(
    client, admin, customer, register_plugin, events
):
    # given an address, and a plugin that refuses to delete default addresses
    address = add_address(client, customer, admin)

    class KeepDefault:
        @hookimpl
        def address_before_delete(self, address):
            if address["is_default"]:
                raise Forbidden("Choose another default address before deleting this one.")

    register_plugin(KeepDefault(), name="keep-default")
    before = events()

    # when the default address is deleted
    response = client.delete(address_url(customer, address), headers=admin)

    # then it is refused, and the address is still there
    assert response.status_code == 403
    assert response.json == {
        "error": {
            "status": 403,
            "message": "Choose another default address before deleting this one.",
        }
    }
    assert read_address(client, customer, address, admin) == address
    assert events() == before


def test_address_after_create_gets_the_committed_address_and_the_admin_actor(
    client, admin, customer, register_plugin
):
    # given a plugin that records the after-hooks and looks for the row through
    # another connection
    class Witness(Recorder):
        def __init__(self):
            super().__init__()
            self.committed = []

        @hookimpl
        def address_after_create(self, address, context):
            super().address_after_create(address, context)
            with db.engine.connect() as connection:
                self.committed.append(
                    connection.execute(
                        sa.text("SELECT city FROM customer_address WHERE customer_address_id = :i"),
                        {"i": address["customer_address_id"]},
                    ).scalar()
                )

    witness = register_plugin(Witness(), name="witness")

    # when an admin creates an address
    response = client.post(addresses_url(customer), json=ADDRESS, headers=admin)

    # then the hook got the address as answered, the admin as actor, after commit
    assert response.status_code == 201, response.json
    assert witness.calls == [("address_after_create", shown(response), None, "admin")]
    assert witness.committed == ["Springfield"]


def test_address_after_update_gets_the_address_its_changes_and_the_customer_actor(
    client, auth, admin, customer, register_plugin
):
    # given an address, and a plugin that records the after-hooks
    address = add_address(client, customer, admin)
    recorder = register_plugin(Recorder(), name="recorder")

    # when the customer itself changes two fields (and sends a third unchanged)
    response = client.patch(
        address_url(customer, address),
        json={"city": "Shelbyville", "postcode": "12345", "country": "US"},
        headers=auth.customer_headers(),
    )

    # then the hook got the new address, the changed field names, and the customer
    assert response.status_code == 200, response.json
    # (the order of the names is not part of the contract)
    assert [
        (hook, shown, sorted(changes), actor) for hook, shown, changes, actor in recorder.calls
    ] == [("address_after_update", shown(response), ["city", "postcode"], "customer")]
    assert all(isinstance(changes, list) for _, _, changes, _ in recorder.calls)


def test_after_update_hook_runs_after_commit(client, admin, customer, register_plugin):
    # given an address, and a plugin that reads the row through another connection
    address = add_address(client, customer, admin)

    class Witness:
        def __init__(self):
            self.seen = []

        @hookimpl
        def address_after_update(self, address):
            with db.engine.connect() as connection:
                self.seen.append(
                    connection.execute(
                        sa.text("SELECT city FROM customer_address WHERE customer_address_id = :i"),
                        {"i": address["customer_address_id"]},
                    ).scalar()
                )

    witness = register_plugin(Witness(), name="witness")

    # when the address is changed
    response = client.patch(
        address_url(customer, address), json={"city": "Shelbyville"}, headers=admin
    )

    # then the change was already committed when the hook ran
    assert response.status_code == 200, response.json
    assert witness.seen == ["Shelbyville"]


def test_address_after_delete_gets_the_deleted_address_after_commit(
    client, auth, admin, customer, register_plugin
):
    # given an address, and a plugin that records the after-hooks and counts the
    # row through another connection
    address = add_address(client, customer, admin)

    class Witness(Recorder):
        def __init__(self):
            super().__init__()
            self.rows_left = []

        @hookimpl
        def address_after_delete(self, address, context):
            super().address_after_delete(address, context)
            with db.engine.connect() as connection:
                self.rows_left.append(
                    connection.execute(
                        sa.text(
                            "SELECT count(*) FROM customer_address WHERE customer_address_id = :i"
                        ),
                        {"i": address["customer_address_id"]},
                    ).scalar()
                )

    witness = register_plugin(Witness(), name="witness")

    # when the customer deletes it through its own address book
    response = client.delete(
        f"/api/customers/me/addresses/{address['uuid']}", headers=auth.customer_headers()
    )

    # then the hook got the address as it was, the customer as actor, after commit
    assert response.status_code == 200, response.json
    href = f"/api/customers/me/addresses/{address['uuid']}"  # answered on /me
    assert shown(response) == {
        **address,
        "links": [{**link, "href": href} for link in address["links"]],
    }
    assert witness.calls == [("address_after_delete", address, None, "customer")]
    assert witness.rows_left == [0]


def test_failing_after_hook_is_logged_and_the_address_is_created(
    client, app, admin, customer, register_plugin, events, caplog
):
    # given a plugin whose after-create hook breaks
    class Flaky:
        @hookimpl
        def address_after_create(self, address):
            raise RuntimeError("the address checker is down")

    register_plugin(Flaky(), name="flaky")

    # when an address is created
    with caplog.at_level(logging.ERROR):
        response = client.post(addresses_url(customer), json=ADDRESS, headers=admin)

    # then the request succeeds and the failure is logged with the plugin's name
    assert response.status_code == 201, response.json
    assert stored_address_count(app, customer["customer_id"]) == 1
    assert address_events(events) == [("address_created", shown(response))]
    assert ("app.plugins", logging.ERROR, "plugin flaky failed in address_after_create") in (
        caplog.record_tuples
    )


def test_unexpected_error_in_before_hook_is_a_500_and_writes_nothing(
    client, app, admin, customer, register_plugin, events, caplog
):
    # given a plugin whose before-create hook has a bug
    class Broken:
        @hookimpl
        def address_before_create(self, data):
            raise RuntimeError("bug in address plugin")

    register_plugin(Broken(), name="broken")
    before = events()

    # when an address is created
    with caplog.at_level(logging.ERROR):
        response = client.post(
            addresses_url(customer),
            json=ADDRESS,
            headers={**admin, "X-Request-ID": "req-address-500"},
        )

    # then the client gets the generic 500, nothing is written or emitted, and the
    # log names the plugin
    assert response.status_code == 500
    assert response.json == {
        "error": {
            "status": 500,
            "message": (
                "An unexpected error occurred. Quote request id req-address-500 when reporting it."
            ),
        }
    }
    assert "bug in address plugin" not in response.get_data(as_text=True)
    assert stored_address_count(app, customer["customer_id"]) == 0
    assert events() == before
    assert ("app.plugins", logging.ERROR, "plugin broken failed in address_before_create") in (
        caplog.record_tuples
    )


def test_before_update_hook_is_not_called_for_an_empty_patch(
    client, admin, customer, register_plugin, events
):
    # given an address, and a plugin that records every before-update
    address = add_address(client, customer, admin)

    class Watcher(Recorder):
        def __init__(self):
            super().__init__()
            self.before = []

        @hookimpl
        def address_before_update(self, address, data):
            self.before.append((address["uuid"], dict(data)))

    watcher = register_plugin(Watcher(), name="watcher")
    before = events()

    # when an empty change is sent
    response = client.patch(address_url(customer, address), json={}, headers=admin)

    # then the address is answered unchanged, and no hook ran and no event was written
    assert response.status_code == 200, response.json
    assert shown(response) == address
    assert watcher.before == []
    assert watcher.calls == []
    assert events() == before


# --- events -----------------------------------------------------------------------------


def test_creating_an_address_writes_one_address_created_event(client, admin, customer, events):
    # when an address is created
    response = client.post(addresses_url(customer), json=ADDRESS, headers=admin)

    # then exactly one address_created event carries the address as answered
    assert response.status_code == 201, response.json
    assert address_events(events) == [("address_created", shown(response))]


def test_updating_an_address_writes_one_address_updated_event(client, admin, customer, events):
    # given an address
    address = add_address(client, customer, admin)
    before = len(events())

    # when two of its fields are changed in one request
    response = client.patch(
        address_url(customer, address),
        json={"city": "Shelbyville", "telephone": "+1 555 0100"},
        headers=admin,
    )

    # then exactly one address_updated event carries the address as answered
    assert response.status_code == 200, response.json
    assert events()[before:] == [("address_updated", shown(response))]


def test_patch_with_unchanged_values_writes_no_event(client, app, admin, customer, events):
    # given an address, last written long ago
    address = add_address(client, customer, admin)
    backdate(app, address)
    before = events()

    # when it is sent its own values again
    response = client.patch(
        address_url(customer, address),
        json={"city": address["city"], "country": "us", "is_default": True},
        headers=admin,
    )

    # then nothing changed: same updated_at, no event
    assert response.status_code == 200, response.json
    assert shown(response) == {**address, "updated_at": LONG_AGO_TEXT}
    assert events() == before


def test_deleting_an_address_writes_one_address_deleted_event(client, admin, customer, events):
    # given an address
    address = add_address(client, customer, admin)
    before = len(events())

    # when it is deleted
    response = client.delete(address_url(customer, address), headers=admin)

    # then exactly one address_deleted event carries the address as it was answered
    assert response.status_code == 200, response.json
    assert shown(response) == address
    assert events()[before:] == [("address_deleted", address)]


def test_customer_address_book_writes_the_same_events(client, auth, admin, customer, events):
    # given the customer's own token
    headers = auth.customer_headers()

    # when the customer creates, changes and deletes an address through /me
    created = client.post("/api/customers/me/addresses", json=ADDRESS, headers=headers)
    url = f"/api/customers/me/addresses/{created.json['data']['uuid']}"
    updated = client.patch(url, json={"city": "Shelbyville"}, headers=headers)
    deleted = client.delete(url, headers=headers)

    # then each change wrote its one event with the address as answered, but
    # for the links: the answers' are the /me routes, the events' the admin's
    assert (created.status_code, updated.status_code, deleted.status_code) == (201, 200, 200)
    answers = [shown(created), shown(updated), shown(deleted)]
    admin_href = f"/api/customers/{customer['uuid']}/addresses/{answers[0]['uuid']}"
    assert {link["href"] for answer in answers for link in answer.pop("links")} == {url}
    assert [(name, {**data, "links": None}) for name, data in address_events(events)] == [
        ("address_created", {**answers[0], "links": None}),
        ("address_updated", {**answers[1], "links": None}),
        ("address_deleted", {**answers[2], "links": None}),
    ]
    assert {link["href"] for _, data in address_events(events) for link in data["links"]} == {
        admin_href
    }


def test_refused_address_requests_write_no_event(client, auth, admin, customer, events):
    # given an address of the customer, and another customer
    address = add_address(client, customer, admin)
    auth.create_customer(email="jane.doe@example.com", full_name="Jane Doe")
    jane = auth.customer_headers(email="jane.doe@example.com")
    before = events()

    # when requests are refused: invalid input, another customer's token, an
    # unknown address, no token
    refused = [
        client.post(addresses_url(customer), json={**ADDRESS, "country": "XX"}, headers=admin),
        client.patch(address_url(customer, address), json={"city": ""}, headers=admin),
        client.patch(address_url(customer, address), json={"city": "Elsewhere"}, headers=jane),
        client.delete(address_url(customer, address), headers=jane),
        client.delete(address_url(customer, {"uuid": str(uuid.uuid4())}), headers=admin),
        client.post(addresses_url(customer), json=ADDRESS),
    ]

    # then each was refused and no event was written
    assert [r.status_code for r in refused] == [400, 400, 403, 403, 404, 401]
    assert events() == before
    assert read_address(client, customer, address, admin) == address
