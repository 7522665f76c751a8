"""Load benchmark of the service: gunicorn + PostgreSQL, driven by wrk.

    python bench/run.py            # 15 s per endpoint at 16, 32 and 64 connections
    python bench/run.py --smoke    # 1 s runs, same endpoints (CI keeps it working)

Makes a fresh PostgreSQL database next to BENCH_DATABASE_URL (default: the
local ``test`` database), migrates it, starts ``gunicorn wsgi:app`` with
WEB_CONCURRENCY workers (default 2) and a local SMTP sink, creates the data the
scenarios need, runs wrk with the Lua scripts in bench/lua/, measures the
ceilings (a bare Flask endpoint under the same gunicorn settings, and bcrypt
hashes per second at BCRYPT_ROUNDS in as many processes), and writes
bench/results/<date>-<commit>.json and a markdown table.
"""

from __future__ import annotations

import argparse
import concurrent.futures
import datetime as dt
import json
import os
import re
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from contextlib import contextmanager
from pathlib import Path

import bcrypt
import psycopg

ROOT = Path(__file__).resolve().parent.parent
LUA = Path(__file__).resolve().parent / "lua"
RESULTS = Path(__file__).resolve().parent / "results"
BIN = Path(sys.executable).parent

# name -> (ceiling it is bounded by, what the request does)
SCENARIOS = {
    "create_customer": ("bcrypt", "POST /api/customers (unique emails)"),
    "patch_customer": ("framework", "PATCH /api/customers/{uuid}"),
    "get_customer": ("framework", "GET /api/customers/{uuid}"),
    "list_keyword": ("framework", "GET /api/customers?keyword=smith&limit=20"),
    "create_address": ("framework", "POST /api/customers/{uuid}/addresses"),
    "patch_address_default": ("framework", "PATCH .../addresses/{uuid} is_default=true"),
    "graphql_customer": ("framework", "admin GraphQL customer(id)"),
    "graphql_customers_page": ("framework", "admin GraphQL customers, 20 with addresses"),
    "reset_unknown": ("framework", "POST /api/customers/reset-password, unknown email"),
    "reset_known": ("framework", "POST /api/customers/reset-password, known email"),
    "customer_token": ("bcrypt", "POST /api/customer/tokens"),
    "token_refresh": ("framework", "POST /api/customer/token/refresh"),
}


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def ensure_wrk() -> str:
    found = shutil.which("wrk")
    if found:
        return found
    log("wrk is missing: installing the Debian package")
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    subprocess.run(["apt-get", "update", "-qq"], check=True, env=env)
    subprocess.run(["apt-get", "install", "-y", "-qq", "wrk"], check=True, env=env)
    return shutil.which("wrk") or "wrk"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@contextmanager
def fresh_database(base_url: str):
    """A new database beside the one ``base_url`` names, dropped afterwards."""
    base = psycopg.conninfo.conninfo_to_dict(base_url.replace("+psycopg", ""))
    name = f"bench_{os.getpid()}"
    admin = psycopg.connect(base_url.replace("+psycopg", ""), autocommit=True)
    admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    admin.execute(f'CREATE DATABASE "{name}"')
    base["dbname"] = name
    url = "postgresql://{user}@{host}:{port}/{dbname}".format(
        user=base.get("user", "postgres"),
        host=base.get("host", "127.0.0.1"),
        port=base.get("port", 5432),
        dbname=name,
    )
    try:
        yield url
    finally:
        admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.close()


@contextmanager
def smtp_sink():
    """A real SMTP server that accepts every message and keeps none."""
    from aiosmtpd.controller import Controller

    class Sink:
        async def handle_DATA(self, server, session, envelope):
            return "250 OK"

    port = free_port()
    controller = Controller(Sink(), hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield port
    finally:
        controller.stop()


def service_env(database_url: str, port: int, smtp_port: int, workers: int, rounds: int) -> dict:
    return {
        **os.environ,
        "APP_ENV": "production",
        "DATABASE_URL": database_url,
        "SECRET_KEY": secrets.token_urlsafe(32),
        "JWT_ADMIN_SECRET": secrets.token_urlsafe(32),
        "JWT_ADMIN_REFRESH_SECRET": secrets.token_urlsafe(32),
        "JWT_CUSTOMER_SECRET": secrets.token_urlsafe(32),
        "JWT_CUSTOMER_REFRESH_SECRET": secrets.token_urlsafe(32),
        # A run lasts longer than an admin access token's default 15 minutes.
        "JWT_ADMIN_TOKEN_EXPIRY": "86400",
        "BCRYPT_ROUNDS": str(rounds),
        # The benchmark is one client address hammering every endpoint.
        "RATELIMIT_ENABLED": "false",
        "MAIL_SERVER": "127.0.0.1",
        "MAIL_PORT": str(smtp_port),
        # The service's own default under gunicorn (an event worker beside the
        # web workers) unless BENCH_EVENTS_DELIVERY names another mode.
        **(
            {"EVENTS_DELIVERY": os.environ["BENCH_EVENTS_DELIVERY"]}
            if os.environ.get("BENCH_EVENTS_DELIVERY")
            else {}
        ),
        "HOST": "127.0.0.1",
        "PORT": str(port),
        "WEB_CONCURRENCY": str(workers),
        "LOG_LEVEL": os.environ.get("BENCH_LOG_LEVEL", "warning"),
        "FLASK_APP": "wsgi",
    }


@contextmanager
def gunicorn(env: dict, app: str = "wsgi:app", ready_path: str = "/readyz"):
    # A file, not a pipe: nobody reads it while the run goes on.
    errors = tempfile.TemporaryFile(mode="w+")  # noqa: SIM115 - closed in the finally below
    process = subprocess.Popen(
        [str(BIN / "gunicorn"), app],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=errors,
        text=True,
    )
    base = f"http://127.0.0.1:{env['PORT']}"
    deadline = time.monotonic() + 60
    while True:
        try:
            with urllib.request.urlopen(base + ready_path, timeout=2):
                break
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            if process.poll() is not None or time.monotonic() > deadline:
                process.kill()
                errors.seek(0)
                raise SystemExit("gunicorn did not start:\n" + errors.read()[-3000:]) from None
            time.sleep(0.2)
    try:
        yield process, base
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
        errors.close()


@contextmanager
def migrated_service(base_db: str, workers: int, rounds: int, settings: dict | None = None):
    """A fresh database beside ``base_db``, migrated, an SMTP sink, and gunicorn
    serving the service on them with ``settings`` on top of the benchmark's;
    yields ``(gunicorn process, base URL, environment, database URL)``."""
    with fresh_database(base_db) as database_url, smtp_sink() as smtp_port:
        env = {
            **service_env(database_url, free_port(), smtp_port, workers, rounds),
            **(settings or {}),
        }
        subprocess.run(
            [str(BIN / "flask"), "db", "upgrade"],
            cwd=ROOT,
            env=env,
            check=True,
            capture_output=True,
        )
        with gunicorn(env) as (process, base):
            yield process, base, env, database_url


def call(base: str, method: str, path: str, body=None, token: str | None = None) -> dict:
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(base + path, data=data, method=method)
    request.add_header("Content-Type", "application/json")
    if token:
        request.add_header("Authorization", f"Bearer {token}")
    with urllib.request.urlopen(request, timeout=30) as response:
        return json.loads(response.read() or b"{}")


def prepare_data(base: str, env: dict, customers: int = 200) -> dict:
    """The admin, customers with two addresses each, known emails and tokens."""
    subprocess.run(
        [
            str(BIN / "flask"),
            "user",
            "create",
            "--email",
            "bench-admin@example.com",
            "--password",
            "bench-admin-password",
            "--full-name",
            "Bench Admin",
        ],
        cwd=ROOT,
        env=env,
        check=True,
        capture_output=True,
    )
    admin = call(
        base,
        "POST",
        "/api/user/tokens",
        {"email": "bench-admin@example.com", "password": "bench-admin-password"},
    )
    token = admin["data"]["accessToken"]
    names = ["John Smith", "Jane Smithson", "Ann Lee", "Bob Brown", "Eve Adams"]

    def make(i):
        customer = call(
            base,
            "POST",
            "/api/customers",
            {
                "email": f"customer{i}@example.com",
                "password": "bench-password-1",
                "full_name": f"{names[i % len(names)]} {i}",
            },
            token,
        )["data"]
        paths = []
        for street in ("1 Main St", "2 Side St"):
            address = call(
                base,
                "POST",
                f"/api/customers/{customer['uuid']}/addresses",
                {
                    "full_name": customer["full_name"],
                    "address_1": street,
                    "city": "Springfield",
                    "country": "US",
                    "postcode": "12345",
                },
                token,
            )["data"]
            paths.append(f"/api/customers/{customer['uuid']}/addresses/{address['uuid']}")
        return customer, paths

    with concurrent.futures.ThreadPoolExecutor(8) as pool:
        made = list(pool.map(make, range(customers)))
    known = [c["email"] for c, _ in made]
    refresh = [
        call(
            base, "POST", "/api/customer/tokens", {"email": email, "password": "bench-password-1"}
        )["data"]["refreshToken"]
        for email in known[:20]
    ]
    # Separate customers take the new addresses, so the address book rows of
    # the PATCH scenario stay two per customer.
    spare = [
        call(
            base,
            "POST",
            "/api/customers",
            {
                "email": f"spare{i}@example.com",
                "password": "bench-password-1",
                "full_name": f"Spare {i}",
            },
            token,
        )["data"]["uuid"]
        for i in range(20)
    ]
    return {
        "run_id": secrets.token_hex(4),
        "admin_token": token,
        "customer_uuids": [c["uuid"] for c, _ in made],
        "address_paths": [p for _, paths in made for p in paths],
        "address_customer_uuids": spare,
        "known_emails": known,
        "refresh_tokens": refresh,
    }


def lua_script(scenario: str, data: dict, directory: Path) -> Path:
    def lua_value(value):
        if isinstance(value, list):
            return "{" + ", ".join(lua_value(v) for v in value) + "}"
        return json.dumps(value)

    table = ",\n".join(f"  {key} = {lua_value(value)}" for key, value in data.items())
    text = (
        f"data = {{\n{table}\n}}\nscenario = {json.dumps(scenario)}\n"
        + (LUA / "scenarios.lua").read_text()
        + (LUA / "report.lua").read_text()
    )
    path = directory / f"{scenario}.lua"
    path.write_text(text)
    return path


def wrk_threads(connections: int) -> int:
    """wrk threads for a run: two at most, one for a single connection."""
    return max(1, min(2, connections))


def run_wrk(wrk: str, base: str, script: Path, connections: int, seconds: float) -> dict:
    threads = wrk_threads(connections)
    result = subprocess.run(
        [
            wrk,
            "-t",
            str(threads),
            "-c",
            str(connections),
            "-d",
            f"{max(1, round(seconds))}s",
            "--timeout",
            "10s",
            "-s",
            str(script),
            base,
        ],
        capture_output=True,
        text=True,
        check=True,
    )
    line = next(x for x in result.stdout.splitlines() if x.startswith("BENCH_JSON "))
    stats = json.loads(line[len("BENCH_JSON ") :])
    seconds_run = stats["duration_us"] / 1e6
    errors = stats["connect"] + stats["read"] + stats["write"] + stats["timeout"]
    return {
        "connections": connections,
        "requests": stats["requests"],
        "rps": round(stats["requests"] / seconds_run, 1) if seconds_run else 0.0,
        "p50_ms": round(stats["p50_us"] / 1000, 2),
        "p90_ms": round(stats["p90_us"] / 1000, 2),
        "p99_ms": round(stats["p99_us"] / 1000, 2),
        "non2xx": stats["non2xx"],
        "socket_errors": errors,
        # Non-2xx answers by status, and the first of them, when the script
        # counted them (scenarios.lua, `data.count_errors`).
        **(
            {"error_statuses": stats["error_statuses"], "error_sample": stats["error_sample"]}
            if stats.get("error_statuses")
            else {}
        ),
    }


def settle(base: str, quiet_ms: float = 50.0, limit_s: float = 120.0, database_url=None) -> None:
    """Wait until the previous run's work is done: its events delivered (the
    outbox empty) and its queued requests served (/healthz answers quickly).
    Otherwise a run pays for its predecessor's backlog."""
    deadline = time.monotonic() + limit_s
    if database_url:
        with psycopg.connect(database_url, autocommit=True) as conn:
            while time.monotonic() < deadline:
                if conn.execute("SELECT count(*) FROM event_outbox").fetchone()[0] == 0:
                    break
                time.sleep(0.5)
    while time.monotonic() < deadline:
        started = time.monotonic()
        try:
            with urllib.request.urlopen(base + "/healthz", timeout=limit_s):
                pass
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            pass
        if (time.monotonic() - started) * 1000 < quiet_ms:
            return
        time.sleep(0.2)


def _hash_for(seconds: float, rounds: int) -> int:
    end = time.monotonic() + seconds
    count = 0
    salt = bcrypt.gensalt(rounds)
    while time.monotonic() < end:
        bcrypt.hashpw(b"bench-password-1", salt)
        count += 1
    return count


def bcrypt_ceiling(processes: int, rounds: int, seconds: float) -> float:
    """bcrypt hashes per second with ``processes`` processes hashing at once."""
    with concurrent.futures.ProcessPoolExecutor(processes) as pool:
        counts = list(pool.map(_hash_for, [seconds] * processes, [rounds] * processes))
    return round(sum(counts) / seconds, 1)


def worker_rss_kb(master_pid: int) -> list[int]:
    children = Path(f"/proc/{master_pid}/task/{master_pid}/children").read_text().split()
    sizes = []
    for pid in children:
        status = Path(f"/proc/{pid}/status").read_text()
        sizes.append(int(re.search(r"VmRSS:\s+(\d+)", status).group(1)))
    return sizes


def commit_id() -> str:
    out = subprocess.run(
        ["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True
    )
    return out.stdout.strip() or "unknown"


def machine() -> dict:
    pg = psycopg.connect(os.environ.get("BENCH_DATABASE_URL", DEFAULT_DB).replace("+psycopg", ""))
    version = pg.execute("SHOW server_version").fetchone()[0]
    pg.close()
    return {
        "nproc": os.cpu_count(),
        "postgresql": version,
        "python": sys.version.split()[0],
        "kernel": os.uname().release,
    }


DEFAULT_DB = "postgresql://postgres@127.0.0.1:5432/test"


def service_size() -> tuple[int, int]:
    """Web workers (``WEB_CONCURRENCY``, default 2) and bcrypt cost
    (``BCRYPT_ROUNDS``, default 10) of the service a benchmark starts."""
    return int(os.environ.get("WEB_CONCURRENCY", "2")), int(os.environ.get("BCRYPT_ROUNDS", "10"))


def result_header() -> dict:
    """What every results file starts with: when, which commit, which
    machine, and the command that made it."""
    return {
        "date": dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M:%S"),
        "commit": commit_id(),
        "machine": machine(),
        "command": " ".join(["python", f"bench/{Path(sys.argv[0]).name}", *sys.argv[1:]]),
    }


def table(result: dict) -> str:
    ceilings = result["ceilings"]
    lines = [
        "| endpoint | conns | req/s | p50 ms | p90 ms | p99 ms | non-2xx | socket errors | of ceiling |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for name, runs in result["scenarios"].items():
        bound = SCENARIOS.get(name, ("framework",))[0]
        for run in runs:
            ceiling = (
                ceilings["bcrypt_hashes_per_s"]
                if bound == "bcrypt"
                else (ceilings["framework"].get(str(run["connections"]), {}).get("rps"))
            )
            share = f"{run['rps'] / ceiling:.0%} of {bound}" if ceiling else "-"
            lines.append(
                f"| {name} | {run['connections']} | {run['rps']} | {run['p50_ms']} | {run['p90_ms']} "
                f"| {run['p99_ms']} | {run['non2xx']} | {run['socket_errors']} | {share} |"
            )
    for conns, run in ceilings["framework"].items():
        lines.append(
            f"| (framework ceiling) | {conns} | {run['rps']} | {run['p50_ms']} | {run['p90_ms']} "
            f"| {run['p99_ms']} | {run['non2xx']} | {run['socket_errors']} | - |"
        )
    lines.append(
        f"\nbcrypt ceiling: {ceilings['bcrypt_hashes_per_s']} hashes/s "
        f"(cost {result['bcrypt_rounds']}, {result['workers']} processes)"
    )
    if result.get("memory"):
        m = result["memory"]
        lines.append(
            f"worker RSS (KiB) after {m['first_requests']} requests: {m['rss_first_kb']}; "
            f"after {m['total_requests']}: {m['rss_last_kb']}"
        )
    return "\n".join(lines)


def memory_run(wrk: str, base: str, script: Path, master_pid: int, total: int) -> dict:
    """Worker RSS after the first 1,000 requests and after ``total``."""
    first = 1000
    run_until(wrk, base, script, first)
    rss_first = worker_rss_kb(master_pid)
    run_until(wrk, base, script, total - first)
    return {
        "first_requests": first,
        "total_requests": total,
        "rss_first_kb": rss_first,
        "rss_last_kb": worker_rss_kb(master_pid),
    }


def run_until(wrk: str, base: str, script: Path, count: int) -> None:
    done = 0
    while done < count:
        done += run_wrk(wrk, base, script, 16, 2)["requests"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--smoke", action="store_true", help="1 s runs: check the harness works")
    parser.add_argument("--duration", type=float, default=15.0)
    parser.add_argument("--connections", default="16,32,64")
    parser.add_argument("--only", default="", help="comma-separated scenarios to run")
    parser.add_argument("--memory-requests", type=int, default=100_000)
    args = parser.parse_args()
    duration = 1.0 if args.smoke else args.duration
    connections = [int(c) for c in args.connections.split(",")]
    workers, rounds = service_size()
    wanted = [s for s in args.only.split(",") if s] or list(SCENARIOS)
    wrk = ensure_wrk()
    base_db = os.environ.get("BENCH_DATABASE_URL", DEFAULT_DB)

    result = {
        **result_header(),
        "workers": workers,
        "bcrypt_rounds": rounds,
        "duration_s": duration,
        "scenarios": {},
        "ceilings": {},
    }
    with tempfile.TemporaryDirectory() as tmp:
        tmpdir = Path(tmp)
        with migrated_service(base_db, workers, rounds) as (process, base, env, database_url):
            log(f"service up at {base}; preparing data")
            data = prepare_data(base, env, customers=60 if args.smoke else 200)
            for name in wanted:
                result["scenarios"][name] = []
                for conns in connections:
                    # A fresh run id per run keeps generated emails unique.
                    script = lua_script(name, {**data, "run_id": secrets.token_hex(4)}, tmpdir)
                    settle(base, database_url=database_url)
                    run = run_wrk(wrk, base, script, conns, duration)
                    log(
                        f"{name} @{conns}: {run['rps']} req/s, p99 {run['p99_ms']} ms, "
                        f"non-2xx {run['non2xx']}, socket errors {run['socket_errors']}"
                    )
                    result["scenarios"][name].append(run)
            if not args.smoke and args.memory_requests:
                log("memory: worker RSS over a long run")
                script = lua_script("get_customer", data, tmpdir)
                result["memory"] = memory_run(wrk, base, script, process.pid, args.memory_requests)

        # The framework ceiling under the same gunicorn settings (no event
        # worker: the bare app has no events, and the service's database is gone).
        ceiling_env = {**env, "PORT": str(free_port()), "EVENTS_WORKERS": "0"}
        result["ceilings"]["framework"] = {}
        with gunicorn(ceiling_env, app="bench.ceiling_app:app", ready_path="/ceiling") as (_, base):
            script = lua_script("ceiling", {"run_id": "c"}, tmpdir)
            for conns in connections:
                result["ceilings"]["framework"][str(conns)] = run_wrk(
                    wrk, base, script, conns, duration
                )
        result["ceilings"]["bcrypt_hashes_per_s"] = bcrypt_ceiling(
            workers, rounds, max(duration, 2)
        )

    RESULTS.mkdir(exist_ok=True)
    suffix = (
        "-smoke"
        if args.smoke
        else ("-partial" if args.only or args.connections != "16,32,64" else "")
    )
    name = f"{dt.date.today().isoformat()}-{result['commit']}{suffix}.json"
    (RESULTS / name).write_text(json.dumps(result, indent=2) + "\n")
    print(table(result))
    log(f"results: bench/results/{name}")
    bad = [
        (n, r["connections"])
        for n, runs in result["scenarios"].items()
        for r in runs
        if r["socket_errors"] or r["non2xx"]
    ]
    if bad:
        log(f"runs with errors or non-2xx answers: {bad}")
    # Every request the harness sends is meant to succeed: in the smoke run
    # (CI) an error answer means the service or the harness broke.
    if args.smoke and any(r["non2xx"] for runs in result["scenarios"].values() for r in runs):
        sys.exit(1)


if __name__ == "__main__":
    main()
