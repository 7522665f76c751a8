"""The reset email: subject, plain-text and HTML bodies from templates that a
store may override by putting files of the same names in ``MAIL_TEMPLATES_DIR``:
``reset_password_subject.txt``, ``reset_password.txt``, ``reset_password.html``."""

from __future__ import annotations

from pathlib import Path
from urllib.parse import urlencode

from flask import current_app

from app import mail

TEMPLATES = Path(__file__).resolve().parent / "templates"


def reset_link(token: str) -> str:
    return f"{current_app.config['STOREFRONT_URL']}/reset-password?{urlencode({'token': token})}"


def send_reset_email(customer: dict, token: str) -> None:
    """Render and send the email; raises if the mail server does not take it."""
    env = mail.template_environment(TEMPLATES)
    values = {
        "customer": customer,
        "link": reset_link(token),
        "lifetime_hours": current_app.config["RESET_PASSWORD_TOKEN_LIFETIME"] // 3600,
    }
    subject = env.get_template("reset_password_subject.txt").render(values).strip()
    text = env.get_template("reset_password.txt").render(values)
    html = env.get_template("reset_password.html").render(values)
    mail.send(customer["email"], subject, text, html)
