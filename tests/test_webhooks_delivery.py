"""Webhook deliveries to real HTTP receivers on loopback ports
(docs/webhooks.md): the body and its signature, retries through the event
outbox when a receiver is slow, down, failing or redirecting, the delivery
log, disabling after a run of failures, and ordering by sequence."""

from __future__ import annotations

import time
import uuid

import pytest

from tests.helpers import count_statements
from tests.webhook_receiver import (  # noqa: F401 (fixtures)
    Answer,
    another_receiver,
    receiver,
    receiver_not_started,
)
from tests.webhooks import SETTINGS, outbox, register, run_events, verify


@pytest.fixture
def app(make_app):
    return make_app(**SETTINGS)


def deliveries(client, headers, endpoint) -> list[dict]:
    response = client.get(f"/api/webhooks/{endpoint['uuid']}/deliveries", headers=headers)
    assert response.status_code == 200, response.json
    return response.json["data"]["items"]


def endpoint_now(client, headers, endpoint) -> dict:
    return client.get(f"/api/webhooks/{endpoint['uuid']}", headers=headers).json["data"]


def test_a_customer_event_is_posted_with_its_id_name_sequence_time_and_payload(
    app, client, auth, receiver
):
    # Given an endpoint that wants new customers
    admin = auth.admin_headers()
    register(client, admin, receiver.url(), ["customer_registered"])

    # When a customer is created and the outbox runs (fan-out, then delivery)
    customer = auth.create_customer()
    (event,) = outbox(app)
    run_events(app, rounds=2)

    # Then the receiver got one POST with the event as JSON
    (request,) = receiver.requests
    assert request.path == "/hook"
    assert request.headers["content-type"] == "application/json"
    assert request.headers["user-agent"].startswith("evershop-customer-service-webhooks/")
    assert request.json == {
        "id": str(event["uuid"]),
        "name": "customer_registered",
        "sequence": event["event_outbox_id"],
        "created_at": customer["created_at"],
        "data": {k: v for k, v in customer.items() if k != "links"},
    }
    assert request.headers["x-webhook-id"] == str(event["uuid"])
    assert request.headers["x-webhook-event"] == "customer_registered"
    assert request.headers["x-webhook-attempt"] == "1"
    # And nothing is left to deliver
    assert outbox(app) == []


def test_the_signature_verifies_with_the_secret_shown_at_registration(client, auth, app, receiver):
    # Given an endpoint, whose secret the admin kept
    admin = auth.admin_headers()
    secret = register(client, admin, receiver.url())["secret"]

    # When a customer event is delivered
    auth.create_customer()
    run_events(app, rounds=2)

    # Then the signature checks out, with a current timestamp
    (request,) = receiver.requests
    timestamp = request.headers["x-webhook-timestamp"]
    assert abs(int(timestamp) - time.time()) < 10
    assert request.headers["x-webhook-signature"].startswith("v1=")
    assert verify(secret, timestamp, request.headers["x-webhook-signature"], request.body)
    # And not with another secret, nor with another body
    assert not verify("x" + secret, timestamp, request.headers["x-webhook-signature"], request.body)
    assert not verify(
        secret, timestamp, request.headers["x-webhook-signature"], request.body + b" "
    )


def test_an_endpoint_gets_only_the_events_it_wants(client, auth, app, receiver, another_receiver):
    # Given one endpoint for deletions only, one for everything
    admin = auth.admin_headers()
    register(client, admin, receiver.url(), ["customer_deleted"])
    register(client, admin, another_receiver.url(), ["*"])

    # When a customer is created, updated and deleted
    customer = auth.create_customer()
    client.patch(f"/api/customers/{customer['uuid']}", json={"full_name": "J"}, headers=admin)
    client.delete(f"/api/customers/{customer['uuid']}", headers=admin)
    run_events(app, rounds=2)

    # Then each got what it asked for
    assert [r.json["name"] for r in receiver.requests] == ["customer_deleted"]
    assert sorted(r.json["name"] for r in another_receiver.requests) == [
        "customer_deleted",
        "customer_registered",
        "customer_updated",
    ]


def test_deliveries_carry_the_sequence_of_their_events_in_the_order_of_the_changes(
    client, auth, app, receiver
):
    # Given an endpoint for every event
    admin = auth.admin_headers()
    register(client, admin, receiver.url())

    # When a customer is created and changed three times
    customer = auth.create_customer()
    for name in ("A", "B", "C"):
        client.patch(f"/api/customers/{customer['uuid']}", json={"full_name": name}, headers=admin)
    sequences = [row["event_outbox_id"] for row in outbox(app)]
    run_events(app, rounds=2)

    # Then ordering the deliveries by sequence gives the changes in their order
    received = sorted(receiver.requests, key=lambda r: r.json["sequence"])
    assert [r.json["sequence"] for r in received] == sequences
    assert [r.json["data"]["full_name"] for r in received] == ["John Smith", "A", "B", "C"]


def test_a_host_name_is_connected_to_at_its_checked_address_with_its_host_header(
    client, auth, app, receiver
):
    # Given an endpoint named by host name
    admin = auth.admin_headers()
    register(client, admin, receiver.url(host="localhost"))

    # When an event is delivered
    auth.create_customer()
    run_events(app, rounds=2)

    # Then the receiver (on 127.0.0.1 only) got it, addressed to the URL's host
    (request,) = receiver.requests
    assert request.headers["host"] == f"localhost:{receiver.port}"


def test_a_delivery_is_logged_with_its_status_duration_and_attempt(client, auth, app, receiver):
    # Given an endpoint
    admin = auth.admin_headers()
    endpoint = register(client, admin, receiver.url())

    # When a customer event is delivered
    auth.create_customer()
    run_events(app, rounds=2)

    # Then its log says so
    (logged,) = deliveries(client, admin, endpoint)
    assert logged["event_name"] == "customer_registered"
    assert logged["event_id"] == receiver.requests[0].headers["x-webhook-id"]
    assert logged["sequence"] == receiver.requests[0].json["sequence"]
    assert (logged["attempt"], logged["success"], logged["status"], logged["error"]) == (
        1,
        True,
        200,
        None,
    )
    assert 0 <= logged["duration_ms"] < 1000


def test_a_receiver_answering_500_is_retried_until_it_answers_200(client, auth, app, receiver):
    # Given an endpoint whose receiver fails once
    admin = auth.admin_headers()
    endpoint = register(client, admin, receiver.url())
    receiver.answer(Answer(500))

    # When a customer event is delivered, and retried
    auth.create_customer()
    run_events(app, rounds=2)
    (pending,) = outbox(app)
    run_events(app)

    # Then the first attempt failed and was kept for a retry, the second delivered
    assert pending["name"] == "webhook_delivery_requested"
    assert pending["attempts"] == 1
    assert "HTTP 500" in pending["last_error"]
    assert [r.headers["x-webhook-attempt"] for r in receiver.requests] == ["1", "2"]
    assert receiver.requests[0].body == receiver.requests[1].body
    log = deliveries(client, admin, endpoint)
    assert [(d["attempt"], d["success"], d["status"], d["error"]) for d in log] == [
        (2, True, 200, None),
        (1, False, 500, "HTTP 500"),
    ]
    assert outbox(app) == []
    assert endpoint_now(client, admin, endpoint)["failure_streak"] == 0


def test_a_slow_receiver_times_out_and_is_delivered_once_it_answers_quickly(
    client, auth, app, receiver
):
    # Given a receiver slower than WEBHOOK_TIMEOUT (1 s) once
    admin = auth.admin_headers()
    endpoint = register(client, admin, receiver.url())
    receiver.answer(Answer(200, delay=3))

    # When the event is delivered
    auth.create_customer()
    started = time.monotonic()
    run_events(app, rounds=2)
    waited = time.monotonic() - started

    # Then the attempt gave up after about the timeout, and the failure is logged
    assert waited < 2.5
    (failed,) = deliveries(client, admin, endpoint)
    assert (failed["success"], failed["status"]) == (False, None)
    assert failed["error"] == "no answer within 1 s (WEBHOOK_TIMEOUT)"
    assert 900 <= failed["duration_ms"] < 2500

    # And the retry, answered at once, delivers it
    run_events(app)
    assert [d["success"] for d in deliveries(client, admin, endpoint)] == [True, False]
    assert outbox(app) == []


def test_a_receiver_trickling_its_answer_is_cut_off_at_the_timeout(client, auth, app, receiver):
    # Given a receiver that sends its answer a byte every 0.2 s (each read is
    # quick, the whole answer takes seconds)
    admin = auth.admin_headers()
    endpoint = register(client, admin, receiver.url())
    receiver.answer(Answer(200, trickle=0.2))

    # When the event is delivered
    auth.create_customer()
    started = time.monotonic()
    run_events(app, rounds=2)

    # Then the attempt ends at WEBHOOK_TIMEOUT, a failure
    assert time.monotonic() - started < 2.5
    (failed,) = deliveries(client, admin, endpoint)
    assert failed["success"] is False
    assert failed["error"] == "no answer within 1 s (WEBHOOK_TIMEOUT)"


def test_a_receiver_that_is_down_is_retried_until_it_is_up(client, auth, app, receiver_not_started):
    # Given an endpoint where nothing listens yet
    admin = auth.admin_headers()
    endpoint = register(client, admin, receiver_not_started.url())

    # When the event is delivered: the connection is refused
    auth.create_customer()
    run_events(app, rounds=2)
    (refused,) = deliveries(client, admin, endpoint)

    # And delivered again once the receiver is up
    receiver_not_started.start()
    run_events(app)

    # Then the first attempt is logged as refused, the second delivered
    assert refused["success"] is False and refused["status"] is None
    assert refused["error"].startswith(
        f"connection to 127.0.0.1:{receiver_not_started.port} failed: "
    )
    assert "refused" in refused["error"].lower()
    assert len(receiver_not_started.requests) == 1
    assert deliveries(client, admin, endpoint)[0]["success"] is True
    assert outbox(app) == []


def test_a_redirect_is_a_failure_and_never_followed(client, auth, app, receiver, another_receiver):
    # Given a receiver that redirects to another address on this machine
    admin = auth.admin_headers()
    endpoint = register(client, admin, receiver.url())
    receiver.answer(Answer(302, headers={"Location": another_receiver.url("/stolen")}))

    # When the event is delivered
    auth.create_customer()
    run_events(app, rounds=2)

    # Then the redirect is a failure, kept for a retry, and nothing went to its target
    (failed,) = deliveries(client, admin, endpoint)
    assert (failed["success"], failed["status"]) == (False, 302)
    assert failed["error"] == "HTTP 302: redirects are not followed"
    assert another_receiver.requests == []
    assert [row["name"] for row in outbox(app)] == ["webhook_delivery_requested"]


def test_a_failing_endpoint_is_retried_alone(client, auth, app, receiver, another_receiver):
    # Given two endpoints, one of which fails twice
    admin = auth.admin_headers()
    register(client, admin, receiver.url())
    register(client, admin, another_receiver.url())
    receiver.answer(Answer(500), Answer(503))

    # When an event is delivered and retried until it succeeds
    auth.create_customer()
    run_events(app, rounds=4)

    # Then the healthy endpoint got it once, the failing one three times
    assert len(another_receiver.requests) == 1
    assert [r.headers["x-webhook-attempt"] for r in receiver.requests] == ["1", "2", "3"]
    assert outbox(app) == []


def test_an_endpoint_is_disabled_after_the_run_of_failures(make_app, receiver, events):
    # Given an endpoint whose receiver always fails, disabled after 3 failures
    from tests.conftest import Auth

    app = make_app(**SETTINGS, WEBHOOK_MAX_CONSECUTIVE_FAILURES=3, WEBHOOK_MIN_FAILING_SECONDS=0)
    client = app.test_client()
    auth = Auth(app, client)
    admin = auth.admin_headers()
    endpoint = register(client, admin, receiver.url())
    receiver.answer(*[Answer(500)] * 10)

    # When an event is delivered and retried: three attempts
    auth.create_customer()
    run_events(app, rounds=4)

    # Then the third failure disabled it, and its delivery stopped there
    assert len(receiver.requests) == 3
    now = endpoint_now(client, admin, endpoint)
    assert now["enabled"] is False
    assert now["failure_streak"] == 3
    assert now["disabled_reason"].startswith("3 failed attempts in a row since ")
    assert now["disabled_reason"].endswith("; last: HTTP 500")
    assert [name for name, _ in events()] == ["webhook_endpoint_disabled"]
    (_, payload) = events()[0]
    assert payload["uuid"] == endpoint["uuid"]
    assert payload["origin"] == f"http://127.0.0.1:{receiver.port}"
    assert payload["failure_streak"] == 3

    # And neither more retries nor new events are sent to it
    auth.create_customer(email="another@example.com")
    run_events(app, rounds=3)
    assert len(receiver.requests) == 3


def test_a_run_of_failures_shorter_than_the_minimum_time_does_not_disable(make_app, receiver):
    # Given an endpoint disabled only after failing for an hour
    from tests.conftest import Auth

    app = make_app(**SETTINGS, WEBHOOK_MAX_CONSECUTIVE_FAILURES=2, WEBHOOK_MIN_FAILING_SECONDS=3600)
    client = app.test_client()
    auth = Auth(app, client)
    admin = auth.admin_headers()
    endpoint = register(client, admin, receiver.url())
    receiver.answer(*[Answer(500)] * 4)

    # When it fails four times within seconds
    auth.create_customer()
    run_events(app, rounds=5)

    # Then it stays enabled, its streak counted
    now = endpoint_now(client, admin, endpoint)
    assert (now["enabled"], now["failure_streak"]) == (True, 4)
    assert now["failing_since"] is not None


def test_enabling_a_disabled_endpoint_clears_its_failure_streak(make_app, receiver):
    # Given an endpoint disabled after a failure
    from tests.conftest import Auth

    app = make_app(**SETTINGS, WEBHOOK_MAX_CONSECUTIVE_FAILURES=1, WEBHOOK_MIN_FAILING_SECONDS=0)
    client = app.test_client()
    auth = Auth(app, client)
    admin = auth.admin_headers()
    endpoint = register(client, admin, receiver.url())
    receiver.answer(Answer(500))
    auth.create_customer()
    run_events(app, rounds=2)
    assert endpoint_now(client, admin, endpoint)["enabled"] is False

    # When an admin enables it again
    response = client.patch(
        f"/api/webhooks/{endpoint['uuid']}", json={"enabled": True}, headers=admin
    )

    # Then it is enabled with a clean streak, and takes new events
    assert response.status_code == 200
    data = response.json["data"]
    assert (data["enabled"], data["failure_streak"], data["failing_since"]) == (True, 0, None)
    assert (data["disabled_at"], data["disabled_reason"]) == (None, None)
    auth.create_customer(email="another@example.com")
    run_events(app, rounds=2)
    assert receiver.requests[-1].json["data"]["email"] == "another@example.com"


def test_pending_deliveries_of_a_disabled_endpoint_are_dropped(client, auth, app, receiver):
    # Given an endpoint with a delivery waiting after a failure
    admin = auth.admin_headers()
    endpoint = register(client, admin, receiver.url())
    receiver.answer(Answer(500))
    auth.create_customer()
    run_events(app, rounds=2)

    # When an admin disables it and the outbox retries
    client.patch(f"/api/webhooks/{endpoint['uuid']}", json={"enabled": False}, headers=admin)
    run_events(app)

    # Then nothing more was sent, and the delivery left the outbox
    assert len(receiver.requests) == 1
    assert outbox(app) == []


def test_a_ping_is_delivered_signed_through_the_same_path(client, auth, app, receiver):
    # Given an endpoint
    admin = auth.admin_headers()
    endpoint = register(client, admin, receiver.url(), ["customer_deleted"])

    # When an admin pings it
    response = client.post(f"/api/webhooks/{endpoint['uuid']}/ping", headers=admin)
    run_events(app)

    # Then a webhook_ping event reached it, signed, and is in its log
    assert response.status_code == 202
    ping = response.json["data"]
    assert ping["event_name"] == "webhook_ping"
    (request,) = receiver.requests
    assert request.headers["x-webhook-event"] == "webhook_ping"
    assert request.json["id"] == ping["event_id"] == request.headers["x-webhook-id"]
    assert request.json["data"] == {"endpoint_uuid": endpoint["uuid"]}
    assert isinstance(request.json["sequence"], int)
    assert verify(
        endpoint["secret"],
        request.headers["x-webhook-timestamp"],
        request.headers["x-webhook-signature"],
        request.body,
    )
    assert deliveries(client, admin, endpoint)[0]["event_name"] == "webhook_ping"


def test_a_rotated_secret_signs_the_next_deliveries(client, auth, app, receiver):
    # Given an endpoint whose secret was rotated
    admin = auth.admin_headers()
    endpoint = register(client, admin, receiver.url())
    response = client.post(f"/api/webhooks/{endpoint['uuid']}/secret", headers=admin)
    assert response.status_code == 200
    rotated = response.json["data"]["secret"]

    # When an event is delivered
    auth.create_customer()
    run_events(app, rounds=2)

    # Then it is signed with the new secret, not the old one
    (request, signature) = (receiver.requests[0], receiver.requests[0].headers)
    args = (signature["x-webhook-timestamp"], signature["x-webhook-signature"], request.body)
    assert rotated != endpoint["secret"]
    assert verify(rotated, *args)
    assert not verify(endpoint["secret"], *args)


def test_a_secret_key_change_fails_deliveries_until_the_secret_is_rotated(make_app, receiver):
    # Given an endpoint made under one SECRET_KEY
    from tests.conftest import Auth

    before = make_app(**SETTINGS)
    client = before.test_client()
    admin = Auth(before, client).admin_headers()
    endpoint = register(client, admin, receiver.url())

    # When the service runs with another SECRET_KEY and an event is delivered
    after = make_app(**SETTINGS, SECRET_KEY="another-secret-key")
    client = after.test_client()
    body = {"email": "ann@example.com", "password": "customer-pass-1", "full_name": "Ann"}
    assert client.post("/api/customers", json=body, headers=admin).status_code == 201
    run_events(after, rounds=2)

    # Then nothing was sent, and the log says what to do
    assert receiver.requests == []
    (failed,) = deliveries(client, admin, endpoint)
    assert failed["error"] == (
        "refused: the endpoint's secret cannot be read with the current SECRET_KEY:"
        " rotate it (POST /api/webhooks/{uuid}/secret)"
    )

    # And after a rotation the retry is delivered
    client.post(f"/api/webhooks/{endpoint['uuid']}/secret", headers=admin)
    run_events(after)
    assert len(receiver.requests) == 1


def test_a_deleted_endpoint_gets_no_pending_delivery(client, auth, app, receiver):
    # Given an endpoint with a delivery waiting after a failure
    admin = auth.admin_headers()
    endpoint = register(client, admin, receiver.url())
    receiver.answer(Answer(500))
    auth.create_customer()
    run_events(app, rounds=2)

    # When it is deleted and the outbox retries
    client.delete(f"/api/webhooks/{endpoint['uuid']}", headers=admin)
    run_events(app)

    # Then nothing more was sent, and nothing waits
    assert len(receiver.requests) == 1
    assert outbox(app) == []


def test_the_secret_never_reaches_the_log(client, auth, app, receiver, caplog):
    # Given an endpoint, and deliveries that succeed and fail
    admin = auth.admin_headers()
    with caplog.at_level("DEBUG"):
        secret = register(client, admin, receiver.url())["secret"]
        receiver.answer(Answer(500))
        auth.create_customer()
        run_events(app, rounds=3)

    # Then the log has the deliveries but never the secret
    assert "webhook delivery to" in caplog.text
    assert secret not in caplog.text
    assert uuid.UUID(receiver.requests[0].headers["x-webhook-id"])


def test_https_goes_to_the_checked_address_with_the_host_name_in_sni_and_the_certificate_check(
    make_app, tmp_path
):
    # Given an https receiver on 127.0.0.1 whose certificate names "localhost",
    # issued by a CA the service is told to trust
    from tests.conftest import Auth
    from tests.webhook_receiver import Receiver, certificates

    ca_file, tls = certificates(tmp_path, "localhost")
    secure = Receiver(tls=tls).start()
    try:
        app = make_app(**{**SETTINGS, "WEBHOOK_ALLOW_HTTP": False}, WEBHOOK_CA_BUNDLE=str(ca_file))
        client = app.test_client()
        auth = Auth(app, client)
        admin = auth.admin_headers()
        endpoint = register(client, admin, secure.url(host="localhost"))

        # When an event is delivered
        auth.create_customer()
        run_events(app, rounds=2)
    finally:
        secure.stop()

    # Then the certificate was checked against the URL's host, and the delivery made
    (request,) = secure.requests
    assert request.headers["host"] == f"localhost:{secure.port}"
    assert deliveries(client, admin, endpoint)[0]["success"] is True


def test_a_certificate_for_another_host_fails_the_delivery(make_app, tmp_path):
    # Given an https receiver whose certificate names another host
    from tests.conftest import Auth
    from tests.webhook_receiver import Receiver, certificates

    ca_file, tls = certificates(tmp_path, "elsewhere.example.test")
    secure = Receiver(tls=tls).start()
    try:
        app = make_app(**SETTINGS, WEBHOOK_CA_BUNDLE=str(ca_file))
        client = app.test_client()
        auth = Auth(app, client)
        admin = auth.admin_headers()
        endpoint = register(client, admin, secure.url(host="localhost"))

        # When an event is delivered
        auth.create_customer()
        run_events(app, rounds=2)
    finally:
        secure.stop()

    # Then nothing was posted, and the log names the certificate problem
    assert secure.requests == []
    (failed,) = deliveries(client, admin, endpoint)
    assert failed["success"] is False
    assert "CERTIFICATE_VERIFY_FAILED" in failed["error"]
    assert "localhost" in failed["error"]


def test_a_batch_reads_the_enabled_endpoints_once_and_the_next_batch_again(
    client, auth, app, receiver
):
    # Given an endpoint and three events waiting to be fanned out
    register(client, auth.admin_headers(), receiver.url(), ["customer_registered"])
    for number in range(3):
        auth.create_customer(email=f"customer{number}@example.com")

    # When one batch fans them out, and the next batch has two new events too
    _, first = count_statements(app, lambda: run_events(app))
    for number in range(3, 5):
        auth.create_customer(email=f"customer{number}@example.com")
    _, second = count_statements(app, lambda: run_events(app))
    run_events(app)

    # Then each batch read the list of endpoints once
    reads_of_the_list = "ORDER BY webhook_endpoint.webhook_endpoint_id"
    assert sum(reads_of_the_list in sql for sql in first) == 1
    assert sum(reads_of_the_list in sql for sql in second) == 1
    # And every event reached the receiver
    assert len(receiver.requests) == 5


def test_an_endpoint_registered_between_batches_gets_the_next_batch_events(
    client, auth, app, receiver
):
    auth.create_customer(email="before@example.com")
    run_events(app)  # fanned out to nobody

    register(client, auth.admin_headers(), receiver.url(), ["customer_registered"])
    auth.create_customer(email="after@example.com")
    run_events(app, rounds=2)

    assert [request.json["data"]["email"] for request in receiver.requests] == ["after@example.com"]


def test_delivery_batch_state_outside_a_batch_keeps_nothing(app):
    from app.plugin_api import delivery_batch_state

    with app.app_context():
        delivery_batch_state("loyalty")["seen"] = True
        again = delivery_batch_state("loyalty")

    assert again == {}
