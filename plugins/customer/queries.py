"""The customer queries shared by REST and GraphQL: one customer by its
uuid, and the one builder for customer lists."""

from __future__ import annotations

from dataclasses import dataclass

import sqlalchemy as sa

from app.emails import lookup_key
from app.page_totals import read_page
from plugins.customer.models import Customer, CustomerGroup

# One customer by its uuid (the parameter ``uuid``). Hot statements are built
# once: building one per request costs more than running it (docs/performance.md,
# "Statements built once").
BY_UUID = sa.select(Customer).where(Customer.uuid == sa.bindparam("uuid"))
BY_ID = sa.select(Customer).where(Customer.customer_id == sa.bindparam("customer_id"))
# One customer by its email's lookup key (app/emails.py, ``lookup_key``): any letter case.
BY_EMAIL = sa.select(Customer).where(sa.func.lower(Customer.email) == sa.bindparam("email"))

ORDER_COLUMNS = {
    "email": Customer.email,
    "name": Customer.full_name,
    "status": Customer.status,
    "created_at": Customer.created_at,
}


@dataclass(frozen=True)
class CustomerPage:
    statement: sa.Select  # the page's customers, ordered, limited
    matching: sa.Select  # every matching customer, unordered: what a total counts
    filtered: bool  # any condition at all (an unfiltered total may be estimated)
    page: int
    limit: int

    def read(self):
        """The page's rows and its total (app/page_totals.py)."""
        return read_page(
            self.statement,
            self.matching,
            "customer",
            filtered=self.filtered,
            page=self.page,
            limit=self.limit,
        )


def build_customer_query(filters: dict) -> CustomerPage:
    """Turn validated filters (the list parameters of docs/api.md, "Customers") into SQL.

    ``keyword`` matches name or email, ``full_name`` the name, both as a
    case-insensitive "contains"; ``email`` is an exact, case-insensitive match.
    GraphQL's other operations arrive as ``full_name_nlike`` (name does not
    contain), ``email_like`` and ``email_nlike``. ``group_id`` is the group's
    id, ``group`` its uuid.
    """
    conditions = []
    if filters.get("keyword"):
        needle = filters["keyword"].lower()
        conditions.append(
            sa.or_(
                sa.func.lower(Customer.full_name).contains(needle, autoescape=True),
                sa.func.lower(Customer.email).contains(needle, autoescape=True),
            )
        )
    if filters.get("full_name"):
        needle = filters["full_name"].lower()
        conditions.append(sa.func.lower(Customer.full_name).contains(needle, autoescape=True))
    if filters.get("full_name_nlike"):
        needle = filters["full_name_nlike"].lower()
        conditions.append(
            sa.not_(
                sa.func.coalesce(sa.func.lower(Customer.full_name), "").contains(
                    needle, autoescape=True
                )
            )
        )
    if filters.get("email"):
        conditions.append(sa.func.lower(Customer.email) == lookup_key(filters["email"]))
    if filters.get("email_like"):
        needle = filters["email_like"].lower()
        conditions.append(sa.func.lower(Customer.email).contains(needle, autoescape=True))
    if filters.get("email_nlike"):
        needle = filters["email_nlike"].lower()
        conditions.append(sa.not_(sa.func.lower(Customer.email).contains(needle, autoescape=True)))
    if filters.get("status") is not None:
        conditions.append(Customer.status == filters["status"])
    if filters.get("group_id") is not None:
        conditions.append(Customer.group_id == filters["group_id"])
    if filters.get("group") is not None:
        # The group's uuid; an unknown one matches no customer.
        group_id = sa.select(CustomerGroup.customer_group_id).where(
            CustomerGroup.uuid == filters["group"]
        )
        conditions.append(Customer.group_id == group_id.scalar_subquery())

    page = filters.get("page", 1)
    limit = filters.get("limit", 20)
    column = ORDER_COLUMNS.get(filters.get("ob") or "", Customer.customer_id)
    descending = (
        filters.get("od") or ("desc" if column is Customer.customer_id else "asc")
    ) == "desc"
    order = [column.desc() if descending else column.asc()]
    if column is not Customer.customer_id:
        order.append(Customer.customer_id.desc() if descending else Customer.customer_id.asc())

    statement = (
        sa.select(Customer)
        .where(*conditions)
        .order_by(*order)
        .limit(limit)
        .offset((page - 1) * limit)
    )
    matching = sa.select(Customer.customer_id).where(*conditions)
    return CustomerPage(statement, matching, bool(conditions), page, limit)
