"""The CRM sync, through the service's pytest plugin: every test's service
writes to a file of the test's own (``service_app`` overridden below)."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime
from pathlib import Path

import pytest
from app.plugin_api import Event

from evershop_crm_sync import plugin
from evershop_crm_sync.journal import Journal, read_ordered

ADDRESS = {
    "full_name": "John Smith",
    "address_1": "1 Main St",
    "city": "Springfield",
    "country": "US",
}


@pytest.fixture
def crm_file(tmp_path):
    return tmp_path / "crm.jsonl"


@pytest.fixture
def service_config(crm_file):
    return {"CRM_SYNC_FILE": str(crm_file)}


def lines(path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []


def an_event(name="customer_updated", sequence=7, event_id=None) -> Event:
    return Event(
        name=name,
        payload={"uuid": "c1", "email": "john@example.com"},
        uuid=event_id or str(uuid.uuid4()),
        created_at=datetime(2026, 12, 10, 9, 30, tzinfo=UTC),
        attempt=1,
        sequence=sequence,
    )


# --- what is written -----------------------------------------------------------------------


def test_a_new_customer_is_one_line_with_its_sequence(crm_file, make_customer):
    customer = make_customer()

    [line] = lines(crm_file)
    assert line["event"] == "customer_registered"
    # Events carry the customer as answered, without the answer's links and insertId.
    assert line["payload"] == {k: v for k, v in customer.items() if k not in ("links", "insertId")}
    assert isinstance(line["sequence"], int)
    assert str(uuid.UUID(line["event_id"])) == line["event_id"]


def test_every_customer_and_address_change_is_written_in_order(
    crm_file, service_client, make_customer, admin_headers
):
    customer = make_customer()
    base = f"/api/customers/{customer['uuid']}"
    service_client.patch(base, json={"full_name": "John A. Smith"}, headers=admin_headers)
    address = service_client.post(f"{base}/addresses", json=ADDRESS, headers=admin_headers)
    address_path = f"{base}/addresses/{address.get_json()['data']['uuid']}"
    service_client.patch(address_path, json={"city": "Shelbyville"}, headers=admin_headers)
    service_client.delete(address_path, headers=admin_headers)
    service_client.delete(base, headers=admin_headers)

    written = lines(crm_file)

    assert [line["event"] for line in written] == [
        "customer_registered",
        "customer_updated",
        "address_created",
        "address_updated",
        "address_deleted",
        "customer_deleted",
    ]
    sequences = [line["sequence"] for line in written]
    assert sequences == sorted(sequences)
    assert len(set(sequences)) == len(sequences)


def test_events_of_other_plugins_are_not_written(crm_file, service_client, make_customer):
    make_customer(email="john@example.com")

    service_client.post("/api/customers/reset-password", json={"email": "john@example.com"})

    assert [line["event"] for line in lines(crm_file)] == ["customer_registered"]


def test_the_subscriptions_are_the_customer_and_address_events(service_app):
    with service_app.app_context():
        subscribed = sorted(plugin.subscribe())

    assert subscribed == [
        "account_created",
        "address_created",
        "address_deleted",
        "address_updated",
        "customer_deleted",
        "customer_password_changed",
        "customer_registered",
        "customer_updated",
    ]


# --- at least once ---------------------------------------------------------------------------


def test_an_event_delivered_twice_is_written_once(crm_file, service_app):
    event = an_event()

    with service_app.app_context():
        plugin.record(event)
        plugin.record(event)

    assert [line["event_id"] for line in lines(crm_file)] == [event.uuid]


def test_an_event_another_process_wrote_is_not_written_again(tmp_path):
    path = tmp_path / "crm.jsonl"
    record = {"sequence": 1, "event_id": "e1", "event": "customer_updated"}

    first, second = Journal(path), Journal(path)

    assert first.append(record) is True
    assert second.append(record) is False
    assert lines(path) == [record]


def test_a_half_written_last_line_is_cut_off_before_writing(tmp_path):
    path = tmp_path / "crm.jsonl"
    path.write_bytes(b'{"event_id":"e1","sequence":1}\n{"event_id":"e2","seq')

    Journal(path).append({"sequence": 2, "event_id": "e2"})

    assert lines(path) == [{"event_id": "e1", "sequence": 1}, {"event_id": "e2", "sequence": 2}]


@pytest.mark.service_config(EVENTS_RETRY_DELAY=0)  # retried as soon as asked
def test_a_file_that_cannot_be_written_is_retried(crm_file, make_customer, deliver_events):
    crm_file.mkdir()  # a folder where the file goes: it cannot be opened
    make_customer()
    crm_file.rmdir()

    delivered = deliver_events()

    assert delivered == 1
    assert [line["event"] for line in lines(crm_file)] == ["customer_registered"]


# --- the CRM side ----------------------------------------------------------------------------


def test_read_ordered_sorts_by_sequence_and_drops_repeats(tmp_path):
    path = tmp_path / "crm.jsonl"
    path.write_text(
        '{"event_id":"b","sequence":9}\n'
        '{"event_id":"a","sequence":3}\n'
        '{"event_id":"b","sequence":9}\n'
        '{"event_id":"c","sequence":5}\n'
    )

    assert [record["event_id"] for record in read_ordered(path)] == ["a", "c", "b"]


def test_a_relative_crm_sync_file_is_in_the_instance_folder(service_app_factory):
    app = service_app_factory(CRM_SYNC_FILE="crm.jsonl")

    with app.app_context():
        assert plugin.journal_path() == Path(app.instance_path) / "crm.jsonl"
