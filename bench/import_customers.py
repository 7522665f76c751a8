"""The import benchmark: ``flask customers import`` of 100,000 customers on PostgreSQL.

    python bench/import_customers.py [--customers 100000] [--format jsonl|csv|shopify]
                                     [--with-hashes] [--batch-size 1000] [--keep FILE]

Writes a file of customers, each with one address (a third of them with a
bcrypt hash, as EverShop's export has, when ``--with-hashes``), into a
temporary folder; makes a fresh PostgreSQL database beside
``BENCH_DATABASE_URL`` (default: the local ``test`` database) and migrates
it; then times ``flask --app wsgi customers import FILE`` as an operator runs
it (its own process, production settings). Then it checks the database holds
every customer and address, imports the file a second time (every record
unchanged) and records both times in ``bench/results/<date>-<commit>-import-<format>.json``.
"""

from __future__ import annotations

import argparse
import csv
import datetime as dt
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import bcrypt
import psycopg

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.run import (  # noqa: E402
    BIN,
    DEFAULT_DB,
    RESULTS,
    ROOT,
    commit_id,
    fresh_database,
    log,
    machine,
    service_env,
)

FIRST = ["James", "Mary", "John", "Patricia", "Robert", "Jennifer", "Michael", "Linda"]
LAST = ["Smith", "Johnson", "Williams", "Brown", "Jones", "Garcia", "Miller", "Davis"]
CITIES = [("New York", "NY", "10001"), ("Chicago", "IL", "60601"), ("Austin", "TX", "73301")]


def customers(count: int, with_hashes: bool):
    """``count`` customers as the export writes them, each with an address."""
    digest = bcrypt.hashpw(b"imported-pass-1", bcrypt.gensalt(10, prefix=b"2a")).decode()
    for number in range(count):
        name = f"{FIRST[number % len(FIRST)]} {LAST[(number // 8) % len(LAST)]}"
        city, province, postcode = CITIES[number % len(CITIES)]
        customer = {
            "email": f"customer{number}@bench.example",
            "full_name": name,
            "status": 1,
            "group_id": 1,
            "addresses": [
                {
                    "full_name": name,
                    "telephone": f"555-{number % 10000:04d}",
                    "address_1": f"{number} Main St",
                    "city": city,
                    "province": province,
                    "country": "US",
                    "postcode": postcode,
                    "is_default": True,
                }
            ],
        }
        if with_hashes and number % 3 == 0:
            customer["password_hash"] = digest
        yield customer


def write_file(path: Path, fmt: str, count: int, with_hashes: bool) -> None:
    with path.open("w", newline="", encoding="utf-8") as stream:
        if fmt == "jsonl":
            for customer in customers(count, with_hashes):
                stream.write(json.dumps(customer) + "\n")
            return
        writer = csv.writer(stream, lineterminator="\n")
        if fmt == "csv":
            columns = ["email", "full_name", "status", "group_id", "addresses", "password_hash"]
            writer.writerow(columns)
            for c in customers(count, with_hashes):
                writer.writerow(
                    [c["email"], c["full_name"], c["status"], c["group_id"]]
                    + [json.dumps(c["addresses"]), c.get("password_hash", "")]
                )
            return
        writer.writerow(
            ["First Name", "Last Name", "Email", "Default Address Address1"]
            + ["Default Address City", "Default Address Province Code"]
            + ["Default Address Country Code", "Default Address Zip", "Phone", "Tags"]
        )
        for c in customers(count, False):
            first, last = c["full_name"].split(" ", 1)
            a = c["addresses"][0]
            writer.writerow(
                [first, last, c["email"], a["address_1"], a["city"], a["province"]]
                + [a["country"], a["postcode"], a["telephone"], "bench"]
            )


def counts(url: str) -> dict:
    with psycopg.connect(url) as conn:
        return {
            table: conn.execute(f"SELECT count(*) FROM {table}").fetchone()[0]
            for table in ("customer", "customer_address", "event_outbox")
        }


def timed_import(env: dict, source: Path, batch_size: int) -> tuple[float, str]:
    started = time.perf_counter()
    finished = subprocess.run(
        [str(BIN / "flask"), "--app", "wsgi", "customers", "import", str(source)]
        + ["--batch-size", str(batch_size)],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
    )
    seconds = time.perf_counter() - started
    if finished.returncode != 0:
        sys.exit(f"the import failed ({finished.returncode}):\n{finished.stderr[-3000:]}")
    for line in finished.stderr.splitlines():
        if line.startswith("progress: "):
            log(f"  {line}")
    return seconds, finished.stdout.strip()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--customers", type=int, default=100_000)
    parser.add_argument("--format", choices=["jsonl", "csv", "shopify"], default="jsonl")
    parser.add_argument("--with-hashes", action="store_true")
    parser.add_argument("--batch-size", type=int, default=1000)
    parser.add_argument("--keep", type=Path, help="also keep the generated file here")
    options = parser.parse_args()

    base = os.environ.get("BENCH_DATABASE_URL", DEFAULT_DB)
    with tempfile.TemporaryDirectory() as folder, fresh_database(base) as url:
        source = Path(folder) / f"customers.{'jsonl' if options.format == 'jsonl' else 'csv'}"
        log(f"writing {options.customers:,} customers ({options.format}) to {source.name}")
        write_file(source, options.format, options.customers, options.with_hashes)
        if options.keep:
            options.keep.write_bytes(source.read_bytes())
        env = service_env(url, port=0, smtp_port=25, workers=1, rounds=10)
        env["EVENTS_DELIVERY"] = "worker"
        migrated = subprocess.run(
            [str(BIN / "flask"), "--app", "wsgi", "db", "upgrade"],
            cwd=ROOT,
            env=env,
            capture_output=True,
            text=True,
        )
        if migrated.returncode != 0:
            sys.exit(migrated.stderr)

        log("importing into a fresh database")
        first, summary = timed_import(env, source, options.batch_size)
        log(f"{first:.1f} s: {summary}")
        found = counts(url)
        if found["customer"] != options.customers or found["customer_address"] != options.customers:
            sys.exit(f"the database holds {found}, not {options.customers:,} of each")
        log("importing the same file again (every record unchanged)")
        second, again = timed_import(env, source, options.batch_size)
        log(f"{second:.1f} s: {again}")

    result = {
        "date": dt.date.today().isoformat(),
        "commit": commit_id(),
        "machine": machine(),
        "customers": options.customers,
        "format": options.format,
        "with_hashes": options.with_hashes,
        "batch_size": options.batch_size,
        "first_import_s": round(first, 1),
        "first_import_per_s": round(options.customers / first),
        "second_import_s": round(second, 1),
        "rows_after_first": found,
    }
    RESULTS.mkdir(exist_ok=True)
    # One file per variant, so the runs of a day do not overwrite each other.
    variant = options.format + ("-hashes" if options.with_hashes else "")
    target = RESULTS / f"{result['date']}-{result['commit']}-import-{variant}.json"
    target.write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result, indent=2))
    log(f"results: {target.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
