"""The data of bench/compare.py: the same rows written into both databases, and
what the Lua builders read about them."""

from __future__ import annotations

import uuid

import bcrypt
import psycopg


def seed_rows(customers: int, spares: int) -> dict:
    """The rows both databases get: customers with two addresses each (the first
    the default), and ``spares`` customers without any, which take the new
    addresses of create_address so that the PATCH address rows stay two a customer."""
    names = ["John Smith", "Jane Smithson", "Ann Lee", "Bob Brown", "Eve Adams"]
    rows = []
    for i in range(customers):
        rows.append(
            {
                "uuid": str(uuid.uuid4()),
                "email": f"customer{i}@example.com",
                "full_name": f"{names[i % len(names)]} {i}",
                "addresses": [
                    {"uuid": str(uuid.uuid4()), "address_1": street, "is_default": n == 0}
                    for n, street in enumerate(("1 Main St", "2 Side St"))
                ],
            }
        )
    for i in range(spares):
        rows.append(
            {
                "uuid": str(uuid.uuid4()),
                "email": f"spare{i}@example.com",
                "full_name": f"Spare {i}",
                "addresses": [],
            }
        )
    # One hash for every customer (bcrypt at cost 10, as both sides make them):
    # a login costs the same whichever password hash it checks.
    password = bcrypt.hashpw(b"bench-password-1", bcrypt.gensalt(10)).decode()
    return {"customers": rows, "password_hash": password}


def write_rows(database_url: str, seed: dict) -> None:
    """Insert the seed rows, then ANALYZE.

    Side effects on EverShop's database: its triggers queue a
    ``customer_created`` event per customer, which its event worker processes.
    """
    customers = seed["customers"]
    with psycopg.connect(database_url, autocommit=False) as conn:
        with conn.cursor() as cur:
            cur.executemany(
                "INSERT INTO customer (uuid, email, password, full_name, status, group_id) "
                "VALUES (%s, %s, %s, %s, 1, 1)",
                [(c["uuid"], c["email"], seed["password_hash"], c["full_name"]) for c in customers],
            )
            cur.executemany(
                "INSERT INTO customer_address (uuid, customer_id, full_name, address_1, city, "
                "province, country, postcode, is_default) "
                "SELECT %s, customer_id, full_name, %s, 'Springfield', 'NY', 'US', '12345', %s "
                "FROM customer WHERE uuid = %s",
                [
                    (a["uuid"], a["address_1"], a["is_default"], c["uuid"])
                    for c in customers
                    for a in c["addresses"]
                ],
            )
        conn.commit()
        conn.autocommit = True
        conn.execute("ANALYZE")


def lua_data(seed: dict, admin_token: str) -> dict:
    """What bench/lua/scenarios.lua reads, the same for both sides but the token.

    Requests in flight at once are for different customers, as in real
    traffic: the addresses are listed every customer's first, then every
    customer's second, and the wrk threads start their walks apart.
    """
    customers = [c for c in seed["customers"] if c["addresses"]]
    spares = [c for c in seed["customers"] if not c["addresses"]]
    return {
        "admin_token": admin_token,
        "customer_uuids": [c["uuid"] for c in customers],
        "address_paths": [
            f"/api/customers/{c['uuid']}/addresses/{c['addresses'][n]['uuid']}"
            for n in range(2)
            for c in customers
        ],
        "address_customer_uuids": [c["uuid"] for c in spares],
        "known_emails": [c["email"] for c in customers],
        "thread_offset": len(customers) // 2 + 1,
    }
