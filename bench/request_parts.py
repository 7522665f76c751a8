"""Where one request's CPU goes, part by part, in one process.

    python bench/request_parts.py                      # PATCH customer, 2,000 requests
    python bench/request_parts.py --scenario get --requests 5000

It migrates a fresh database as ``make bench`` does (the same seed data, the
production settings), builds the app in this process and sends requests
through Flask's test client, one after the other. It prints the CPU time of
this thread per request (no wait for the database is counted) and, for each
part listed in ``PARTS``, the CPU spent inside it per request (a part called
inside itself counts once). The parts overlap: authentication is inside
``preprocess_request``, which is inside ``full_dispatch_request``. The test
client's own work (building the WSGI environ) is in the total, not in
``wsgi_app``; gunicorn's is in neither. The wrappers cost about 0.1 µs each
call, so compare figures of one kind only: before against after, in
alternating runs (docs/performance.md).

    python bench/request_parts.py --scenario graphql --toggle DATABASE_DRIVER_READS

compares a boolean setting on and off in this one process instead: batches
of ``--batch`` requests alternate between the two (the order flips each
time), and the CPU per request of each side is reported as the median and
quartiles of its batches. A host whose speed drifts from minute to minute
moves both sides alike, which separate runs cannot promise.
"""

from __future__ import annotations

import argparse
import collections
import functools
import importlib
import itertools
import os
import secrets
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.run import DEFAULT_DB, migrated_service, prepare_data  # noqa: E402

# (module, class or None, function): what a request's CPU is split into.
PARTS = [
    ("flask.app", "Flask", "wsgi_app"),
    ("flask.app", "Flask", "full_dispatch_request"),
    ("flask.app", "Flask", "preprocess_request"),
    ("flask.app", "Flask", "finalize_request"),
    ("app.auth.guards", None, "_authenticate"),
    ("app.passwords", None, "hash_password"),
    ("app.db", None, "retrying_reads"),
    ("plugins.customer.routes", None, "_body"),
    ("plugins.customer.service", None, "_row"),
    ("plugins.customer.service", None, "_update"),
    ("plugins.customer.service", None, "present"),
    ("plugins.address.service", None, "create_address"),
    ("app.events", None, "emit"),
    ("app.deferred_inserts", None, "commit"),
    ("app.http", None, "_log_request"),
    ("sqlalchemy.orm.session", "Session", "flush"),
    ("sqlalchemy.orm.session", "Session", "_connection_for_bind"),
    ("sqlalchemy.engine.base", "Connection", "_execute_context"),
    ("app.lazy_begin", None, "_with_begin"),
    ("psycopg.cursor", "Cursor", "execute"),
]

ADDRESS = {
    "full_name": "Bench Customer",
    "address_1": "1 Main St",
    "city": "Springfield",
    "province": "NY",
    "country": "US",
    "postcode": "12345",
    "is_default": False,
}


def measure(spent: collections.Counter, module: str, owner: str | None, name: str) -> None:
    """Replace the function with one that adds its thread CPU time to ``spent``."""
    found = importlib.import_module(module)
    holder = getattr(found, owner) if owner else found
    original = getattr(holder, name)
    key = f"{owner or module}.{name}"
    depth = collections.Counter()

    @functools.wraps(original)
    def measured(*args, **kwargs):
        if depth[key]:
            return original(*args, **kwargs)
        depth[key] += 1
        started = time.thread_time()
        try:
            return original(*args, **kwargs)
        finally:
            spent[key] += time.thread_time() - started
            depth[key] -= 1

    setattr(holder, name, measured)


def requester(client, data: dict, scenario: str):
    headers = {"Authorization": f"Bearer {data['admin_token']}"}
    customer = data["customer_uuids"][0]
    spare = data["address_customer_uuids"][0]
    fields = (
        "customerId uuid email fullName status createdAt { value text }"
        " group { groupName } addresses { uuid city isDefault }"
    )
    query = f'{{ customer(id: "{customer}") {{ {fields} }} }}'
    run = secrets.token_hex(4)  # new emails on every run against one database
    created = itertools.count()

    def send(number: int):
        if scenario == "patch":
            body = {"full_name": f"Bench Customer {number}"}
            return client.patch(f"/api/customers/{customer}", json=body, headers=headers)
        if scenario == "get":
            return client.get(f"/api/customers/{customer}", headers=headers)
        if scenario == "graphql":
            return client.post("/api/admin/graphql", json={"query": query}, headers=headers)
        if scenario == "address_default":  # one of a customer's addresses made its default
            path = data["address_paths"][number % len(data["address_paths"])]
            return client.patch(path, json={"is_default": True}, headers=headers)
        if scenario == "create":
            body = {
                "email": f"parts-{run}-{next(created)}@example.com",
                "password": "bench-password-1",
                "full_name": f"Bench Customer {number}",
            }
            return client.post("/api/customers", json=body, headers=headers)
        return client.post(f"/api/customers/{spare}/addresses", json=ADDRESS, headers=headers)

    return send


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--scenario",
        choices=["patch", "get", "graphql", "address", "address_default", "create"],
        default="patch",
    )
    parser.add_argument("--requests", type=int, default=2000)
    parser.add_argument("--warmup", type=int, default=300)
    parser.add_argument(
        "--toggle", help="a boolean setting to compare on and off (no parts measured)"
    )
    parser.add_argument("--batch", type=int, default=150, help="requests per --toggle batch")
    parser.add_argument(
        "--part",
        action="append",
        default=[],
        help="another part to measure, module:function or module:Class.method",
    )
    args = parser.parse_args()
    parts = list(PARTS)
    for extra in args.part:
        module, _, path = extra.partition(":")
        owner, _, name = path.rpartition(".")
        parts.append((module, owner or None, name))
    base_db = os.environ.get("BENCH_DATABASE_URL", DEFAULT_DB)
    spent: collections.Counter = collections.Counter()
    with migrated_service(base_db, 1, 10) as service:
        _process, base, env, _url = service
        data = prepare_data(base, env, customers=20)
        os.environ.update(env)
        if args.toggle:
            toggle(data, args)
            return
        for part in parts:
            measure(spent, *part)
        from app import create_app

        send = requester(create_app().test_client(), data, args.scenario)
        for number in range(args.warmup):
            send(number)
        spent.clear()
        started = time.thread_time()
        for number in range(args.requests):
            response = send(number)
            if response.status_code >= 300:
                raise SystemExit(f"{response.status_code}: {response.get_data(as_text=True)}")
        total = (time.thread_time() - started) / args.requests * 1e6
    print(f"{args.scenario}: {total:.0f} µs of CPU per request ({args.requests} requests)")
    for key, value in spent.most_common():
        print(f"  {value / args.requests * 1e6:7.0f} µs  {key}")


def toggle(data: dict, args) -> None:
    """``args.toggle`` on and off in alternating batches (see the module's doc)."""
    from app import create_app

    app = create_app()
    if not isinstance(app.config.get(args.toggle), bool):
        raise SystemExit(f"{args.toggle} is not a boolean setting")
    send = requester(app.test_client(), data, args.scenario)
    for number in range(args.warmup):
        send(number)
    spent: dict[bool, list[float]] = {True: [], False: []}
    sent = 0
    for batch in range(max(1, args.requests // (2 * args.batch))):
        for value in (True, False) if batch % 2 == 0 else (False, True):
            app.config[args.toggle] = value
            started = time.thread_time()
            for _ in range(args.batch):
                response = send(sent)
                sent += 1
                if response.status_code >= 300:
                    raise SystemExit(f"{response.status_code}: {response.get_data(as_text=True)}")
            spent[value].append((time.thread_time() - started) / args.batch * 1e6)
    print(
        f"{args.scenario}, {args.toggle} on and off, {len(spent[True])} batches of {args.batch} each:"
    )
    for value in (False, True):
        low, middle, high = statistics.quantiles(spent[value], n=4)
        print(
            f"  {'on ' if value else 'off'}: {middle:5.0f} µs of CPU per request (quartiles {low:.0f}–{high:.0f})"
        )
    change = statistics.median(spent[True]) / statistics.median(spent[False]) - 1
    print(f"  on against off: {change * 100:+.1f} %")


if __name__ == "__main__":
    main()
