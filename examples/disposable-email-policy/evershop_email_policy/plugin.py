"""The email policy's hooks.

* ``customer_before_create`` / ``customer_before_update``: an address at a
  disposable domain is refused with a 400 naming ``email`` (sign-ups, admin
  creations, and changes of address alike); any other is normalised before it
  is written.
* ``customer_before_login`` / ``password_before_reset_request``: the address
  the customer types is normalised the same way, so that
  ``John+shop@GMail.com`` still finds ``john@gmail.com``. Neither refuses: an
  account made before the policy keeps working.
"""

from __future__ import annotations

from app.plugin_api import Setting, ValidationError, hookimpl
from flask import current_app

from evershop_email_policy import policy

REFUSED = "Addresses at disposable email domains are not accepted."


@hookimpl
def register_settings():
    return [
        Setting(
            "EMAIL_POLICY_BLOCKED_DOMAINS",
            policy.domains,
            default=(),
            help="comma-separated domains refused besides the built-in disposable ones"
            " (their subdomains too)",
        ),
        Setting(
            "EMAIL_POLICY_NORMALISED_DOMAINS",
            policy.domains,
            default=("gmail.com", "googlemail.com"),
            help="comma-separated domains whose addresses are stored lower case without their +tag",
        ),
    ]


def _checked(email: str) -> str:
    if policy.is_disposable(email, current_app.config["EMAIL_POLICY_BLOCKED_DOMAINS"]):
        raise ValidationError.for_field("email", REFUSED)
    return _normalised(email)


def _normalised(email: str) -> str:
    return policy.normalise(email, current_app.config["EMAIL_POLICY_NORMALISED_DOMAINS"])


@hookimpl
def customer_before_create(data):
    data["email"] = _checked(data["email"])


@hookimpl
def customer_before_update(data):
    if "email" in data:
        data["email"] = _checked(data["email"])


@hookimpl
def customer_before_login(data):
    data["email"] = _normalised(data["email"])


@hookimpl
def password_before_reset_request(data):
    data["email"] = _normalised(data["email"])
