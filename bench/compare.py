"""The service against EverShop 2.2.1, measured in one run with alternating rounds.

    python bench/compare.py                # every scenario at 16, 32, 64 connections, 3 rounds of 10 s
    python bench/compare.py --smoke        # 1-second rounds at 16 connections: the harness works
    python bench/compare.py --only patch_customer,create_address --rounds 2 --duration 3
    python bench/compare.py --write-docs   # also put the table into docs/performance.md

Installs EverShop (cached; scripts/evershop.py), makes two fresh databases —
the service's migrated with ``flask db upgrade``, EverShop's copied from its
template — writes the same customers and addresses into both, starts the
service under gunicorn as in production and ``evershop start``, both on
loopback, and drives each scenario on both with the same wrk Lua builders:
a warm-up on each side, then rounds alternating service, EverShop, service, …
It reports per side the median req/s, its spread and the latencies, and the
ratio of the medians; the bcrypt ceilings are measured in the same run.
Results go to bench/results/<date>-<commit>-evershop.json; docs/performance.md
("Against EverShop") says how it works.

Everything it starts or creates — gunicorn, EverShop's three processes, the
SMTP sink, both databases — is stopped or dropped when it ends, by Ctrl-C or
SIGTERM too.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import json
import os
import re
import secrets
import shlex
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import psycopg

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.compare_report import (  # noqa: E402
    check_targets,
    describe,
    harness_problems,
    markdown,
    ratio,
    spread,
    summarise,
    write_docs,
)
from bench.compare_scenarios import SCENARIOS  # noqa: E402
from bench.compare_seed import lua_data, seed_rows, write_rows  # noqa: E402
from bench.compare_sides import STALL_PROBE_S, EverShopService, Service  # noqa: E402
from bench.run import (  # noqa: E402
    BIN,
    DEFAULT_DB,
    RESULTS,
    ROOT,
    bcrypt_ceiling,
    commit_id,
    ensure_wrk,
    free_port,
    fresh_database,
    log,
    lua_script,
    run_wrk,
    service_env,
    smtp_sink,
    wrk_threads,
)
from scripts import evershop as harness  # noqa: E402

SIDES = ("ours", "evershop")
LABEL = {"ours": "service", "evershop": "EverShop"}
# EverShop's database pool: requests that hold a connection and ask for a
# second one deadlock it from this concurrency on (docs/performance.md,
# "EverShop under load").
EVERSHOP_POOL_SIZE = 20
# The first client address a run sends in X-Forwarded-For (11.0.0.0), clear
# of the 10.x.y.z addresses scripts/evershop.py uses for its own requests.
FIRST_CLIENT_ADDRESS = 11 << 24
# Customers without addresses, which take the new ones of create_address.
SPARE_CUSTOMERS = 20


def _interrupt(signum, frame) -> None:
    """Ctrl-C or SIGTERM: stop and drop everything, and let no second signal
    cut that short."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    raise KeyboardInterrupt


class ClientAddresses:
    """Hands each wrk run a range of X-Forwarded-For addresses no earlier run used."""

    def __init__(self, first: int = FIRST_CLIENT_ADDRESS):
        self.next = first

    def take(self, connections: int) -> dict:
        return {"xff_base": self.next, "xff_stride": wrk_threads(connections)}

    def used(self, connections: int, run: dict) -> None:
        # A thread asks for an address per request it starts, reconnects included:
        # at most the run's requests, errors and connections, times the stride.
        calls = run["requests"] + run["socket_errors"] + connections + 64
        self.next += calls * wrk_threads(connections)


class Bench:
    """Runs scenarios on both sides and keeps every run's figures."""

    def __init__(self, wrk: str, sides: dict, tmpdir: Path, warmup: float, duration: float):
        self.wrk = wrk
        self.sides = sides
        self.tmpdir = tmpdir
        self.warmup = warmup
        self.duration = duration
        self.addresses = ClientAddresses()

    def settle_all(self) -> None:
        """Both sides done with earlier work, so that neither round pays for the other's."""
        for side in self.sides.values():
            side.settle()

    def run(self, side, builder: str, connections: int, seconds: float) -> dict:
        """One wrk run; a side that no longer answers afterwards is marked
        stalled, restarted and warmed up again."""
        data = {
            **side.data,
            **self.addresses.take(connections),
            # A fresh run id keeps generated emails unique.
            "run_id": secrets.token_hex(4),
            "count_errors": True,
        }
        folder = self.tmpdir / side.name
        folder.mkdir(exist_ok=True)
        script = lua_script(builder, data, folder)
        started = time.time()
        result = run_wrk(self.wrk, side.base, script, connections, seconds)
        self.addresses.used(connections, result)
        # wrk's own count leaves out 1xx and 3xx answers; the script's does not.
        result["non2xx"] = sum(result.get("error_statuses", {}).values())
        result["started"] = dt.datetime.fromtimestamp(started, dt.UTC).strftime("%H:%M:%S")
        if not side.answers(STALL_PROBE_S):
            result["stalled"] = True
            log(
                f"  {LABEL[side.name]} did not answer for {STALL_PROBE_S:.0f} s after the "
                f"run: stalled; restarting it"
            )
            side.restart()
            # A new process is cold. Eight connections hold at most 16 of
            # EverShop's 20 pool connections, two a request: no stall.
            self.run(side, builder, min(connections, 8), self.warmup)
        return result

    def scenario(self, name: str, connections: int, rounds: int) -> dict:
        """Warm-up on each side, then ``rounds`` alternating rounds."""
        scenario = SCENARIOS[name]
        builders = {"ours": scenario.ours, "evershop": scenario.evershop}
        record = {"connections": connections}
        for key in SIDES:
            self.settle_all()
            warm = self.run(self.sides[key], builders[key], connections, self.warmup)
            record[key] = {"warmup": warm, "rounds": []}
            log(f"  warm-up {LABEL[key]}: {describe(warm)}")
        for number in range(1, rounds + 1):
            for key in SIDES:
                self.settle_all()
                result = self.run(self.sides[key], builders[key], connections, self.duration)
                record[key]["rounds"].append(result)
                log(f"  round {number} {LABEL[key]}: {describe(result)}")
        for key in SIDES:
            record[key].update(summarise(record[key]["rounds"]))
        record["ratio"] = ratio(record["ours"], record["evershop"])
        return record


def bcryptjs_ceiling(seconds: float) -> float:
    """bcryptjs hashes per second at cost 10 in one Node process: EverShop hashes
    with it, synchronously, in its one web process."""
    cache = harness.install()
    program = (
        "import { createRequire } from 'module';"
        f"const require = createRequire({json.dumps(str(harness.package_dir(cache)))} + '/');"
        "const bcrypt = require('bcryptjs');"
        "const salt = bcrypt.genSaltSync(10); let n = 0;"
        f"const end = Date.now() + {int(seconds * 1000)};"
        "while (Date.now() < end) { bcrypt.hashSync('bench-password-1', salt); n++; }"
        "console.log(n);"
    )
    done = subprocess.run(
        [shutil.which("node") or "node", "--input-type=module", "-e", program],
        capture_output=True,
        text=True,
        check=True,
        timeout=seconds + 60,
    )
    return round(int(done.stdout.strip()) / seconds, 1)


def measure_ceilings(ceilings: dict, samples: int, seconds: float, workers: int) -> None:
    """More samples of both bcrypt ceilings, taken alternately."""
    for _ in range(samples):
        ceilings["bcrypt"]["samples"].append(bcrypt_ceiling(workers, 10, seconds))
        ceilings["bcryptjs"]["samples"].append(bcryptjs_ceiling(seconds))
    for key in ("bcrypt", "bcryptjs"):
        ceilings[key].update(spread(ceilings[key]["samples"]))
    log(
        f"  bcrypt ceiling {ceilings['bcrypt']['median']} hashes/s ({workers} processes); "
        f"bcryptjs {ceilings['bcryptjs']['median']} hashes/s (one Node process)"
    )


def machine(base_db: str) -> dict:
    with psycopg.connect(base_db.replace("+psycopg", "")) as conn:
        postgres = conn.execute("SHOW server_version").fetchone()[0]
    meminfo = Path("/proc/meminfo").read_text()
    memory_kb = int(re.search(r"MemTotal:\s+(\d+)", meminfo).group(1))
    cpuinfo = Path("/proc/cpuinfo").read_text()
    model = re.search(r"model name\s*:\s*(.+)", cpuinfo)
    wrk = subprocess.run(["wrk", "-v"], capture_output=True, text=True)
    node = subprocess.run(["node", "--version"], capture_output=True, text=True)
    return {
        "nproc": os.cpu_count(),
        "cpu": model.group(1).strip() if model else "unknown",
        "memory_gib": round(memory_kb / 1024 / 1024, 1),
        "postgresql": postgres,
        "python": sys.version.split()[0],
        "node": node.stdout.strip(),
        "wrk": (wrk.stdout + wrk.stderr).split("[")[0].replace("wrk", "").strip(),
        "kernel": os.uname().release,
        "load_average_at_start": [round(x, 2) for x in os.getloadavg()],
    }


def uncommitted_changes() -> bool:
    out = subprocess.run(
        ["git", "status", "--porcelain", "--untracked-files=no"],
        cwd=ROOT,
        capture_output=True,
        text=True,
    )
    return bool(out.stdout.strip())


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--smoke",
        action="store_true",
        help="1 s warm-ups and rounds, 2 rounds, 16 connections, 60 customers",
    )
    parser.add_argument(
        "--only", default="", help="comma-separated scenarios: " + ",".join(SCENARIOS)
    )
    parser.add_argument("--connections", help="comma-separated (default 16,32,64)")
    parser.add_argument("--rounds", type=int, help="rounds per side (default 3)")
    parser.add_argument("--duration", type=float, help="seconds a round (default 10)")
    parser.add_argument("--warmup", type=float, help="seconds of warm-up per side (default 5)")
    parser.add_argument("--customers", type=int, help="seeded customers (default 200)")
    parser.add_argument(
        "--write-docs", action="store_true", help="put the table into docs/performance.md"
    )
    args = parser.parse_args(argv)
    smoke = args.smoke
    args.connections = [
        int(c) for c in (args.connections or ("16" if smoke else "16,32,64")).split(",")
    ]
    args.rounds = args.rounds or (2 if smoke else 3)
    args.duration = args.duration or (1.0 if smoke else 10.0)
    args.warmup = args.warmup or (1.0 if smoke else 5.0)
    args.customers = args.customers or (60 if smoke else 200)
    args.scenarios = [s for s in args.only.split(",") if s] or list(SCENARIOS)
    if args.rounds < 1 or args.duration < 1 or args.warmup < 1:
        parser.error("--rounds, --duration and --warmup must be at least 1")
    unknown = [s for s in args.scenarios if s not in SCENARIOS]
    if unknown:
        parser.error(f"unknown scenarios {unknown}; choose from {', '.join(SCENARIOS)}")
    return args


def main(argv=None) -> int:
    args = parse_args(argv)
    signal.signal(signal.SIGINT, _interrupt)
    signal.signal(signal.SIGTERM, _interrupt)
    try:
        return compare(args, sys.argv[1:] if argv is None else argv)
    except KeyboardInterrupt:
        log("interrupted: both services stopped, both databases dropped")
        return 130
    except harness.EverShopError as error:
        log(f"evershop: {error}")
        return 1


def compare(args: argparse.Namespace, argv: list[str]) -> int:
    """The whole run: bring both sides up, measure, report; 1 when a smoke run
    found the harness broken."""
    wrk = ensure_wrk()
    harness.install()
    base_db = os.environ.get("BENCH_DATABASE_URL", DEFAULT_DB)
    workers = int(os.environ.get("WEB_CONCURRENCY", "2"))
    # The default under gunicorn: one event worker beside the web workers.
    events_delivery = os.environ.get("BENCH_EVENTS_DELIVERY", "") or "worker"
    result = {
        "date": dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M"),
        "commit": commit_id(),
        "dirty": uncommitted_changes(),
        "command": "make bench-evershop"
        + (f" BENCH_ARGS={shlex.quote(shlex.join(argv))}" if argv else ""),
        "machine": machine(base_db),
        "service": {
            "workers": workers,
            "worker_class": "sync",
            "app_env": "production",
            "log_level": "info",
            "bcrypt_rounds": 10,
            "ratelimit_enabled": False,
            "events_delivery": events_delivery,
        },
        "evershop": {"version": harness.VERSION, "pg_pool_size": EVERSHOP_POOL_SIZE},
        "settings": {
            "rounds": args.rounds,
            "duration_s": args.duration,
            "warmup_s": args.warmup,
            "connections": args.connections,
            "seed_customers": args.customers,
            "seed_spare_customers": SPARE_CUSTOMERS,
            "smoke": args.smoke,
        },
        "ceilings": {},
        "scenarios": {},
    }
    with contextlib.ExitStack() as stack:
        tmpdir = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="bench-evershop-")))
        ours, shop = bring_up(stack, base_db, args.customers, workers, events_delivery, tmpdir)
        bench = Bench(wrk, {"ours": ours, "evershop": shop}, tmpdir, args.warmup, args.duration)
        measure(bench, args, workers, result)
        result["evershop"]["starts"] = shop.starts
    result["targets"] = check_targets(result)
    report(result, args)
    problems = harness_problems(result)
    for problem in problems:
        log(f"harness check: {problem}")
    # The smoke run (what CI could run) fails when a request the harness builds
    # is refused where it should succeed: the harness or the service broke.
    return 1 if args.smoke and problems else 0


def bring_up(
    stack: contextlib.ExitStack,
    base_db: str,
    customers: int,
    workers: int,
    events_delivery: str,
    tmpdir: Path,
) -> tuple[Service, EverShopService]:
    """Both sides running on fresh databases holding the same rows, each with
    its admin token in its ``data``.

    Side effects, each undone by ``stack``: an SMTP sink for the service's
    emails, the two databases (``bench_<pid>``, ``bench_evershop_<pid>``),
    gunicorn, and EverShop's processes.
    """
    # Both sides sign and check tokens with the same secrets, and an admin
    # token outlives the run (the default 15 minutes would not): a day. EverShop
    # hands the setting to jsonwebtoken as a string, which reads a bare number
    # as milliseconds ("86400" would be 86 s), so it gets a unit.
    jwt = {name: secrets.token_urlsafe(32) for name in harness.JWT_SETTINGS}
    jwt["JWT_ISSUER"] = "evershop"
    smtp_port = stack.enter_context(smtp_sink())
    ours_url = stack.enter_context(fresh_database(base_db))
    shop_name = f"bench_evershop_{os.getpid()}"
    stack.callback(harness.drop_database, harness.database_url(base_db, shop_name))
    # psycopg takes no SQLAlchemy driver name, EverShop's harness either form.
    shop_url = harness.create_database(base_db, shop_name).replace("+psycopg", "")
    env = service_env(ours_url, free_port(), smtp_port, workers, 10)
    env.update(
        jwt, JWT_ADMIN_TOKEN_EXPIRY="86400", LOG_LEVEL="info", EVENTS_DELIVERY=events_delivery
    )
    subprocess.run(
        [str(BIN / "flask"), "db", "upgrade"], cwd=ROOT, env=env, check=True, capture_output=True
    )
    seed = seed_rows(customers, SPARE_CUSTOMERS)
    write_rows(ours_url, seed)
    write_rows(shop_url, seed)
    log("databases: the service's migrated, EverShop's from its template; the same rows in both")

    ours = Service(env, ours_url)
    stack.callback(ours.stop)
    ours.start()
    shop = EverShopService(shop_url, {**jwt, "JWT_ADMIN_TOKEN_EXPIRY": "24h"}, tmpdir)
    stack.callback(shop.stop)
    shop.start()
    log(f"service at {ours.base}, EverShop at {shop.base}")
    ours.data = lua_data(seed, ours.admin_token())
    shop.data = lua_data(seed, shop.admin_token())
    shop.probe_uuid = ours.data["customer_uuids"][0]
    return ours, shop


def measure(bench: Bench, args: argparse.Namespace, workers: int, result: dict) -> None:
    """Every scenario at every connection count, into ``result``; the bcrypt
    ceilings before each scenario they bound."""
    ceilings = {"bcrypt": {"samples": []}, "bcryptjs": {"samples": []}}
    for name in args.scenarios:
        scenario = SCENARIOS[name]
        log(f"{name}: {scenario.what}")
        if scenario.bound == "bcrypt":
            # Taken beside the scenarios they bound, under the same load.
            measure_ceilings(ceilings, args.rounds, min(args.duration, 5.0), workers)
            result["ceilings"] = ceilings
        runs = [bench.scenario(name, conns, args.rounds) for conns in args.connections]
        result["scenarios"][name] = {
            "what": scenario.what,
            "evershop_builder": scenario.evershop,
            "evershop_what": scenario.evershop_what,
            "runs": runs,
        }
        for run in runs:
            log(
                f"  {name} @{run['connections']}: service {run['ours']['rps']['median']}, "
                f"EverShop {run['evershop']['rps']['median']} req/s, ratio {run['ratio']}"
            )


def report(result: dict, args: argparse.Namespace) -> None:
    """The JSON in bench/results/, the table on stdout and, with --write-docs,
    in docs/performance.md."""
    RESULTS.mkdir(exist_ok=True)
    partial = args.scenarios != list(SCENARIOS) or args.connections != [16, 32, 64]
    suffix = "-smoke" if args.smoke else ("-partial" if partial else "")
    name = f"{dt.date.today().isoformat()}-{result['commit']}-evershop{suffix}.json"
    result["results_file"] = f"bench/results/{name}"
    (RESULTS / name).write_text(json.dumps(result, indent=2, ensure_ascii=False) + "\n")
    text = markdown(result)
    print(text)
    log(f"results: bench/results/{name}")
    if args.write_docs:
        write_docs(text)
        log("docs/performance.md: the table between the bench-evershop markers replaced")


if __name__ == "__main__":
    sys.exit(main())
