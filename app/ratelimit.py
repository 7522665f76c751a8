"""Rate limits (docs/api.md, "Rate limits"), with Flask-Limiter.

Routes opt in with :func:`rate_limited`, naming a limit whose value is the
setting ``RATELIMIT_<NAME>`` (e.g. ``RATELIMIT_TOKENS=30/minute``); the
limiter is built per app in :func:`init_app`. The limits on failed logins are
counted by the login services through :mod:`app.login_limits`; the cap on
reset emails is per account and checked by the password plugin
(:func:`reset_email_allowed`, :func:`count_reset_email`). Storage is in memory
by default; ``RATELIMIT_STORAGE_URI=redis://...`` shares the budgets between
processes (:func:`per_process_warning` says when it should).
``RATELIMIT_ENABLED=false`` switches everything off.
"""

from __future__ import annotations

import ipaddress
import math
import time
from collections.abc import Callable

import limits
from flask import Flask, current_app, g, request
from flask_limiter import Limiter

from app import metrics
from app.errors import TooManyRequests


def client_address() -> str:
    """The socket peer; behind a proxy named in ``TRUSTED_PROXIES``, the
    nearest address in ``X-Forwarded-For`` that is not itself trusted."""
    peer = request.remote_addr or "unknown"
    trusted = current_app.config["TRUSTED_PROXIES"]
    if not trusted or not _is_trusted(peer, trusted):
        return peer
    header = request.headers.get("X-Forwarded-For", "")
    forwarded = [address.strip() for address in header.split(",") if address.strip()]
    for address in reversed(forwarded):
        if not _is_trusted(address, trusted):
            return address
    return forwarded[0] if forwarded else peer


def _is_trusted(address: str, networks) -> bool:
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return False
    return any(ip in network for network in networks)


def rate_limited(name: str, exempt_when: Callable[[], bool] | None = None):
    """Mark a view as limited by the setting ``RATELIMIT_<NAME>`` per client
    address; the limit is attached when the app is built."""

    def mark(view):
        view.rate_limit = (name.upper(), exempt_when)
        return view

    return mark


def _limiter() -> Limiter:
    return current_app.extensions["rate_limiter"]


def _enabled() -> bool:
    return current_app.config["RATELIMIT_ENABLED"]


def _account_limit(name: str) -> limits.RateLimitItem:
    return limits.parse(current_app.config[f"RATELIMIT_{name}"])


def _account_key(key: str) -> str:
    """A per-account counter's key, under ``RATELIMIT_KEY_PREFIX`` as the
    per-address ones are, so that services sharing a storage never mix them."""
    return f"{current_app.config['RATELIMIT_KEY_PREFIX']}:{key}"


def _reset_emails_key(customer_id: int) -> str:
    return _account_key(f"reset-emails:{customer_id}")


def reset_email_allowed(customer_id: int) -> bool:
    """Whether one more reset email may go to this customer now. Only emails
    the mail server took count (:func:`count_reset_email`): an outage spends
    nothing."""
    if not _enabled():
        return True
    return _limiter().limiter.test(_account_limit("RESET_EMAILS"), _reset_emails_key(customer_id))


def count_reset_email(customer_id: int) -> None:
    """Count a reset email the mail server took."""
    if _enabled():
        _limiter().limiter.hit(_account_limit("RESET_EMAILS"), _reset_emails_key(customer_id))


def account_allowed(name: str, key: str) -> bool:
    """Whether one more of something counted per account (an email) is allowed
    now under the limit ``RATELIMIT_<name>``; ``key`` names the account and
    the kind (``verify-emails:42``). Counted by :func:`count_for_account`."""
    if not _enabled():
        return True
    return _limiter().limiter.test(_account_limit(name), _account_key(key))


def count_for_account(name: str, key: str) -> None:
    """Count one against the per-account limit ``RATELIMIT_<name>``."""
    if _enabled():
        _limiter().limiter.hit(_account_limit(name), _account_key(key))


def refusal(message: str, retry_after: float, limit: str = "other") -> TooManyRequests:
    """A 429 of a service's own limit, whose ``Retry-After`` (whole seconds,
    at least 1) reaches the client as is. Records it on ``flask.g``, and
    counts it under ``limit`` (``ratelimit_refusals_total``)."""
    seconds = str(max(1, math.ceil(retry_after)))
    g.own_retry_after = seconds
    metrics.count_refusal(limit)
    return TooManyRequests(message, headers={"Retry-After": seconds})


def _standard_headers(response):
    """Flask-Limiter writes the reset as an epoch time and Retry-After on every
    limited answer, raising a service's own Retry-After to the reset of the
    route's limit; the RateLimit-* headers count seconds, Retry-After belongs
    to refusals, and a service's refusal says its own wait."""
    reset = response.headers.get("RateLimit-Reset")
    if reset and reset.isdigit() and int(reset) > 10**9:
        response.headers["RateLimit-Reset"] = str(max(0, int(reset) - int(time.time())))
    if response.status_code not in (429, 503):
        response.headers.pop("Retry-After", None)
    elif response.status_code == 429 and "own_retry_after" in g:
        response.headers["Retry-After"] = g.own_retry_after
    return response


def init_app(app: Flask) -> None:
    """Build the app's limiter and attach the limits that views asked for."""
    config = app.config
    # Registered before the limiter, so that it runs after the limiter's own
    # after_request (Flask runs them in reverse).
    app.after_request(_standard_headers)
    config.update(
        RATELIMIT_HEADERS_ENABLED=True,
        RATELIMIT_HEADER_LIMIT="RateLimit-Limit",
        RATELIMIT_HEADER_REMAINING="RateLimit-Remaining",
        RATELIMIT_HEADER_RESET="RateLimit-Reset",
        RATELIMIT_HEADER_RETRY_AFTER_VALUE="delta-seconds",
    )
    limiter = Limiter(
        client_address,
        app=app,
        storage_uri=config["RATELIMIT_STORAGE_URI"],
        strategy="moving-window",
        key_prefix=config["RATELIMIT_KEY_PREFIX"],
    )
    app.extensions["rate_limiter"] = limiter
    for endpoint, view in list(app.view_functions.items()):
        marked = getattr(view, "rate_limit", None)
        if marked is None:
            continue
        name, exempt_when = marked
        scope = name.lower()
        setting = f"RATELIMIT_{name}"
        config.setdefault(setting, "60/minute")  # a plugin's limit with no setting
        # Shared: the routes under one name draw from one budget per client.
        app.view_functions[endpoint] = limiter.shared_limit(
            lambda setting=setting: current_app.config[setting],
            scope=scope,
            exempt_when=exempt_when,
            on_breach=lambda _limit, scope=scope: metrics.count_refusal(scope),
        )(view)


def per_process_warning(config: dict, workers: int) -> str | None:
    """The one line to log when production serves with several processes that
    each count rate limits in their own memory, else None."""
    scheme = config["RATELIMIT_STORAGE_URI"].split(":", 1)[0]
    if config["APP_ENV"] != "production" or not config["RATELIMIT_ENABLED"]:
        return None
    if scheme != "memory" or workers <= 1:
        return None
    return (
        f"RATELIMIT_STORAGE_URI is memory:// and {workers} workers serve: each counts rate "
        f"limits on its own, so a client gets up to {workers} times every limit "
        "(set RATELIMIT_STORAGE_URI=redis://host:6379/0 to share the counts)"
    )
