"""Flame graphs of the service under load: where a request's CPU goes.

``make bench-profile`` (or ``python bench/profile.py --only patch_customer``)
starts the service as ``make bench`` does (gunicorn with its defaults on a
fresh PostgreSQL database, the same seed data), drives each scenario with wrk
at 32 connections and records every gunicorn process with py-spy meanwhile.
The SVGs go to bench/profiles/, named for the scenario and the commit;
docs/performance.md says what each one showed.
"""

from __future__ import annotations

import argparse
import os
import secrets
import shutil
import subprocess
import sys
import tempfile
import threading
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.run import (  # noqa: E402
    BIN,
    DEFAULT_DB,
    ROOT,
    commit_id,
    ensure_wrk,
    log,
    lua_script,
    migrated_service,
    prepare_data,
    run_wrk,
    settle,
)

PROFILES = ROOT / "bench" / "profiles"


def py_spy() -> str:
    found = shutil.which("py-spy") or (BIN / "py-spy")
    if not Path(found).exists():
        log("py-spy is missing: installing it")
        subprocess.run([str(BIN / "python"), "-m", "pip", "install", "-q", "py-spy>=0.3.14"])
        found = BIN / "py-spy"
    return str(found)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", default="patch_customer,get_customer,graphql_customer")
    parser.add_argument("--duration", type=float, default=20.0)
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument(
        "--format",
        choices=["flamegraph", "raw"],
        default="flamegraph",
        help="raw: collapsed stacks in a .txt, for counting where the samples fall",
    )
    args = parser.parse_args()
    wrk, spy = ensure_wrk(), py_spy()
    base_db = os.environ.get("BENCH_DATABASE_URL", DEFAULT_DB)
    workers = int(os.environ.get("WEB_CONCURRENCY", "2"))
    PROFILES.mkdir(exist_ok=True)
    commit = commit_id()
    with (
        tempfile.TemporaryDirectory() as tmp,
        migrated_service(base_db, workers, 10) as (process, base, env, database_url),
    ):
        data = prepare_data(base, env)
        for name in [s for s in args.only.split(",") if s]:
            script = lua_script(name, {**data, "run_id": secrets.token_hex(4)}, Path(tmp))
            settle(base, database_url=database_url)
            run_wrk(wrk, base, script, args.connections, 5)  # warm up
            suffix = ".svg" if args.format == "flamegraph" else ".txt"
            output = PROFILES / f"{name}-{commit}{suffix}"
            recorder = threading.Thread(
                target=subprocess.run,
                args=(
                    [
                        spy,
                        "record",
                        "--pid",
                        str(process.pid),
                        "--subprocesses",
                        "--nonblocking",
                        "--rate",
                        "250",
                        "--duration",
                        str(int(args.duration)),
                        "--format",
                        args.format,
                        "--output",
                        str(output),
                    ],
                ),
                kwargs={"capture_output": True},
            )
            recorder.start()
            run = run_wrk(wrk, base, script, args.connections, args.duration)
            recorder.join()
            # Paths relative to the checkout: where it lives is nobody's business.
            output.write_text(output.read_text().replace(f"{ROOT}/", ""))
            log(f"{name} @{args.connections}: {run['rps']} req/s while profiled -> {output}")


if __name__ == "__main__":
    main()
