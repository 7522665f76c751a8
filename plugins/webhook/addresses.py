"""Where a webhook may be sent: the URL rules and the address policy that keeps
deliveries off the service's own network (docs/webhooks.md, "Addresses").

A URL is checked when an endpoint is registered or changed, and again right
before every delivery, because what a host name resolves to can change. Every
address the name resolves to must be public; the delivery then connects to one
of exactly those addresses (see :mod:`plugins.webhook.sending`), so that a
second lookup cannot swap in another one.
"""

from __future__ import annotations

import ipaddress
import re
import socket
from dataclasses import dataclass

import httpx

MAX_URL_LENGTH = 2048

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

# Refused unless WEBHOOK_ALLOW_PRIVATE=true, each with the word a refusal uses.
_NETWORKS = [
    (ipaddress.ip_network(network), kind)
    for network, kind in (
        ("0.0.0.0/8", "unspecified"),
        ("10.0.0.0/8", "private"),
        ("100.64.0.0/10", "carrier-grade NAT"),
        ("127.0.0.0/8", "loopback"),
        ("169.254.0.0/16", "link-local"),
        ("172.16.0.0/12", "private"),
        ("192.0.0.0/24", "reserved"),
        ("192.0.2.0/24", "documentation"),
        ("192.88.99.0/24", "reserved"),
        ("192.168.0.0/16", "private"),
        ("198.18.0.0/15", "benchmarking"),
        ("198.51.100.0/24", "documentation"),
        ("203.0.113.0/24", "documentation"),
        ("224.0.0.0/4", "multicast"),
        ("240.0.0.0/4", "reserved"),
        ("::/128", "unspecified"),
        ("::1/128", "loopback"),
        ("64:ff9b:1::/48", "private"),
        ("100::/64", "reserved"),
        ("2001::/23", "reserved"),
        ("2001:db8::/32", "documentation"),
        ("fc00::/7", "private"),
        ("fe80::/10", "link-local"),
        ("fec0::/10", "site-local"),
        ("ff00::/8", "multicast"),
    )
]

# Cloud instance metadata services: refused even with WEBHOOK_ALLOW_PRIVATE=true,
# as they hand out the host's credentials.
METADATA = frozenset(
    ipaddress.ip_address(address)
    for address in ("169.254.169.254", "fd00:ec2::254", "100.100.100.200")
)

# Host names as resolvers take them, once in ASCII (IDNA): dot-separated labels.
_LABEL = r"[a-z0-9_](?:[a-z0-9_-]{0,61}[a-z0-9_])?"
_HOSTNAME = re.compile(rf"^(?=.{{1,253}}$){_LABEL}(?:\.{_LABEL})*\.?$", re.IGNORECASE)


class Refused(ValueError):
    """A URL or address that deliveries may not go to; the message says why."""


@dataclass(frozen=True)
class Target:
    """A checked URL and the addresses its host resolved to, all allowed."""

    url: httpx.URL
    host: str  # as sent in SNI: ASCII (IDNA), no brackets
    addresses: tuple[IPAddress, ...]

    @property
    def named(self) -> bool:
        """Whether the URL names its host (rather than giving an address)."""
        return not _is_ip(self.host)


def parse(text: str, allow_http: bool) -> httpx.URL:
    """The URL in ``text`` if its form is acceptable; :class:`Refused` otherwise."""
    if not isinstance(text, str) or not text.strip():
        raise Refused("Must be an absolute http or https URL.")
    text = text.strip()
    if len(text) > MAX_URL_LENGTH:
        raise Refused(f"Must be at most {MAX_URL_LENGTH} characters long.")
    try:
        url = httpx.URL(text)
    except (httpx.InvalidURL, ValueError) as error:
        raise Refused(f"Not a valid URL ({error}).") from None
    if url.scheme not in ("http", "https"):
        raise Refused("Must be an absolute http or https URL.")
    if url.scheme == "http" and not allow_http:
        raise Refused("Must use https (plain http is refused unless WEBHOOK_ALLOW_HTTP=true).")
    if url.userinfo:
        raise Refused("Must not hold a user name or password; the signature authenticates.")
    host = url.raw_host.decode("ascii")
    if not host or not (_is_ip(host) or _HOSTNAME.match(host)):
        raise Refused("Must name a valid host.")
    if url.port is not None and not 0 < url.port < 65536:
        raise Refused("Must have a port between 1 and 65535.")
    return url


def refusal(address: IPAddress, allow_private: bool) -> str | None:
    """Why deliveries may not go to ``address``, or None if they may."""
    if address in METADATA:
        return "a cloud metadata address"
    if allow_private:
        return None
    if isinstance(address, ipaddress.IPv6Address):
        # IPv4 addresses carried in IPv6 ones are judged as themselves.
        embedded = address.ipv4_mapped or _nat64(address) or address.sixtofour
        if embedded is None and address.teredo:
            embedded = address.teredo[1]
        if embedded is not None:
            return refusal(embedded, allow_private)
    for network, kind in _NETWORKS:
        if address in network:
            article = "an" if kind[0] in "aeiou" else "a"
            return f"{article} {kind} address"
    if not address.is_global:
        return "a non-public address"
    return None


def check(text: str, allow_private: bool, allow_http: bool) -> Target:
    """Parse ``text``, resolve its host (every A and AAAA record) and check
    every address. :class:`Refused` says what is wrong, naming the address."""
    url = parse(text, allow_http)
    host = url.raw_host.decode("ascii")
    port = url.port or (443 if url.scheme == "https" else 80)
    addresses = resolve(host, port)
    for address in addresses:
        reason = refusal(address, allow_private)
        if reason:
            shown = "" if _is_ip(host) else f"{host} resolves to "
            hint = "" if address in METADATA else " (WEBHOOK_ALLOW_PRIVATE is off)"
            raise Refused(f"Not allowed: {shown}{address}, {reason}{hint}.")
    return Target(url, host, addresses)


def resolve(host: str, port: int) -> tuple[IPAddress, ...]:
    """Every address ``host`` resolves to, in the resolver's order, without
    repeats; :class:`Refused` when it resolves to none."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError) as error:
        raise Refused(f"The host {host} does not resolve ({error.args[-1]}).") from None
    found = []
    for _family, _type, _proto, _name, sockaddr in infos:
        address = ipaddress.ip_address(sockaddr[0].split("%", 1)[0])
        if address not in found:
            found.append(address)
    if not found:
        raise Refused(f"The host {host} does not resolve.")
    return tuple(found)


def origin(text: str) -> str:
    """``scheme://host:port`` of a stored URL, for logs and events: never its
    path or query, which may hold a receiver's token."""
    try:
        url = httpx.URL(text)
    except (httpx.InvalidURL, ValueError):
        return "(an invalid URL)"
    return f"{url.scheme}://{url.netloc.decode('ascii')}"


def _nat64(address: ipaddress.IPv6Address) -> ipaddress.IPv4Address | None:
    if address in _WELL_KNOWN_NAT64:
        return ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
    return None


_WELL_KNOWN_NAT64 = ipaddress.ip_network("64:ff9b::/96")


def _is_ip(host: str) -> bool:
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return False
    return True
