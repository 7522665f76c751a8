"""Round-to-round stability: one scenario, back-to-back rounds, and what could make them sag.

    python bench/rounds.py                   # patch_customer, 32 conns, 8 x 10 s, defaults
    python bench/rounds.py --scenario reset_known \
        --variant EVENTS_WORKERS=1 --variant 'EVENTS_WORKERS=0 EVENTS_DELIVERY=thread' --repeat 2

For each variant (settings on top of the service's defaults under gunicorn,
``-`` for none, ``vacuum`` to vacuum the tables a write touches after each
round; with ``--repeat`` the variants alternate) it starts the service as
bench/run.py does (fresh database, gunicorn with its defaults, an SMTP sink,
the same seed data), then runs ``--rounds`` rounds of one scenario with
nothing between them: no settling, so whatever a round leaves behind is
paid by the next. After each round it records what could explain a sag:

- the outbox backlog (rows not yet delivered) and the age of the oldest;
- dead rows and autovacuum/autoanalyze runs on the tables a write touches;
- new database sessions (connection churn);
- CPU seconds spent by each gunicorn child in the round (web workers and the
  event worker) and their memory.

Writes bench/results/<date>-<commit>-rounds.json and prints a table per variant.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import secrets
import sys
import tempfile
from pathlib import Path

import psycopg

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.run import (  # noqa: E402 - after the path above
    DEFAULT_DB,
    RESULTS,
    SCENARIOS,
    ensure_wrk,
    log,
    lua_script,
    migrated_service,
    prepare_data,
    result_header,
    run_wrk,
    service_size,
    settle,
)

TABLES = ("customer", "customer_address", "event_outbox", "customer_event")
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


def children(master_pid: int) -> list[int]:
    path = Path(f"/proc/{master_pid}/task/{master_pid}/children")
    return [int(pid) for pid in path.read_text().split()]


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS  # utime + stime


def role(pid: int) -> str:
    title = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
    return "events" if "event" in title else "web"


def rss_kb(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


def database_state(conn: psycopg.Connection) -> dict:
    backlog, oldest = conn.execute(
        "SELECT count(*), extract(epoch FROM now() - min(created_at)) FROM event_outbox"
    ).fetchone()
    tables = {
        name: {"live": live, "dead": dead, "autovacuums": vacuums, "autoanalyzes": analyzes}
        for name, live, dead, vacuums, analyzes in conn.execute(
            "SELECT relname, n_live_tup, n_dead_tup, autovacuum_count, autoanalyze_count"
            " FROM pg_stat_user_tables WHERE relname = ANY(%s)",
            [list(TABLES)],
        )
    }
    sessions = conn.execute(
        "SELECT sessions FROM pg_stat_database WHERE datname = current_database()"
    ).fetchone()[0]
    return {
        "outbox_backlog": backlog,
        "outbox_oldest_s": round(float(oldest), 2) if oldest is not None else None,
        "tables": tables,
        "sessions": sessions,
    }


def rounds_for(variant: str, args, wrk: str, base_db: str, tmpdir: Path) -> dict:
    words = variant.split()
    # "vacuum": VACUUM (ANALYZE) the written tables after each round, as
    # autovacuum would (outside the round's time), for machines that run
    # PostgreSQL with autovacuum off.
    vacuum = "vacuum" in words
    settings = dict(item.split("=", 1) for item in words if "=" in item)
    workers, bcrypt_rounds = service_size()
    with migrated_service(base_db, workers, bcrypt_rounds, settings) as service:
        process, base, env, database_url = service
        with psycopg.connect(database_url, autocommit=True) as conn:
            log(f"{variant}: service up at {base}; preparing data")
            data = prepare_data(base, env, customers=args.customers)
            script = lua_script(args.scenario, {**data, "run_id": secrets.token_hex(4)}, tmpdir)
            settle(base, database_url=database_url)
            run_wrk(wrk, base, script, args.connections, args.warmup)  # warm-up
            settle(base, database_url=database_url)
            pids = children(process.pid)
            niceness = {role(pid): os.getpriority(os.PRIO_PROCESS, pid) for pid in pids}
            log(f"{variant}: nice {niceness}")
            cpu = {pid: cpu_seconds(pid) for pid in pids}
            state = database_state(conn)
            out = []
            for number in range(1, args.rounds + 1):
                run = run_wrk(wrk, base, script, args.connections, args.duration)
                after = database_state(conn)
                now_cpu = {pid: cpu_seconds(pid) for pid in pids}
                used = {"web": 0.0, "events": 0.0}
                for pid in pids:
                    used[role(pid)] += now_cpu[pid] - cpu[pid]
                entry = {
                    **run,
                    "cpu_s": {k: round(v, 2) for k, v in used.items()},
                    "rss_kb": [rss_kb(pid) for pid in pids],
                    "new_sessions": after["sessions"] - state["sessions"],
                    "outbox_backlog": after["outbox_backlog"],
                    "outbox_oldest_s": after["outbox_oldest_s"],
                    "tables": after["tables"],
                }
                out.append(entry)
                log(
                    f"{variant} round {number}: {run['rps']} req/s, p50 {run['p50_ms']} ms,"
                    f" backlog {entry['outbox_backlog']}, cpu web {entry['cpu_s']['web']} s"
                    f" events {entry['cpu_s']['events']} s, sessions +{entry['new_sessions']}"
                )
                if vacuum:
                    for name in TABLES:
                        conn.execute(f"VACUUM (ANALYZE) {name}")
                    after = database_state(conn)
                cpu, state = now_cpu, after
    rps = [r["rps"] for r in out]
    median = sorted(rps)[len(rps) // 2]
    return {
        "nice": niceness,
        "rounds": out,
        "rps": {
            "median": median,
            "min": min(rps),
            "max": max(rps),
            "spread_pct": round((max(rps) - min(rps)) / median * 100, 1) if median else None,
        },
    }


def table(variant: str, result: dict) -> str:
    lines = [
        f"{variant}: spread {result['rps']['spread_pct']} %",
        "",
        "| round | req/s | p50 ms | p99 ms | CPU s web / events | outbox backlog after"
        " | dead rows (customer, outbox, timeline) | autovacuums | new sessions |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for number, r in enumerate(result["rounds"], 1):
        t = r["tables"]

        def dead(name, t=t):
            return t.get(name, {}).get("dead", "-")

        vacuums = sum(v["autovacuums"] + v["autoanalyzes"] for v in t.values())
        lines.append(
            f"| {number} | {r['rps']} | {r['p50_ms']} | {r['p99_ms']} |"
            f" {r['cpu_s']['web']} / {r['cpu_s']['events']} | {r['outbox_backlog']} |"
            f" {dead('customer')}, {dead('event_outbox')}, {dead('customer_event')} |"
            f" {vacuums} | {r['new_sessions']} |"
        )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scenario", default="patch_customer", choices=sorted(SCENARIOS))
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--rounds", type=int, default=8)
    parser.add_argument("--duration", type=float, default=10.0)
    parser.add_argument("--warmup", type=float, default=5.0)
    parser.add_argument("--customers", type=int, default=200)
    parser.add_argument(
        "--variant",
        action="append",
        help="settings for one service, NAME=VALUE separated by spaces ('-': the defaults);"
        " repeat the option for each variant",
    )
    parser.add_argument("--repeat", type=int, default=1, help="times through the variants")
    args = parser.parse_args()
    wrk = ensure_wrk()
    base_db = os.environ.get("BENCH_DATABASE_URL", DEFAULT_DB)
    result = {
        **result_header(),
        "scenario": args.scenario,
        "connections": args.connections,
        "duration_s": args.duration,
        "variants": [],
    }
    with tempfile.TemporaryDirectory() as tmp:
        for _ in range(args.repeat):
            for variant in args.variant or ["-"]:
                measured = rounds_for(variant, args, wrk, base_db, Path(tmp))
                result["variants"].append({"settings": variant, **measured})
                print(table(variant, measured) + "\n", flush=True)
    RESULTS.mkdir(exist_ok=True)
    name = f"{dt.date.today().isoformat()}-{result['commit']}-rounds.json"
    (RESULTS / name).write_text(json.dumps(result, indent=2) + "\n")
    log(f"results: bench/results/{name}")


if __name__ == "__main__":
    main()
