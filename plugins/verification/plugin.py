"""Wires the verification plugin into the service."""

from __future__ import annotations

from app.plugins import hookimpl

# Customers are this plugin's subject: it goes through the customer plugin's service.
REQUIRES = ("customer",)


@hookimpl
def register_settings():
    from plugins.verification.settings import SETTINGS

    return SETTINGS


@hookimpl
def register_customer_fields():
    from plugins.verification.fields import customer_fields

    return customer_fields()


@hookimpl
def register_blueprints():
    from plugins.verification.routes import blp

    return [blp]


@hookimpl
def register_events():
    from plugins.verification.events import EVENTS

    return EVENTS


@hookimpl
def register_mail_templates():
    from plugins.verification.mail import TEMPLATES

    return TEMPLATES


@hookimpl
def subscribe():
    from plugins.verification import events, service

    return {
        events.EMAIL_VERIFICATION_SUBMITTED.name: service.on_link_requested,
        events.CUSTOMER_EMAIL_VERIFICATION_REQUESTED.name: service.on_signup,
        events.CUSTOMER_EMAIL_CHANGE_REQUESTED.name: service.on_change_requested,
        events.CUSTOMER_EMAIL_CHANGED.name: service.on_email_changed,
    }


@hookimpl
def customer_login_allowed(customer):
    from plugins.verification.service import check_login

    check_login(customer)


@hookimpl
def customer_before_update(customer, data, context):
    from plugins.verification.service import before_update

    before_update(customer, data, context)


@hookimpl
def event_emitted(name, payload):
    from plugins.verification.service import on_event_emitted

    on_event_emitted(name, payload)


# The privacy plugin's hooks: optional, so that this plugin loads without it.
@hookimpl(optionalhook=True)
def customer_export(customer):
    from plugins.verification.service import export

    return export(customer)


@hookimpl(optionalhook=True)
def customer_erase(customer):
    from plugins.verification.service import erase

    erase(customer)
