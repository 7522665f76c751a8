"""The loyalty plugin's hooks: what it adds to the service, and nothing else.

* a setting, ``LOYALTY_POINTS_ON_SIGNUP``;
* its tables, made by its own migrations (``migrations/``);
* the field ``loyalty_points`` on every customer: REST answers, events,
  GraphQL (``loyaltyPoints``) and the OpenAPI document;
* a subscriber of ``customer_registered`` that awards the sign-up points;
* the admin route that adjusts a balance.
"""

from __future__ import annotations

from pathlib import Path

import marshmallow as ma
from app.plugin_api import EntityField, Setting, hookimpl

from evershop_loyalty import points


@hookimpl
def register_settings():
    return Setting(
        "LOYALTY_POINTS_ON_SIGNUP",
        int,
        default=100,
        minimum=0,
        help="points a new active customer gets (0: none)",
    )


@hookimpl
def register_migrations():
    return Path(__file__).resolve().parent / "migrations"


@hookimpl
def register_customer_fields():
    return EntityField(
        "loyalty_points",
        ma.fields.Integer(),
        input=(),  # read only: points change through the adjustments route
        load=points.balances,
        default=0,
        graphql="Int",
        description="The customer's loyalty points.",
    )


# At least once, after the commit, retried until it succeeds: the durable way
# to award points (a customer_after_create hook runs once, and its failure is
# only logged). customer_registered is for active customers only.
SUBSCRIPTIONS = {"customer_registered": points.award_sign_up_points}


@hookimpl
def subscribe():
    return SUBSCRIPTIONS


@hookimpl
def register_blueprints():
    from evershop_loyalty.routes import blp

    return blp
