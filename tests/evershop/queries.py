"""EverShop's own customer GraphQL queries, read from the installed package at
test time (they are EverShop's code: never copied into this repository)."""

from __future__ import annotations

import re
from pathlib import Path

from scripts.evershop import package_dir

PAGES = Path("src") / "modules" / "customer" / "pages"
QUERY = re.compile(r"export const query = `(.*?)`;", re.S)
# EverShop fills this in on the server from the page's route.
CONTEXT_UUID = re.compile(r'getContextValue\("customerUuid",\s*null\)')
# Root fields of other EverShop modules (docs/evershop.md, "Differences").
OTHER_MODULES = re.compile(r"^\s*\w+\s*:\s*url\(routeId:\s*\"[^\"]*\"\)\s*$", re.M)
# A customer's orders are the order module's (the admin's order history page).
ORDERS = re.compile(r"\borders\s*\{")


def customer_queries(cache_dir: Path) -> dict[str, tuple[str, str]]:
    """``{page file: (audience, query)}`` for every page of EverShop's customer
    module whose query reads ``customer(…)``, ``customers(…)`` or
    ``currentCustomer``, but for those that read a customer's ``orders``."""
    found = {}
    root = package_dir(cache_dir) / PAGES
    for path in sorted(root.rglob("*")):
        if path.suffix not in {".js", ".jsx", ".ts", ".tsx"}:
            continue
        match = QUERY.search(path.read_text())
        if not match or not re.search(r"\bcustomers?\s*\(|\bcurrentCustomer\b", match.group(1)):
            continue
        if ORDERS.search(match.group(1)):
            continue
        audience = "admin" if "admin" in path.relative_to(root).parts[0] else "public"
        found[str(path.relative_to(root))] = (audience, match.group(1))
    return found


def runnable(query: str, customer_uuid: str) -> str:
    """The query as a client sends it: the page's customer filled in, other
    modules' root fields left out."""
    return OTHER_MODULES.sub("", CONTEXT_UUID.sub(f'"{customer_uuid}"', query))
