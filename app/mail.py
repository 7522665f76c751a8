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

import contextlib
import logging
import smtplib
from dataclasses import dataclass
from pathlib import Path

import flask_mail
import jinja2
from flask import Flask, current_app
from flask_mail import Message

from app.emails import mailbox
from app.plugins import contributions, hooks

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


@dataclass
class OutgoingMail:
    """A message about to be sent, as ``mail_before_send`` hooks see it: they
    may change any field, or call :meth:`cancel`."""

    to: str
    subject: str
    text: str
    html: str | None = None
    template: str | None = None  # the template it was rendered from, if any
    cancelled: str | None = None

    def cancel(self, reason: str) -> None:
        """Do not send this message; ``reason`` is logged."""
        self.cancelled = reason


def send(message: OutgoingMail) -> bool:
    """Send one message (plain text, plus HTML when given) after the
    ``mail_before_send`` hooks. False when a hook cancelled it; raises when
    the server refuses, cannot be reached or does not answer within
    ``MAIL_TIMEOUT``, so that the caller can retry."""
    hooks().mail_before_send(message=message)
    if message.cancelled:
        log.info("mail %s not sent: %s", message.template or message.subject, message.cancelled)
        return False
    if not current_app.config["MAIL_SERVER"]:
        if current_app.config["APP_ENV"] == "production":
            # Never a reset link in a production log: keep the email queued.
            raise RuntimeError("MAIL_SERVER is not set: the email waits until it is")
        log.info(
            "mail (no MAIL_SERVER set) to %s: %s\n%s", message.to, message.subject, message.text
        )
        return True
    mail.send(
        Message(
            subject=message.subject,
            recipients=[mailbox(message.to)],
            body=message.text,
            html=message.html,
        )
    )
    return True


def template_environment() -> jinja2.Environment:
    """Templates from ``MAIL_TEMPLATES_DIR`` (a store's overrides) first, then
    from the plugins' folders (``register_mail_templates``; a plugin loaded
    later overrides one loaded earlier, so a store's plugin overrides the
    built-in ones)."""
    state = current_app.extensions["mail_templates"]
    if state.get("environment") is None:
        # pluggy answers the plugin loaded last first: its folder comes first.
        folders = [current_app.config["MAIL_TEMPLATES_DIR"], *state["folders"]]
        state["environment"] = jinja2.Environment(
            loader=jinja2.FileSystemLoader([str(folder) for folder in folders if folder]),
            autoescape=jinja2.select_autoescape(enabled_extensions=("html",), default=False),
            keep_trailing_newline=False,
            undefined=jinja2.StrictUndefined,
        )
    return state["environment"]


def render(name: str, to: str, **values) -> OutgoingMail:
    """The message of template ``name``: ``<name>_subject.txt``, ``<name>.txt``
    and, when some folder has it, ``<name>.html``."""
    env = template_environment()
    html = None
    with contextlib.suppress(jinja2.TemplateNotFound):
        html = env.get_template(f"{name}.html").render(values)
    return OutgoingMail(
        to=to,
        subject=env.get_template(f"{name}_subject.txt").render(values).strip(),
        text=env.get_template(f"{name}.txt").render(values),
        html=html,
        template=name,
    )


def init_app(app: Flask) -> None:
    """Flask-Mail, and the template folders the plugins ship (call it after
    the plugins are loaded)."""
    # Flask-Mail reads these once; our config always carries them.
    app.config.setdefault("MAIL_SUPPRESS_SEND", False)
    mail.init_app(app)
    folders = contributions(app.extensions["plugins"], "register_mail_templates")
    app.extensions["mail_templates"] = {
        "folders": [Path(folder) for found in folders.values() for folder in found],
        "environment": None,
    }
