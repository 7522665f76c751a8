"""Plugins and email (docs/plugins.md, "Email"): a plugin ships templates that
override the built-in ones, and ``mail_before_send`` changes or cancels any
message. Sent through a real SMTP server."""

from __future__ import annotations

import pluggy
import sqlalchemy as sa

from app.db import db
from plugins.password.models import ResetPasswordToken
from tests.conftest import Auth
from tests.smtp import smtp_server  # noqa: F401 (a fixture)

hookimpl = pluggy.HookimplMarker("evershop")

EMAIL = "john.smith@example.com"


def mail_app(make_app, server, **config):
    return make_app(
        EVENTS_DELIVERY="inline", MAIL_SERVER=server.host, MAIL_PORT=server.port, **config
    )


def request_reset(client):
    response = client.post("/api/customers/reset-password", json={"email": EMAIL})
    assert response.status_code == 200, response.json


def token_count(app) -> int:
    with app.app_context():
        found = db.session.scalar(sa.select(sa.func.count()).select_from(ResetPasswordToken))
        db.session.remove()
    return found


def test_register_mail_templates_folder_overrides_the_built_in_template(
    make_app,
    smtp_server,  # noqa: F811
    tmp_path,
    site_dir,
):
    templates = tmp_path / "templates"
    templates.mkdir()
    (templates / "reset_password_subject.txt").write_text("Your {{ customer.full_name }} link\n")
    site_dir(
        {
            "branding_plugin.py": f"""
                import pluggy

                hookimpl = pluggy.HookimplMarker("evershop")

                @hookimpl
                def register_mail_templates():
                    return {str(templates)!r}
            """
        }
    )
    app = mail_app(make_app, smtp_server, PLUGINS=["branding_plugin"])
    client = app.test_client()
    Auth(app, client).create_customer()

    request_reset(client)

    (message,) = smtp_server.messages
    assert message.subject == "Your John Smith link"
    assert "reset-password?token=" in message.part("plain")  # the other parts stay built-in


def test_mail_before_send_changes_the_message(make_app, smtp_server, register_plugin):  # noqa: F811
    app = mail_app(make_app, smtp_server)

    class Footer:
        @hookimpl
        def mail_before_send(self, message):
            message.text += "\n-- The Shop\n"
            message.subject = f"[Shop] {message.subject}"

    app.extensions["plugins"].register(Footer(), name="footer")
    client = app.test_client()
    Auth(app, client).create_customer()

    request_reset(client)

    (message,) = smtp_server.messages
    assert message.subject == "[Shop] Reset your password"
    assert message.part("plain").replace("\r\n", "\n").endswith("-- The Shop\n")


def test_mail_before_send_cancels_the_reset_email_and_keeps_no_token(
    make_app,
    smtp_server,  # noqa: F811
    caplog,
):
    app = mail_app(make_app, smtp_server)

    class Quiet:
        @hookimpl
        def mail_before_send(self, message):
            if message.template == "reset_password":
                message.cancel("resets are handled by the call centre")

    app.extensions["plugins"].register(Quiet(), name="quiet")
    client = app.test_client()
    Auth(app, client).create_customer()

    with caplog.at_level("INFO", logger="app.mail"):
        request_reset(client)

    assert smtp_server.messages == []
    assert token_count(app) == 0
    assert "not sent: resets are handled by the call centre" in caplog.text
    with app.app_context():
        left = db.session.scalar(sa.text("SELECT count(*) FROM event_outbox WHERE attempts > 0"))
        db.session.remove()
    assert left == 0
