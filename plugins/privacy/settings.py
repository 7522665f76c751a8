"""The privacy plugin's settings (README.md, "Configuration")."""

from __future__ import annotations

from app.settings import Setting, rate_limit

MODES = ("anonymise", "delete")

SETTINGS = [
    Setting(
        "CUSTOMER_ERASURE",
        str.lower,
        "anonymise",
        choices=MODES,
        help="anonymise: keep the row with every personal value replaced; delete: delete it",
    ),
    Setting(
        "CUSTOMER_ERASURE_LINK_LIFETIME",
        int,
        24 * 3600,
        minimum=60,
        help="seconds the link that confirms a customer's erasure request stays valid",
    ),
    Setting(
        "RATELIMIT_ERASURE_EMAILS",
        rate_limit,
        "3/hour",
        help="erasure confirmation emails to one account",
    ),
]
