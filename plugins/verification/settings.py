"""The verification plugin's settings (README.md, "Configuration")."""

from __future__ import annotations

from app.settings import Setting, rate_limit

MODES = ("required", "optional", "off")

SETTINGS = [
    Setting(
        "CUSTOMER_EMAIL_VERIFICATION",
        str.lower,
        "optional",
        choices=MODES,
        help="required: unverified accounts cannot log in; optional: links are sent,"
        " logins allowed; off: no links, email changes apply at once",
    ),
    Setting(
        "CUSTOMER_EMAIL_VERIFICATION_LIFETIME",
        int,
        48 * 3600,
        minimum=60,
        help="seconds a verification or email-change link stays valid",
    ),
    Setting(
        "RATELIMIT_VERIFY_EMAIL",
        rate_limit,
        "10/minute",
        help="requests for a new verification link per client address",
    ),
    Setting(
        "RATELIMIT_VERIFY_EMAILS",
        rate_limit,
        "3/hour",
        help="verification and email-change emails to one account",
    ),
]
