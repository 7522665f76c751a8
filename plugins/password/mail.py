"""The reset email, rendered from the templates ``reset_password_subject.txt``,
``reset_password.txt`` and ``reset_password.html`` (this plugin's own, which a
store overrides with files of the same names in ``MAIL_TEMPLATES_DIR`` or in a
plugin's ``register_mail_templates`` folder)."""

from __future__ import annotations

from pathlib import Path
from urllib.parse import urlencode

from flask import current_app

from app import mail

TEMPLATES = Path(__file__).resolve().parent / "templates"


def reset_link(token: str) -> str:
    return f"{current_app.config['STOREFRONT_URL']}/reset-password?{urlencode({'token': token})}"


def send_reset_email(customer: dict, token: str) -> bool:
    """Render and send the email; False when a ``mail_before_send`` hook
    cancelled it; raises if the mail server does not take it."""
    message = mail.render(
        "reset_password",
        to=customer["email"],
        customer=customer,
        link=reset_link(token),
        lifetime_hours=current_app.config["RESET_PASSWORD_TOKEN_LIFETIME"] // 3600,
    )
    return mail.send(message)
