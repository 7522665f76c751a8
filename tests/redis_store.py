"""The local Redis that shares rate-limit counters between processes, for the
tests that count in it: :func:`require_redis` skips a test without it (fails
it when ``CI`` is set), :func:`remove_keys` removes a test's counters."""

from __future__ import annotations

import pytest
import redis

from tests.conftest import IN_CI

REDIS_URL = "redis://127.0.0.1:6379/0"


def require_redis() -> str:
    """The local Redis's URL; a test that needs it fails in CI when it is not there."""
    try:
        redis.Redis.from_url(REDIS_URL, socket_connect_timeout=2).ping()
    except redis.exceptions.RedisError as error:
        message = f"Redis at {REDIS_URL} is not reachable: {error}"
        if IN_CI:
            pytest.fail(message)
        pytest.skip(message)
    return REDIS_URL


def remove_keys(prefix: str) -> None:
    """Remove every key that contains ``prefix``."""
    server = redis.Redis.from_url(REDIS_URL)
    keys = list(server.scan_iter(match=f"*{prefix}*"))
    if keys:
        server.delete(*keys)
