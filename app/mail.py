"""Outgoing mail through Flask-Mail over SMTP.

Without ``MAIL_SERVER`` a message is written to the log instead in development,
so that a developer can follow a reset link without a mail server; in
production it is refused (and so retried), as a log must never hold a link.
"""

from __future__ import annotations

import logging
from pathlib import Path

import jinja2
from flask import Flask, current_app
from flask_mail import Mail, Message

log = logging.getLogger(__name__)

mail = Mail()


def send(to: str, subject: str, text: str, html: str | None = None) -> None:
    """Send one message (plain text, plus HTML when given); raises when the
    server refuses or cannot be reached, so that the caller can retry."""
    if not current_app.config["MAIL_SERVER"]:
        if current_app.config["APP_ENV"] == "production":
            # Never a reset link in a production log: keep the email queued.
            raise RuntimeError("MAIL_SERVER is not set: the email waits until it is")
        log.info("mail (no MAIL_SERVER set) to %s: %s\n%s", to, subject, text)
        return
    message = Message(subject=subject, recipients=[to], body=text, html=html)
    mail.send(message)


def template_environment(package_templates: Path) -> jinja2.Environment:
    """Templates from ``MAIL_TEMPLATES_DIR`` (a store's overrides) first, then
    the plugin's own folder."""
    folders = [current_app.config["MAIL_TEMPLATES_DIR"], str(package_templates)]
    loader = jinja2.FileSystemLoader([folder for folder in folders if folder])
    return jinja2.Environment(
        loader=loader,
        autoescape=jinja2.select_autoescape(enabled_extensions=("html",), default=False),
        keep_trailing_newline=False,
        undefined=jinja2.StrictUndefined,
    )


def init_app(app: Flask) -> None:
    # Flask-Mail reads these once; our config always carries them.
    app.config.setdefault("MAIL_SUPPRESS_SEND", False)
    mail.init_app(app)
