"""Limits on failed logins (docs/api.md, "Rate limits").

Three counters guard every admin and customer login:

- one account from one client address (``RATELIMIT_LOGIN_FAILURES``): past it,
  that address's logins for that account get 429 until the window passes,
  while the owner elsewhere is not affected;
- one client address, whatever the account (``RATELIMIT_LOGIN_FAILURES_PER_ADDRESS``);
- one account, whatever the address (``RATELIMIT_LOGIN_FAILURES_PER_ACCOUNT``),
  a much higher ceiling: the failure that reaches it makes the account's next
  login wait a second, each further one doubles the wait (up to
  ``RATELIMIT_LOGIN_DELAY_MAX``), and one password is checked per wait.

A login is counted *before* its password is checked, with the storage's atomic
increment, and given back when the password turns out right: concurrent
requests never get more checks than a limit allows. Each counter is a fixed
window that starts with its first count. Keys name an account by a keyed hash
of its email, never the email, and carry a generation that :func:`unlock`
bumps to void every counter of the account, from every address, at once.
"""

from __future__ import annotations

import hashlib
import hmac
import time
from dataclasses import dataclass, field

import limits
from flask import current_app
from limits.storage import MemoryStorage, RedisStorage, Storage

from app.emails import lookup_key
from app.errors import TooManyRequests
from app.ratelimit import client_address, refusal

ACCOUNT_REFUSED = "Too many failed logins for this account: try again later."
ADDRESS_REFUSED = "Too many failed logins from this address: try again later."

# Longer than any window or wait it guards: counters of an older generation
# must be gone before the generation key expires and numbering starts again.
GENERATION_LIFETIME = 30 * 24 * 3600

# Decrement a counter that still exists: giving back an attempt whose window
# has just ended must not leave a negative count for the next window.
_GIVE_BACK_LUA = (
    "if redis.call('exists', KEYS[1]) == 1 then return redis.call('decr', KEYS[1]) end return 0"
)


class CountersOutOfReach(RuntimeError):
    """The counters live in each web process's memory, where no command reaches."""


@dataclass
class LoginAttempt:
    """A login counted against its limits; say how the password check ended."""

    storage: Storage | None = None
    counted: list[str] = field(default_factory=list)
    wait_key: str = ""
    account_failures: int = 0
    ceiling: int = 0

    def failed(self) -> None:
        """Keep the counts; the failure that reaches the account's ceiling
        starts the account's first wait (one second)."""
        if self.storage is not None and self.account_failures == self.ceiling:
            self.storage.incr(self.wait_key, 1)

    def succeeded(self) -> None:
        """Give the counts back: a right password is no failure."""
        for key in self.counted:
            _give_back(self.storage, key)
        self.counted = []


def begin_login(kind: str, email: str) -> LoginAttempt:
    """Count a login of ``kind`` (``admin`` or ``customer``) for ``email`` from
    the client's address, before its password is checked.

    Raises 429 (with ``Retry-After``), counting nothing, when the account is
    locked for this address, the address has failed too often, or the account
    is past its ceiling and waiting. Writes to the rate-limit storage.
    """
    if not current_app.config["RATELIMIT_ENABLED"]:
        return LoginAttempt()
    storage = _storage()
    prefix = current_app.config["RATELIMIT_KEY_PREFIX"]
    address = client_address()
    account = _account_key(storage, kind, email)
    pair_key = f"{prefix}:login-failures:{account}:{address}"
    address_key = f"{prefix}:login-failures:address:{address}"
    account_key = f"{prefix}:login-failures:{account}"
    pair, per_address, per_account = (_limit(n) for n in ("", "_PER_ADDRESS", "_PER_ACCOUNT"))
    attempt = LoginAttempt(storage, wait_key=f"{prefix}:login-wait:{account}")
    attempt.ceiling = per_account.amount
    try:
        if _count(attempt, pair_key, pair) > pair.amount:
            raise _refusal(storage, pair_key, ACCOUNT_REFUSED, "login_failures")
        if _count(attempt, address_key, per_address) > per_address.amount:
            raise _refusal(storage, address_key, ADDRESS_REFUSED, "login_failures_per_address")
        attempt.account_failures = _count(attempt, account_key, per_account)
        if attempt.account_failures > attempt.ceiling:
            _take_turn(attempt, attempt.account_failures - attempt.ceiling)
    except TooManyRequests:
        attempt.succeeded()  # a refused login was never checked: it counts for nothing
        raise
    return attempt


def unlock(kind: str, email: str) -> bool:
    """Void the failed-login counts of an account, from every address, and its
    wait past the ceiling; the counts of addresses across accounts stay.

    Returns False when the limits are off. Raises :class:`CountersOutOfReach`
    when they are counted in each process's memory.
    """
    config = current_app.config
    if not config["RATELIMIT_ENABLED"]:
        return False
    storage = _storage()
    if isinstance(storage, MemoryStorage):
        raise CountersOutOfReach(
            "RATELIMIT_STORAGE_URI is memory://: the failed-login counters live in each web "
            "process, out of this command's reach. Restart the web processes to clear them."
        )
    storage.incr(_generation_key(kind, email), GENERATION_LIFETIME)
    return True


def _storage() -> Storage:
    return current_app.extensions["rate_limiter"].storage


def _limit(suffix: str) -> limits.RateLimitItem:
    return limits.parse(current_app.config[f"RATELIMIT_LOGIN_FAILURES{suffix}"])


def _digest(email: str) -> str:
    """The account's name in keys: a keyed hash, so that whoever reads the
    storage learns no email, nor can test one."""
    secret = current_app.config["SECRET_KEY"].encode()
    return hmac.new(secret, lookup_key(email).encode(), hashlib.sha256).hexdigest()[:32]


def _generation_key(kind: str, email: str) -> str:
    return f"{current_app.config['RATELIMIT_KEY_PREFIX']}:login-generation:{kind}:{_digest(email)}"


def _account_key(storage: Storage, kind: str, email: str) -> str:
    generation = storage.get(_generation_key(kind, email))
    return f"{kind}:{_digest(email)}:{generation}"


def _count(attempt: LoginAttempt, key: str, item: limits.RateLimitItem) -> int:
    """Count the attempt on ``key`` (a window of ``item``'s length from the
    first count); the count it makes."""
    count = attempt.storage.incr(key, item.get_expiry())
    attempt.counted.append(key)
    return count


def _take_turn(attempt: LoginAttempt, beyond: int) -> None:
    """Past the ceiling, one login at a time once the wait is over: the first
    to increment the free wait key gets the check, and sets the wait that
    follows it should the password be wrong (twice the last, capped)."""
    delay = min(2 ** min(beyond, 40), current_app.config["RATELIMIT_LOGIN_DELAY_MAX"])
    if attempt.storage.incr(attempt.wait_key, delay) != 1:
        raise _refusal(
            attempt.storage, attempt.wait_key, ACCOUNT_REFUSED, "login_failures_per_account"
        )


def _refusal(storage: Storage, key: str, message: str, limit: str) -> TooManyRequests:
    """A 429 of the limit named ``limit`` that says to wait until ``key`` expires."""
    return refusal(message, storage.get_expiry(key) - time.time(), limit)


def _give_back(storage: Storage, key: str) -> None:
    """Take one off ``key``'s count, atomically."""
    if isinstance(storage, MemoryStorage):
        storage.decr(key)
    elif isinstance(storage, RedisStorage):
        storage.get_connection().eval(_GIVE_BACK_LUA, 1, storage.prefixed_key(key))
    else:
        storage.incr(key, 1, amount=-1)
