"""Rate limits (CONTRACT §7), with Flask-Limiter.

Routes opt in with :func:`rate_limited`, naming a limit whose value is the
setting ``RATELIMIT_<NAME>`` (e.g. ``RATELIMIT_TOKENS=30/minute``); the
limiter is built per app in :func:`init_app`. Two limits are per account
rather than per client address and are checked by the services themselves:
the failed-login lock (:func:`check_login_allowed`, :func:`record_failed_login`)
and the cap on reset emails (:func:`reset_email_allowed`,
:func:`count_reset_email`). Storage is in memory by default;
``RATELIMIT_STORAGE_URI=redis://...`` shares the budgets between processes.
``RATELIMIT_ENABLED=false`` switches everything off.
"""

from __future__ import annotations

import ipaddress
import math
import time
from collections.abc import Callable

import limits
from flask import Flask, current_app, request
from flask_limiter import Limiter

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


def _login_key(kind: str, email: str) -> str:
    return _account_key(f"login-failures:{kind}:{email.strip().lower()}")


def _retry_after(item: limits.RateLimitItem, key: str) -> int:
    stats = _limiter().limiter.get_window_stats(item, key)
    return max(1, math.ceil(stats.reset_time - time.time()))


def check_login_allowed(kind: str, email: str) -> None:
    """429 while the account has had too many failed logins in the window,
    whatever the password now given."""
    if not _enabled():
        return
    item, key = _account_limit("LOGIN_FAILURES"), _login_key(kind, email)
    if not _limiter().limiter.test(item, key):
        retry = _retry_after(item, key)
        raise TooManyRequests(
            "Too many failed logins for this account: try again later.",
            headers={"Retry-After": str(retry)},
        )


def record_failed_login(kind: str, email: str) -> None:
    if _enabled():
        _limiter().limiter.hit(_account_limit("LOGIN_FAILURES"), _login_key(kind, email))


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


def _standard_headers(response):
    """Flask-Limiter writes the reset as an epoch time and Retry-After on every
    limited answer; the RateLimit-* headers count seconds, and Retry-After
    belongs to refusals."""
    reset = response.headers.get("RateLimit-Reset")
    if reset and reset.isdigit() and int(reset) > 10**9:
        response.headers["RateLimit-Reset"] = str(max(0, int(reset) - int(time.time())))
    if response.status_code not in (429, 503):
        response.headers.pop("Retry-After", None)
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
        setting = f"RATELIMIT_{name}"
        config.setdefault(setting, "60/minute")  # a plugin's limit with no setting
        # Shared: the routes under one name draw from one budget per client.
        app.view_functions[endpoint] = limiter.shared_limit(
            lambda setting=setting: current_app.config[setting],
            scope=name.lower(),
            exempt_when=exempt_when,
        )(view)
