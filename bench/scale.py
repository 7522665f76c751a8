"""The scale benchmark: 1,000,000 customers on PostgreSQL.

    python bench/scale.py [--customers 1000000] [--duration 10]

Seeds the customers (and two addresses each) with ``INSERT ... SELECT
generate_series`` — realistic names and emails, one pre-computed bcrypt hash —
then measures list-with-keyword, list-by-email, GraphQL ``customers`` page 1
and page 500 (20 a page, with addresses), GET by uuid and a customer's
addresses with wrk, and records the query plans of the two list queries.
``LIST_COUNT_LIMIT`` in the environment is passed to the service.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

import bcrypt
import psycopg

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.run import (  # noqa: E402
    BIN,
    DEFAULT_DB,
    RESULTS,
    ROOT,
    call,
    commit_id,
    ensure_wrk,
    free_port,
    fresh_database,
    gunicorn,
    log,
    machine,
    run_wrk,
    service_env,
    settle,
    smtp_sink,
)

FIRST = [
    "James",
    "Mary",
    "John",
    "Patricia",
    "Robert",
    "Jennifer",
    "Michael",
    "Linda",
    "William",
    "Elizabeth",
    "David",
    "Barbara",
    "Richard",
    "Susan",
    "Joseph",
    "Jessica",
    "Thomas",
    "Sarah",
    "Charles",
    "Karen",
    "Daniel",
    "Nancy",
    "Matthew",
    "Lisa",
    "Anthony",
    "Betty",
    "Mark",
    "Margaret",
    "Paul",
    "Sandra",
    "Steven",
    "Ashley",
    "Andrew",
    "Kimberly",
    "Joshua",
    "Emily",
]
LAST = [
    "Smith",
    "Johnson",
    "Williams",
    "Brown",
    "Jones",
    "Garcia",
    "Miller",
    "Davis",
    "Rodriguez",
    "Martinez",
    "Hernandez",
    "Lopez",
    "Gonzalez",
    "Wilson",
    "Anderson",
    "Thomas",
    "Taylor",
    "Moore",
    "Jackson",
    "Martin",
    "Lee",
    "Perez",
    "Thompson",
    "White",
    "Harris",
    "Sanchez",
    "Clark",
    "Ramirez",
    "Lewis",
    "Robinson",
    "Walker",
    "Young",
    "Allen",
    "King",
    "Wright",
    "Scott",
    "Torres",
    "Nguyen",
    "Hill",
    "Flores",
    "Green",
    "Adams",
    "Nelson",
    "Baker",
    "Hall",
    "Rivera",
    "Campbell",
    "Mitchell",
    "Carter",
    "Roberts",
    "Okafor",
    "Kowalczyk",
    "Lindqvist",
]


def seed(url: str, count: int) -> None:
    password = bcrypt.hashpw(b"bench-password-1", bcrypt.gensalt(10)).decode()
    first = "ARRAY[" + ",".join(f"'{n}'" for n in FIRST) + "]"
    last = "ARRAY[" + ",".join(f"'{n}'" for n in LAST) + "]"
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("SET maintenance_work_mem = '256MB'")
        conn.execute(
            f"""
            INSERT INTO customer (email, password, full_name, status, group_id, created_at, updated_at)
            SELECT lower(f) || '.' || lower(l) || '.' || i || '@example.com', %s, f || ' ' || l,
                   CASE WHEN i %% 50 = 0 THEN 0 ELSE 1 END, 1,
                   now() - make_interval(secs => %s - i), now() - make_interval(secs => %s - i)
            FROM (
              SELECT i, ({first})[1 + i %% {len(FIRST)}] AS f, ({last})[1 + (i / {len(FIRST)}) %% {len(LAST)}] AS l
              FROM generate_series(1, %s) AS i
            ) AS names
            """,
            (password, count, count, count),
        )
        conn.execute(
            """
            INSERT INTO customer_address (customer_id, full_name, address_1, city, country, postcode, is_default)
            SELECT customer_id, full_name, (customer_id % 900 + 1) || ' Main St', 'Springfield', 'US',
                   lpad((customer_id % 99999)::text, 5, '0'), true
            FROM customer
            """
        )
        # A second address each, not the default: 2 per customer in all.
        conn.execute(
            """
            INSERT INTO customer_address (customer_id, full_name, address_1, city, country, postcode, is_default)
            SELECT customer_id, full_name, (customer_id % 700 + 1) || ' Oak Ave', 'Shelbyville', 'US',
                   lpad((customer_id % 88888)::text, 5, '0'), false
            FROM customer
            """
        )
        conn.execute("VACUUM ANALYZE customer")
        conn.execute("VACUUM ANALYZE customer_address")


def explain(url: str, sql: str) -> str:
    with psycopg.connect(url) as conn:
        rows = conn.execute("EXPLAIN (ANALYZE, BUFFERS, COSTS OFF) " + sql).fetchall()
    return "\n".join(r[0] for r in rows)


def graphql_page(page: int) -> str:
    return json.dumps(
        {
            "query": (
                '{ customers(filters: [{key: "limit", operation: eq, value: "20"}, '
                f'{{key: "page", operation: eq, value: "{page}"}}]) '
                "{ total totalExact hasMore items { uuid email fullName group { groupName } addresses { uuid city isDefault } } } }"
            )
        }
    )


def scenario_script(
    directory: Path, name: str, method: str, path: str, token: str, body=None
) -> Path:
    lines = [
        f'local headers = {{["Authorization"] = "Bearer {token}", ["Content-Type"] = "application/json"}}',
        f"local body = {json.dumps(body) if body else 'nil'}",
        f'request = function() return wrk.format("{method}", {json.dumps(path)}, headers, body) end',
    ]
    script = directory / f"{name}.lua"
    script.write_text(
        "\n".join(lines) + "\n" + (Path(__file__).parent / "lua" / "report.lua").read_text()
    )
    return script


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--customers", type=int, default=1_000_000)
    parser.add_argument("--duration", type=float, default=10.0)
    parser.add_argument("--connections", type=int, default=16)
    args = parser.parse_args()
    wrk = ensure_wrk()
    result = {
        "date": dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M:%S"),
        "commit": commit_id(),
        "machine": machine(),
        "customers": args.customers,
        "runs": {},
        "plans": {},
    }
    with (
        tempfile.TemporaryDirectory() as tmp,
        fresh_database(DEFAULT_DB) as url,
        smtp_sink() as smtp,
    ):
        tmpdir = Path(tmp)
        env = service_env(url, free_port(), smtp, 2, 10)
        # The lists' count limit (docs/api.md, "Counting"), as the service reads it.
        count_limit = int(os.environ.get("LIST_COUNT_LIMIT", "10000"))
        env["LIST_COUNT_LIMIT"] = str(count_limit)
        result["list_count_limit"] = count_limit
        subprocess.run(
            [str(BIN / "flask"), "db", "upgrade"],
            cwd=ROOT,
            env=env,
            check=True,
            capture_output=True,
        )
        log(f"seeding {args.customers} customers")
        started = dt.datetime.now()
        seed(url, args.customers)
        result["seed_seconds"] = round((dt.datetime.now() - started).total_seconds(), 1)
        log(f"seeded in {result['seed_seconds']} s")
        with psycopg.connect(url) as conn:
            uuid = str(
                conn.execute(
                    "SELECT uuid FROM customer ORDER BY customer_id LIMIT 1 OFFSET 4242"
                ).fetchone()[0]
            )
            email = conn.execute(
                "SELECT email FROM customer WHERE customer_id = 777777 % (SELECT max(customer_id) FROM customer) + 1"
            ).fetchone()[0]
        keyword = "okafor"  # one surname in 53: about 19,000 matches in a million
        result["keyword"], result["email"] = keyword, email
        with gunicorn(env) as (_, base):
            subprocess.run(
                [
                    str(BIN / "flask"),
                    "user",
                    "create",
                    "--email",
                    "scale-admin@example.com",
                    "--password",
                    "scale-admin-password",
                ],
                cwd=ROOT,
                env=env,
                check=True,
                capture_output=True,
            )
            token = call(
                base,
                "POST",
                "/api/user/tokens",
                {"email": "scale-admin@example.com", "password": "scale-admin-password"},
            )["data"]["accessToken"]
            scenarios = {
                "list_keyword": ("GET", f"/api/customers?keyword={keyword}&limit=20", None),
                "list_email": ("GET", f"/api/customers?email={email.upper()}", None),
                "graphql_page_1": ("POST", "/api/admin/graphql", graphql_page(1)),
                "graphql_page_500": ("POST", "/api/admin/graphql", graphql_page(500)),
                "get_by_uuid": ("GET", f"/api/customers/{uuid}", None),
                "customer_addresses": ("GET", f"/api/customers/{uuid}/addresses", None),
            }
            for name, (method, path, body) in scenarios.items():
                script = scenario_script(tmpdir, name, method, path, token, body)
                settle(base)
                run = run_wrk(wrk, base, script, args.connections, args.duration)
                log(f"{name}: {run['rps']} req/s, p50 {run['p50_ms']} ms, p99 {run['p99_ms']} ms")
                result["runs"][name] = run
                # One request alone, so that p50 under load is not the only number.
                single = run_wrk(wrk, base, script, 1, 3)
                result["runs"][name + "_single_connection"] = single
        result["plans"]["list_keyword"] = explain(
            url,
            f"""
            SELECT * FROM customer
            WHERE lower(full_name) LIKE '%{keyword}%' OR lower(email) LIKE '%{keyword}%'
            ORDER BY customer_id DESC LIMIT 20""",
        )
        result["plans"]["list_keyword_count"] = explain(
            url,
            f"""
            SELECT count(*) FROM (SELECT customer_id FROM customer
            WHERE lower(full_name) LIKE '%{keyword}%' OR lower(email) LIKE '%{keyword}%'
            {f"LIMIT {count_limit + 1}" if count_limit else ""}) AS matching""",
        )
        result["plans"]["list_email"] = explain(
            url,
            f"""
            SELECT * FROM customer WHERE lower(email) = lower('{email}')
            ORDER BY customer_id DESC LIMIT 20""",
        )
    RESULTS.mkdir(exist_ok=True)
    variant = "" if count_limit == 10_000 else f"-count-limit-{count_limit}"
    name = f"{dt.date.today().isoformat()}-{result['commit']}-scale{variant}.json"
    (RESULTS / name).write_text(json.dumps(result, indent=2) + "\n")
    print("| query | req/s (16 conns) | p50 ms | p99 ms | p50 ms, 1 conn |")
    print("|---|---|---|---|---|")
    for key, run in result["runs"].items():
        if key.endswith("_single_connection"):
            continue
        single = result["runs"][key + "_single_connection"]
        print(f"| {key} | {run['rps']} | {run['p50_ms']} | {run['p99_ms']} | {single['p50_ms']} |")
    for key, plan in result["plans"].items():
        print(f"\n{key}:\n{plan}")
    log(f"results: bench/results/{name}")


if __name__ == "__main__":
    main()
