"""The scenarios bench/compare.py runs on both sides, and the targets they are held to.

Each scenario names the Lua builder (bench/lua/scenarios.lua) each side gets;
docs/performance.md ("Against EverShop") describes them.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Scenario:
    """One request type, as each side serves it."""

    ours: str  # the Lua builder (bench/lua/scenarios.lua) for the service
    evershop: str  # the builder for EverShop
    bound: str  # "bcrypt": bounded by password hashing; "framework" otherwise
    what: str
    evershop_what: str = ""  # when EverShop's request differs from the service's
    evershop_answers_2xx: bool = True  # False where stock EverShop answers an error


ADDRESS_BODY = "full_name, address_1, city, province NY, country US, postcode"
SCENARIOS = {
    "patch_customer": Scenario(
        "patch_customer", "patch_customer", "framework", "PATCH /api/customers/{uuid} full_name"
    ),
    "get_customer": Scenario(
        "get_customer",
        "graphql_customer",
        "framework",
        "GET /api/customers/{uuid}",
        "EverShop has no REST read of one customer: its admin GraphQL customer(id), the "
        "nearest equivalent (the same request as graphql_customer)",
    ),
    "graphql_customer": Scenario(
        "graphql_customer",
        "graphql_customer",
        "framework",
        "POST /api/admin/graphql customer(id) with its group and addresses",
    ),
    "create_address": Scenario(
        "create_address",
        "create_address",
        "framework",
        f"POST /api/customers/{{uuid}}/addresses ({ADDRESS_BODY}), on 20 customers",
    ),
    "patch_address_default": Scenario(
        "patch_address_default",
        "patch_address_default",
        "framework",
        "PATCH /api/customers/{uuid}/addresses/{uuid} is_default=true",
    ),
    "create_customer": Scenario(
        "create_customer",
        "create_customer",
        "bcrypt",
        "POST /api/customers with an admin token, a new email each",
        "EverShop's POST /api/customers is its public sign-up: the same path and body",
    ),
    "customer_token": Scenario(
        "customer_token", "customer_token", "bcrypt", "POST /api/customer/tokens (login)"
    ),
    "reset_known": Scenario(
        "reset_known",
        "reset_known",
        "framework",
        "POST /api/customers/reset-password, known emails",
        "EverShop 2.2.1 has no email service until an extension registers one, and "
        "answers this request 500",
        evershop_answers_2xx=False,
    ),
    "reset_unknown": Scenario(
        "reset_unknown",
        "reset_unknown",
        "framework",
        "POST /api/customers/reset-password, unknown emails",
        "answered 500 by EverShop 2.2.1 without an email service, as reset_known",
        evershop_answers_2xx=False,
    ),
}

# The targets (docs/performance.md, "Against EverShop").
RATIO_TARGET = 3.0
RATIO_SCENARIOS = (
    "patch_customer",
    "get_customer",
    "graphql_customer",
    "create_address",
    "patch_address_default",
)
TAIL_TARGET = 3.0  # p99 ≤ 3 × p50 at 32 connections
BCRYPT_SHARE_TARGET = 0.90
RESET_TOLERANCE = 0.10
