"""One POST to one endpoint, at one of the addresses its host was checked to
resolve to, within ``WEBHOOK_TIMEOUT`` from the first connection attempt to
the receiver's status line.

* The request goes to the checked IP address, with the URL's ``Host`` header
  and, for https, the host name in SNI and in the certificate check (httpx's
  ``sni_hostname`` extension), so a DNS answer that changes between the check
  and the connection cannot redirect it.
* Redirects are never followed: a 3xx is a failure, and no request ever goes
  where the receiver points.
* Environment proxies are ignored (a proxy would resolve the name itself).
* httpx's timeouts bound each step (connecting, each write and read); a timer
  also closes the socket when the whole exchange outlasts the timeout, so a
  receiver that trickles its answer a byte at a time is cut off as well.
* The answer's body is never read: the status says it all.
"""

from __future__ import annotations

import contextlib
import logging
import socket
import ssl
import threading
import time
from dataclasses import dataclass
from importlib import metadata

import httpx

from plugins.webhook.addresses import Target

# httpx logs each request's full URL at INFO; a URL's path or query may hold
# the receiver's token, so only its warnings reach the log.
logging.getLogger("httpx").setLevel(logging.WARNING)

try:
    _VERSION = metadata.version("evershop-customer-service")
except metadata.PackageNotFoundError:  # running from a checkout that is not installed
    _VERSION = "0"
USER_AGENT = f"evershop-customer-service-webhooks/{_VERSION}"


@dataclass(frozen=True)
class Outcome:
    """What one attempt gave: ``ok`` for a 2xx answer."""

    ok: bool
    status: int | None
    duration_ms: int
    error: str | None


class _Deadline:
    """Closes the connection's socket when ``seconds`` have passed; the
    request blocked on it then fails at once."""

    def __init__(self, seconds: float):
        self.seconds = seconds
        self.expired = False
        self._socket = None
        self._lock = threading.Lock()
        self._timer = threading.Timer(seconds, self._expire)
        self._timer.daemon = True

    def __enter__(self):
        self._timer.start()
        return self

    def __exit__(self, *exc):
        self._timer.cancel()

    def trace(self, name: str, info: dict) -> None:
        """httpx's ``trace`` extension: remember the socket of the connection
        (the TLS one once it is wrapped)."""
        if name in ("connection.connect_tcp.complete", "connection.start_tls.complete"):
            stream = info.get("return_value")
            with self._lock:
                self._socket = stream.get_extra_info("socket") if stream else None
                if self.expired:
                    self._shut()

    def _expire(self) -> None:
        with self._lock:
            self.expired = True
            self._shut()

    def _shut(self) -> None:
        if self._socket is None:
            return
        # The plain socket's shutdown, also for a TLS one: its reader wakes up.
        # Already closed means the request is over.
        with contextlib.suppress(OSError):
            socket.socket.shutdown(self._socket, socket.SHUT_RDWR)


def post(
    target: Target,
    body: bytes,
    headers: dict[str, str],
    timeout: float,
    ca_bundle: str | None = None,
) -> Outcome:
    """POST ``body`` to ``target`` (already checked) with ``headers`` added to
    the JSON content type and the user agent. Tries the host's next address
    only when a connection could not be made, so a request is sent at most once.

    :param ca_bundle: a PEM file of the CAs an https receiver's certificate
        must chain to; the public ones (certifi's) when None.
    """
    started = time.monotonic()
    headers = {
        "Content-Type": "application/json",
        "User-Agent": USER_AGENT,
        **headers,
        "Host": target.url.netloc.decode("ascii"),
    }
    extensions = {}
    if target.url.scheme == "https" and target.named:
        extensions["sni_hostname"] = target.host
    status, error = None, None
    with (
        httpx.Client(
            timeout=httpx.Timeout(timeout),
            follow_redirects=False,
            trust_env=False,
            verify=ssl.create_default_context(cafile=ca_bundle) if ca_bundle else True,
        ) as client,
        _Deadline(timeout) as deadline,
    ):
        for address in target.addresses:
            url = target.url.copy_with(host=str(address), fragment=None)
            try:
                with client.stream(
                    "POST",
                    url,
                    content=body,
                    headers=headers,
                    extensions={**extensions, "trace": deadline.trace},
                ) as response:
                    status = response.status_code
                error = _status_error(response)
                break
            except httpx.ConnectError as failure:
                error = f"connection to {_at(target, address)} failed: {_reason(failure)}"
                if deadline.expired:
                    break
            except httpx.TimeoutException:
                error = f"no answer within {timeout:g} s (WEBHOOK_TIMEOUT)"
                break
            except httpx.HTTPError as failure:
                error = (
                    f"no answer within {timeout:g} s (WEBHOOK_TIMEOUT)"
                    if deadline.expired
                    else f"{type(failure).__name__}: {_reason(failure)}"
                )
                break
    duration_ms = round((time.monotonic() - started) * 1000)
    return Outcome(ok=error is None, status=status, duration_ms=duration_ms, error=error)


def _status_error(response: httpx.Response) -> str | None:
    status = response.status_code
    if 200 <= status < 300:
        return None
    if 300 <= status < 400:
        return f"HTTP {status}: redirects are not followed"
    return f"HTTP {status}"


def _at(target: Target, address) -> str:
    port = target.url.port or (443 if target.url.scheme == "https" else 80)
    shown = f"[{address}]" if address.version == 6 else str(address)
    return f"{shown}:{port}"


def _reason(failure: Exception) -> str:
    return " ".join(str(failure).split())[:300] or type(failure).__name__
