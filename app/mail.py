"""Outgoing mail through Flask-Mail over SMTP.

Every step with the mail server, connecting included, waits at most
``MAIL_TIMEOUT`` seconds, so that a server that accepts and never answers
cannot hold the process that delivers events. Recipients are handed to the
server in their ASCII form (:func:`app.emails.mailbox`).

Without ``MAIL_SERVER`` a message is written to the log instead in development,
so that a developer can follow a reset link without a mail server; in
production it is refused (and so retried), as a log must never hold a link.
"""

from __future__ import annotations

import logging
import smtplib
from pathlib import Path

import flask_mail
import jinja2
from flask import Flask, current_app
from flask_mail import Message

from app.emails import mailbox

log = logging.getLogger(__name__)


class _Connection(flask_mail.Connection):
    """Flask-Mail's connection, opened with a timeout (Flask-Mail has none)."""

    def configure_host(self) -> smtplib.SMTP:
        timeout = current_app.config["MAIL_TIMEOUT"]
        kind = smtplib.SMTP_SSL if self.mail.use_ssl else smtplib.SMTP
        host = kind(self.mail.server, self.mail.port, timeout=timeout)
        try:
            if self.mail.use_tls:
                host.starttls()
            if self.mail.username and self.mail.password:
                host.login(self.mail.username, self.mail.password)
        except BaseException:
            host.close()
            raise
        return host

    def __exit__(self, exc_type, exc_value, tb) -> None:
        if self.host is None:
            return
        if exc_type is None:
            self.host.quit()
        else:
            # After a failure the server may not answer QUIT either.
            self.host.close()


class Mail(flask_mail.Mail):
    def connect(self) -> _Connection:
        return _Connection(current_app.extensions["mail"])


mail = Mail()


def send(to: str, subject: str, text: str, html: str | None = None) -> None:
    """Send one message (plain text, plus HTML when given); raises when the
    server refuses, cannot be reached or does not answer within
    ``MAIL_TIMEOUT``, so that the caller can retry."""
    if not current_app.config["MAIL_SERVER"]:
        if current_app.config["APP_ENV"] == "production":
            # Never a reset link in a production log: keep the email queued.
            raise RuntimeError("MAIL_SERVER is not set: the email waits until it is")
        log.info("mail (no MAIL_SERVER set) to %s: %s\n%s", to, subject, text)
        return
    message = Message(subject=subject, recipients=[mailbox(to)], body=text, html=html)
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
