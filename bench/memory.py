"""Memory over a long run: each process's RSS while the service answers a million requests.

    python bench/memory.py                                   # 1,000,000 requests, 3 scenarios
    python bench/memory.py --requests 200000 --sample-every 20000

Starts the service as bench/run.py does (fresh database, gunicorn with its
defaults, an SMTP sink, the same seed data), then sends ``--requests``
requests at 16 connections, taking the scenarios in turn in runs of
``--chunk`` seconds (default: GET customer, PATCH customer, admin GraphQL
``customer(id)``: reads, writes with their events, and GraphQL). It records
the RSS of every gunicorn child (the web workers and the event worker) once
each scenario has run once (everything is loaded), and then every
``--sample-every`` requests. Writes bench/results/<date>-<commit>-memory.json
and prints the series.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import secrets
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.rounds import children, role, rss_kb  # noqa: E402 - after the path above
from bench.run import (  # noqa: E402
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
)


def sample(master_pid: int, requests: int, started: float) -> dict:
    processes = sorted(children(master_pid))
    return {
        "requests": requests,
        "elapsed_s": round(time.monotonic() - started, 1),
        "rss_kb": {f"{role(pid)}:{pid}": rss_kb(pid) for pid in processes},
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=1_000_000)
    parser.add_argument("--sample-every", type=int, default=100_000)
    parser.add_argument("--chunk", type=float, default=5.0, help="seconds of one scenario")
    parser.add_argument(
        "--scenarios", default="get_customer,patch_customer,graphql_customer", help="in turn"
    )
    parser.add_argument("--connections", type=int, default=16)
    args = parser.parse_args()
    scenarios = [s for s in args.scenarios.split(",") if s]
    unknown = [s for s in scenarios if s not in SCENARIOS]
    if unknown:
        parser.error(f"unknown scenarios {unknown}")
    wrk = ensure_wrk()
    base_db = os.environ.get("BENCH_DATABASE_URL", DEFAULT_DB)
    workers, rounds = service_size()
    result = {
        **result_header(),
        "scenarios": scenarios,
        "connections": args.connections,
        "samples": [],
    }
    with (
        tempfile.TemporaryDirectory() as tmp,
        migrated_service(base_db, workers, rounds) as (process, base, env, _),
    ):
        log(f"service up at {base}; preparing data")
        data = prepare_data(base, env)
        scripts = [
            lua_script(name, {**data, "run_id": secrets.token_hex(4)}, Path(tmp))
            for name in scenarios
        ]
        started = time.monotonic()
        done, turn, errors = 0, 0, 0
        next_sample = args.sample_every
        while done < args.requests:
            run = run_wrk(wrk, base, scripts[turn % len(scripts)], args.connections, args.chunk)
            turn += 1
            done += run["requests"]
            errors += run["non2xx"] + run["socket_errors"]
            if turn == len(scripts) or done >= next_sample:
                point = sample(process.pid, done, started)
                result["samples"].append(point)
                log(f"{done} requests: RSS KiB {point['rss_kb']}")
                while next_sample <= done:
                    next_sample += args.sample_every
        result["requests"] = done
        result["non2xx_and_socket_errors"] = errors
        result["elapsed_s"] = round(time.monotonic() - started, 1)
        if result["samples"][-1]["requests"] != done:
            result["samples"].append(sample(process.pid, done, started))
    RESULTS.mkdir(exist_ok=True)
    name = f"{dt.date.today().isoformat()}-{result['commit']}-memory.json"
    (RESULTS / name).write_text(json.dumps(result, indent=2) + "\n")
    first, last = result["samples"][0], result["samples"][-1]
    for key in first["rss_kb"]:
        log(
            f"{key}: {first['rss_kb'][key]} KiB after {first['requests']} requests,"
            f" {last['rss_kb'].get(key)} KiB after {last['requests']}"
        )
    log(f"errors: {errors}; results: bench/results/{name}")


if __name__ == "__main__":
    main()
