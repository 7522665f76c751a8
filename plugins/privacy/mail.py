"""The email that confirms a customer's erasure request, rendered from the
templates ``confirm_erasure_subject.txt``, ``confirm_erasure.txt`` and
``confirm_erasure.html`` (a store overrides them as any other)."""

from __future__ import annotations

from pathlib import Path
from urllib.parse import urlencode

from flask import current_app

from app import mail

TEMPLATES = Path(__file__).resolve().parent / "templates"


def link(token: str) -> str:
    """Where the storefront's page reads the token and posts it to
    ``POST /api/customers/delete-confirm``."""
    return f"{current_app.config['STOREFRONT_URL']}/delete-account?{urlencode({'token': token})}"


def send_confirmation(customer: dict, token: str) -> bool:
    """False when a ``mail_before_send`` hook cancelled it; raises if the mail
    server does not take it."""
    message = mail.render(
        "confirm_erasure",
        to=customer["email"],
        customer=customer,
        link=link(token),
        lifetime_hours=current_app.config["CUSTOMER_ERASURE_LINK_LIFETIME"] // 3600,
    )
    return mail.send(message)
