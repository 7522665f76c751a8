"""Wires the password plugin into the service."""

from __future__ import annotations

from app.plugins import hookimpl

# Customers are this plugin's subject: it goes through the customer plugin's service.
REQUIRES = ("customer",)


@hookimpl
def register_blueprints():
    from plugins.password.routes import blp

    return [blp]


@hookimpl
def subscribe():
    from plugins.password.events import RESET_PASSWORD_SUBMITTED
    from plugins.password.service import on_reset_submitted

    return {RESET_PASSWORD_SUBMITTED.name: on_reset_submitted}


@hookimpl
def customer_before_update(customer, data):
    # A reset link mailed to the old address must not outlive the change.
    if "email" in data and data["email"] != customer["email"]:
        from plugins.password.service import void_reset_tokens

        void_reset_tokens(customer["customer_id"])


@hookimpl
def register_hookspecs():
    from plugins.password import hookspecs

    return hookspecs


@hookimpl
def register_mail_templates():
    from plugins.password.mail import TEMPLATES

    return TEMPLATES


@hookimpl
def register_events():
    from plugins.password.events import EVENTS

    return EVENTS


@hookimpl
def register_services():
    from plugins.password import service

    # request_reset(email, context): `flask customers import --invite` sends
    # each new customer a reset link the way a reset request does.
    return {"password_reset": service}


# The privacy plugin's hook: optional, so that this plugin loads without it.
@hookimpl(optionalhook=True)
def customer_erase(customer):
    from plugins.password.service import void_reset_tokens

    void_reset_tokens(customer["customer_id"])
