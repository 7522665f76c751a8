"""Rate limits: the client address that is counted, behind trusted proxies
(``TRUSTED_PROXIES``) or not."""

from __future__ import annotations

import ipaddress

from tests.ratelimits.conftest import (
    assert_limit_headers,
    assert_too_many,
    bogus_refresh,
    forwarded,
)

# --- the client address and TRUSTED_PROXIES ---------------------------------------------


def test_forwarded_header_is_ignored_without_trusted_proxies(limited):
    # Given no trusted proxy, and two requests forwarded for different clients
    app = limited(RATELIMIT_TOKENS="2/minute")
    client = app.test_client()
    assert bogus_refresh(client, **forwarded("203.0.113.1")).status_code == 401
    assert bogus_refresh(client, **forwarded("203.0.113.2")).status_code == 401

    # When a third client is named in the header
    response = bogus_refresh(client, **forwarded("203.0.113.3"))

    # Then all three are the one socket peer, and share its budget
    assert_too_many(response)


def test_forwarded_header_is_ignored_from_a_peer_that_is_not_a_trusted_proxy(limited):
    # Given a trusted proxy network that does not hold the peer (127.0.0.1)
    app = limited(RATELIMIT_TOKENS="2/minute", TRUSTED_PROXIES=[ipaddress.ip_network("10.0.0.0/8")])
    client = app.test_client()
    bogus_refresh(client, **forwarded("203.0.113.1"))
    bogus_refresh(client, **forwarded("203.0.113.2"))

    # When
    response = bogus_refresh(client, **forwarded("203.0.113.3"))

    # Then
    assert_too_many(response)


def test_forwarded_clients_behind_a_trusted_proxy_get_separate_budgets(limited):
    # Given the peer is a trusted proxy, and one client it forwards spent its budget
    app = limited(
        RATELIMIT_TOKENS="2/minute", TRUSTED_PROXIES=[ipaddress.ip_network("127.0.0.1/32")]
    )
    client = app.test_client()
    for _ in range(2):
        assert bogus_refresh(client, **forwarded("203.0.113.1")).status_code == 401
    assert_too_many(bogus_refresh(client, **forwarded("203.0.113.1")))

    # When the proxy forwards another client
    response = bogus_refresh(client, **forwarded("203.0.113.2"))

    # Then that client has a budget of its own
    assert response.status_code == 401, response.json
    assert_limit_headers(response, limit=2, remaining=1)


def test_trusted_proxy_network_covers_the_peer(limited):
    # Given a trusted network that holds the peer's address
    app = limited(
        RATELIMIT_TOKENS="1/minute", TRUSTED_PROXIES=[ipaddress.ip_network("10.1.0.0/16")]
    )
    client = app.test_client()
    client.environ_base["REMOTE_ADDR"] = "10.1.2.3"
    assert bogus_refresh(client, **forwarded("203.0.113.1")).status_code == 401

    # When
    response = bogus_refresh(client, **forwarded("203.0.113.2"))

    # Then
    assert response.status_code == 401, response.json


def test_forwarded_chain_counts_the_right_most_address_that_is_not_a_trusted_proxy(limited):
    # Given a trusted proxy that appends the real client to what the client sent
    app = limited(
        RATELIMIT_TOKENS="2/minute", TRUSTED_PROXIES=[ipaddress.ip_network("127.0.0.1/32")]
    )
    client = app.test_client()
    assert bogus_refresh(client, **forwarded("198.51.100.1, 203.0.113.7")).status_code == 401
    assert bogus_refresh(client, **forwarded("198.51.100.2, 203.0.113.7")).status_code == 401

    # When the client makes up yet another address in front of its own
    spoofed = bogus_refresh(client, **forwarded("198.51.100.3, 203.0.113.7"))

    # Then it is still counted as itself; another real client is not
    assert_too_many(spoofed)
    other = bogus_refresh(client, **forwarded("203.0.113.7, 203.0.113.8"))
    assert other.status_code == 401, other.json


def test_forwarded_chain_through_two_trusted_proxies_counts_the_client(limited):
    # Given two trusted proxies, the peer and one inside the network
    app = limited(
        RATELIMIT_TOKENS="1/minute",
        TRUSTED_PROXIES=[ipaddress.ip_network("127.0.0.1/32"), ipaddress.ip_network("10.0.0.0/8")],
    )
    client = app.test_client()
    assert bogus_refresh(client, **forwarded("203.0.113.7, 10.0.0.5")).status_code == 401

    # When the same client comes through the other inner proxy, and another client through it
    same = bogus_refresh(client, **forwarded("203.0.113.7, 10.0.0.6"))
    other = bogus_refresh(client, **forwarded("203.0.113.8, 10.0.0.5"))

    # Then
    assert_too_many(same)
    assert other.status_code == 401, other.json
