"""The plugin's emails, rendered from its templates (which a store overrides
with files of the same names in ``MAIL_TEMPLATES_DIR`` or a plugin's
``register_mail_templates`` folder):

* ``verify_email``: the link that confirms the customer's address;
* ``confirm_email_change``: to a new address the customer asked for;
* ``email_changed``: to the old address, once a change took effect.
"""

from __future__ import annotations

from pathlib import Path
from urllib.parse import urlencode

from flask import current_app

from app import mail
from plugins.verification.models import CHANGE

TEMPLATES = Path(__file__).resolve().parent / "templates"


def link(token: str) -> str:
    """Where the storefront's page reads the token and posts it to
    ``POST /api/customers/verify-email``."""
    return f"{current_app.config['STOREFRONT_URL']}/verify-email?{urlencode({'token': token})}"


def send_link(customer: dict, purpose: str, address: str, token: str) -> bool:
    """Email a link to ``address``; False when a ``mail_before_send`` hook
    cancelled it; raises if the mail server does not take it."""
    message = mail.render(
        "confirm_email_change" if purpose == CHANGE else "verify_email",
        to=address,
        customer=customer,
        new_email=address,
        link=link(token),
        lifetime_hours=current_app.config["CUSTOMER_EMAIL_VERIFICATION_LIFETIME"] // 3600,
    )
    return mail.send(message)


def send_change_notice(customer: dict, previous_email: str) -> bool:
    """Tell the old address that the account's email is now ``customer["email"]``."""
    message = mail.render(
        "email_changed", to=previous_email, customer=customer, new_email=customer["email"]
    )
    return mail.send(message)
