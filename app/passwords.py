"""Password hashing (bcrypt, EverShop-compatible) and the password rules."""

from __future__ import annotations

import bcrypt
from flask import current_app

from app import metrics
from app.errors import ValidationError
from app.plugins import collect

MAX_PASSWORD_BYTES = 72  # bcrypt reads no further
# Stored in place of a hash for a customer that has no password yet (imported
# without one): not a bcrypt hash, so no password ever matches it, here or in
# EverShop. The customer sets one through a reset link.
UNUSABLE_PASSWORD = "!no-password"


def check_password_rules(password, field: str = "password") -> None:
    """Raise a 400 naming ``field`` unless ``password`` passes every rule:
    the built-in length rules, then each plugin's ``password_rules``."""
    if not isinstance(password, str):
        raise ValidationError.from_messages({field: ["Not a valid string."]})
    minimum = current_app.config["PASSWORD_MIN_LENGTH"]
    problem = None
    if len(password) < minimum:
        problem = f"Must be at least {minimum} characters long."
    elif len(password.encode("utf-8")) > MAX_PASSWORD_BYTES:
        problem = f"Must be at most {MAX_PASSWORD_BYTES} bytes long in UTF-8."
    else:
        for rule in collect("password_rules"):
            problem = rule(password)
            if problem:
                break
    if problem:
        raise ValidationError.for_field(field, problem)


def hash_password(password: str) -> str:
    """A ``$2b$`` bcrypt hash at ``BCRYPT_ROUNDS``."""
    rounds = current_app.config["BCRYPT_ROUNDS"]
    with metrics.BCRYPT_HASH.time():
        hashed = bcrypt.hashpw(password.encode("utf-8"), bcrypt.gensalt(rounds))
    return hashed.decode("ascii")


def verify_password(password: str, hashed: str | None) -> bool:
    """Check a password against a bcrypt hash (``$2a$``/``$2b$``/``$2y$``).

    With no hash (unknown account) a dummy hash is checked anyway, so that a
    wrong email costs the same time as a wrong password.
    """
    candidate = password.encode("utf-8") if isinstance(password, str) else b""
    if hashed is not None and not hashed.startswith("$2"):
        # No password set (UNUSABLE_PASSWORD): refused, in the time a wrong one takes.
        hashed = None
    if len(candidate) > MAX_PASSWORD_BYTES:
        # bcrypt 5 refuses longer input; such a password was never accepted.
        candidate = candidate[:MAX_PASSWORD_BYTES]
        hashed = None
    target = hashed or _dummy_hash()
    try:
        with metrics.BCRYPT_VERIFY.time():
            ok = bcrypt.checkpw(candidate, target.encode("ascii"))
    except ValueError:  # not a bcrypt hash
        return False
    return ok and hashed is not None


def _dummy_hash() -> str:
    cache = current_app.extensions.setdefault("password_dummy_hash", {})
    rounds = current_app.config["BCRYPT_ROUNDS"]
    if rounds not in cache:
        cache[rounds] = bcrypt.hashpw(b"not a password", bcrypt.gensalt(rounds)).decode()
    return cache[rounds]
