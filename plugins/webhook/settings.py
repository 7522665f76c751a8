"""The webhook plugin's settings (README.md, docs/operations.md)."""

from __future__ import annotations

from pathlib import Path

from app.settings import Setting


def _ca_bundle(text: str) -> str:
    if not Path(text).is_file():
        raise ValueError("must name a readable file of PEM certificates")
    return text


SETTINGS = [
    Setting(
        "WEBHOOK_TIMEOUT",
        float,
        default=5.0,
        minimum=0.1,
        help="seconds one delivery may take: connecting, sending and the receiver's answer",
    ),
    Setting(
        "WEBHOOK_ALLOW_PRIVATE",
        bool,
        default=False,
        help="true lets endpoints resolve to loopback, private, link-local and other"
        " non-public addresses (tests, a trusted internal network)",
    ),
    Setting(
        "WEBHOOK_ALLOW_HTTP",
        bool,
        default=False,
        help="true accepts plain http:// endpoint URLs; otherwise https only",
    ),
    Setting(
        "WEBHOOK_CA_BUNDLE",
        _ca_bundle,
        default=None,
        help="a file of PEM CA certificates that https receivers' certificates must chain to,"
        " instead of the public ones (a receiver behind an internal CA)",
    ),
    Setting(
        "WEBHOOK_MAX_CONSECUTIVE_FAILURES",
        int,
        default=20,
        minimum=1,
        help="failed attempts in a row, across an endpoint's deliveries, before it is disabled",
    ),
    Setting(
        "WEBHOOK_MIN_FAILING_SECONDS",
        float,
        default=3600.0,
        minimum=0,
        help="and how long that run of failures must have lasted, so that a burst does not"
        " disable an endpoint",
    ),
    Setting(
        "WEBHOOK_DELIVERY_LOG_DAYS",
        int,
        default=30,
        minimum=1,
        help="days a delivery stays in an endpoint's delivery log",
    ),
]
