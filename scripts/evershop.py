"""The real EverShop 2.2.1 beside the service, for tests and benchmarks.

    python scripts/evershop.py install
    python scripts/evershop.py create-database --database-url URL --name NAME
    python scripts/evershop.py create-admin --database-url URL --email E --password P
    python scripts/evershop.py serve --database-url URL [--port 3100]

Nothing of EverShop lives in the repository: ``install`` puts the npm package
and its production build in a cache folder (``EVERSHOP_CACHE``, by default
``~/.cache/evershop-customer-service/evershop-2.2.1``). ``create_database``
copies a template database that EverShop's own ``evershop install`` migrated,
and ``EverShop`` runs ``evershop start`` on such a database. docs/evershop.md
says how it fits together and why each choice was made.
"""

from __future__ import annotations

import argparse
import contextlib
import fcntl
import getpass
import itertools
import json
import os
import re
import secrets
import select
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path

import psycopg
from psycopg import sql
from sqlalchemy.engine import make_url

VERSION = "2.2.1"
# 2.2.1 imports concat-stream without declaring it as a dependency.
PACKAGES = (f"@evershop/evershop@{VERSION}", "concat-stream@2.0.0")
# The production build peaks at about 2.2 GB of V8 heap.
BUILD_HEAP_MB = 3072
# A database that `evershop install` migrated; every fresh database is a copy.
TEMPLATE_DATABASE = "evershop_" + VERSION.replace(".", "_") + "_template"
# `evershop install` always creates one admin; the template keeps it.
INSTALL_ADMIN_EMAIL = "admin@evershop.example"
INSTALL_ADMIN_PASSWORD = "evershop-admin-1"
INSTALL_ADMIN_NAME = "EverShop Admin"
JWT_SETTINGS = (
    "JWT_ADMIN_SECRET",
    "JWT_ADMIN_REFRESH_SECRET",
    "JWT_CUSTOMER_SECRET",
    "JWT_CUSTOMER_REFRESH_SECRET",
)
# Longest an npm install or a build may take; a cold install and build take
# about three minutes on a loaded two-core machine (docs/evershop.md).
STEP_TIMEOUT = 420
# Any number; serialises template builds of concurrent runs on one server.
TEMPLATE_LOCK = 0x45564552  # "EVER"

ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")
_MARKER = ".installed.json"


class EverShopError(RuntimeError):
    """EverShop could not be installed, migrated or started; the message is one line."""


def log(message: str) -> None:
    print(f"evershop: {message}", file=sys.stderr, flush=True)


def default_cache_dir() -> Path:
    configured = os.environ.get("EVERSHOP_CACHE", "").strip()
    if configured:
        return Path(configured).expanduser()
    return Path.home() / ".cache" / "evershop-customer-service" / f"evershop-{VERSION}"


def package_dir(cache_dir: Path) -> Path:
    return Path(cache_dir) / "node_modules" / "@evershop" / "evershop"


def _bin(cache_dir: Path) -> Path:
    return package_dir(cache_dir) / "dist" / "bin" / "evershop.js"


def _node() -> str:
    node = shutil.which("node")
    if not node:
        raise EverShopError("node is not installed: EverShop needs Node.js 20 or later")
    return node


# --- install ---------------------------------------------------------------


def is_installed(cache_dir: Path | str | None = None) -> bool:
    """Whether ``install`` finished in ``cache_dir`` (package and build)."""
    cache_dir = Path(cache_dir or default_cache_dir())
    try:
        marker = json.loads((cache_dir / _MARKER).read_text())
    except (OSError, ValueError):
        return False
    return marker.get("packages") == list(PACKAGES) and _bin(cache_dir).is_file()


def install(cache_dir: Path | str | None = None) -> Path:
    """Install EverShop and build it once; return the cache folder.

    Side effects: ``npm install`` into ``cache_dir`` (npm-install.log beside
    it), then ``evershop build`` there (build.log), then a marker file. A
    second call finds the marker and returns at once; concurrent calls wait
    for each other on a lock file.
    """
    cache_dir = Path(cache_dir or default_cache_dir()).expanduser().resolve()
    if is_installed(cache_dir):
        return cache_dir
    cache_dir.mkdir(parents=True, exist_ok=True)
    with open(cache_dir / ".lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if is_installed(cache_dir):
            return cache_dir
        node = _node()
        started = time.monotonic()
        if not _packages_present(cache_dir):
            _npm_install(cache_dir)
        _build(cache_dir, node)
        marker = {"packages": list(PACKAGES), "seconds": round(time.monotonic() - started, 1)}
        (cache_dir / _MARKER).write_text(json.dumps(marker) + "\n")
        log(f"installed and built in {marker['seconds']} s in {cache_dir}")
    return cache_dir


def _packages_present(cache_dir: Path) -> bool:
    try:
        meta = json.loads((package_dir(cache_dir) / "package.json").read_text())
    except (OSError, ValueError):
        return False
    return (
        meta.get("version") == VERSION
        and (cache_dir / "node_modules" / "concat-stream" / "package.json").is_file()
    )


def _run(what: str, command: list[str], timeout: float, **options) -> subprocess.CompletedProcess:
    """``subprocess.run`` whose time-out is an ``EverShopError`` naming ``what``."""
    try:
        return subprocess.run(command, timeout=timeout, **options)
    except subprocess.TimeoutExpired:
        raise EverShopError(f"{what} did not finish in {timeout:.0f} s") from None


def _npm_error(output: str) -> str:
    """The reason npm gives, on one line: its error code and message."""
    lines = [
        line.split(" ", 2)[2].strip()
        for line in output.splitlines()
        if re.match(r"npm (error|ERR!) \S", line)
    ]
    code = next((line.split()[1] for line in lines if line.startswith("code ")), "")
    reasons = [line.split("reason: ", 1)[1] for line in lines if "reason: " in line]
    details = [
        line
        for line in lines
        if not re.match(r"(code|syscall|errno|at) ", line) and line not in {"404", ""}
    ]
    reason = (reasons or details or [output.strip()[-200:] or "no output"])[0]
    return f"{code}: {reason}" if code else reason


def _npm_install(cache_dir: Path) -> None:
    npm = shutil.which("npm")
    if not npm:
        raise EverShopError("npm is not installed: EverShop needs Node.js 20 or later with npm")
    env = {
        **os.environ,
        "npm_config_update_notifier": "false",
        "npm_config_fund": "false",
        "npm_config_audit": "false",
    }
    # One quick question first, so that an unreachable registry is a clear
    # error in seconds instead of npm's minute of retries.
    probe = _run(
        "npm view",
        [npm, "view", PACKAGES[0], "version", "--fetch-retries=0", "--fetch-timeout=30000"],
        cwd=cache_dir,
        env=env,
        capture_output=True,
        text=True,
        timeout=90,
    )
    if probe.returncode != 0:
        raise EverShopError(
            f"the npm registry does not answer for {PACKAGES[0]} ({_npm_error(probe.stderr)})"
        )
    package_json = cache_dir / "package.json"
    if not package_json.exists():
        package_json.write_text(
            json.dumps({"name": "evershop-beside-customer-service", "private": True}) + "\n"
        )
    log(f"npm install {' '.join(PACKAGES)} into {cache_dir}")
    logfile = cache_dir / "npm-install.log"
    with open(logfile, "w") as out:
        done = _run(
            "npm install",
            [npm, "install", "--no-audit", "--no-fund", *PACKAGES],
            cwd=cache_dir,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            timeout=STEP_TIMEOUT,
        )
    if done.returncode != 0 or not _packages_present(cache_dir):
        raise EverShopError(
            f"npm install failed ({_npm_error(logfile.read_text())}); see {logfile}"
        )


def _build(cache_dir: Path, node: str) -> None:
    """``evershop build``: the production bundles ``evershop start`` serves."""
    log(f"evershop build (NODE_OPTIONS=--max-old-space-size={BUILD_HEAP_MB})")
    env = dict(os.environ)
    env["NODE_OPTIONS"] = (
        env.get("NODE_OPTIONS", "") + f" --max-old-space-size={BUILD_HEAP_MB}"
    ).strip()
    env["SUPPRESS_NO_CONFIG_WARNING"] = "1"
    logfile = cache_dir / "build.log"
    with open(logfile, "w") as out:
        done = _run(
            "evershop build",
            [node, str(_bin(cache_dir)), "build"],
            cwd=cache_dir,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            timeout=STEP_TIMEOUT,
        )
    # EverShop logs a failed compilation and still exits 0: the server bundles,
    # written last, are the proof.
    build = cache_dir / ".evershop" / "build"
    bundles = [build / area / "server" / "index.js" for area in ("frontStore", "admin")]
    if done.returncode != 0 or not all(bundle.is_file() for bundle in bundles):
        raise EverShopError(f"evershop build failed (exit {done.returncode}); see {logfile}")


# --- databases -------------------------------------------------------------


@dataclass(frozen=True)
class _Database:
    host: str
    port: int
    user: str
    password: str
    name: str

    @classmethod
    def from_url(cls, url: str) -> _Database:
        parsed = make_url(url)
        if not parsed.drivername.startswith("postgres"):
            raise EverShopError(f"EverShop needs PostgreSQL, not {parsed.drivername}")
        return cls(
            host=parsed.host or "localhost",
            port=parsed.port or 5432,
            user=parsed.username or getpass.getuser(),
            password=parsed.password or "",
            name=parsed.database or "postgres",
        )

    def connect(self, name: str | None = None) -> psycopg.Connection:
        try:
            return psycopg.connect(
                host=self.host,
                port=self.port,
                user=self.user,
                password=self.password or None,
                dbname=name or self.name,
                autocommit=True,
                connect_timeout=10,
            )
        except psycopg.OperationalError as error:
            reason = str(error).strip().splitlines()[0]
            raise EverShopError(f"PostgreSQL at {self.host}:{self.port}: {reason}") from None

    def env(self, name: str | None = None) -> dict:
        """EverShop's database settings (it reads no URL)."""
        return {
            "DB_HOST": self.host,
            "DB_PORT": str(self.port),
            "DB_NAME": name or self.name,
            "DB_USER": self.user,
            "DB_PASSWORD": self.password,
        }


def database_url(base_url: str, name: str) -> str:
    """``base_url`` naming database ``name`` instead (driver and password kept)."""
    return make_url(base_url).set(database=name).render_as_string(hide_password=False)


def _exists(conn: psycopg.Connection, name: str) -> bool:
    return (
        conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,)).fetchone() is not None
    )


def _drop(conn: psycopg.Connection, name: str) -> None:
    conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))


def ensure_template(base_url: str, cache_dir: Path | str | None = None) -> str:
    """Make the template database once per server; return its name.

    Side effects: on first use, ``evershop install`` migrates a new database
    (with its one admin, ``INSTALL_ADMIN_EMAIL``), which is then renamed to
    ``TEMPLATE_DATABASE``; the rename makes a half-made template impossible.
    """
    cache_dir = install(cache_dir)
    target = _Database.from_url(base_url)
    with contextlib.closing(target.connect()) as conn:
        if _exists(conn, TEMPLATE_DATABASE):
            return TEMPLATE_DATABASE
        conn.execute("SELECT pg_advisory_lock(%s)", (TEMPLATE_LOCK,))
        try:
            if _exists(conn, TEMPLATE_DATABASE):
                return TEMPLATE_DATABASE
            building = f"{TEMPLATE_DATABASE}_building_{os.getpid()}"
            _drop(conn, building)
            conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(building)))
            try:
                started = time.monotonic()
                _run_evershop_install(cache_dir, target, building)
                _check_migrated(cache_dir, target, building)
                conn.execute(
                    sql.SQL("ALTER DATABASE {} RENAME TO {}").format(
                        sql.Identifier(building), sql.Identifier(TEMPLATE_DATABASE)
                    )
                )
                seconds = time.monotonic() - started
                log(f"template database {TEMPLATE_DATABASE} made in {seconds:.1f} s")
            except BaseException:
                _drop(conn, building)
                raise
        finally:
            conn.execute("SELECT pg_advisory_unlock(%s)", (TEMPLATE_LOCK,))
    return TEMPLATE_DATABASE


def _run_evershop_install(cache_dir: Path, target: _Database, name: str) -> None:
    """``evershop install`` into database ``name``, its questions answered on stdin.

    It refuses to run when DB_HOST is set, so the host is typed at its prompt
    (as is an empty password); every other answer comes from its environment
    variables. It writes a .env file into its working folder: a throw-away one.
    """
    env = {k: v for k, v in os.environ.items() if not k.startswith("DB_")}
    env.update(target.env(name))
    del env["DB_HOST"]
    if not target.password:
        del env["DB_PASSWORD"]
    env.update(
        ADMIN_FULLNAME=INSTALL_ADMIN_NAME,
        ADMIN_EMAIL=INSTALL_ADMIN_EMAIL,
        ADMIN_PASSWORD=INSTALL_ADMIN_PASSWORD,
        SUPPRESS_NO_CONFIG_WARNING="1",
        NO_COLOR="1",
    )
    answers = [("Database Host", target.host)]
    if not target.password:
        answers.append(("Database Password", ""))
    logfile = cache_dir / "logs" / "install.log"
    logfile.parent.mkdir(exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="evershop-install-") as workdir:
        output = _converse(
            [_node(), str(_bin(cache_dir)), "install"], workdir, env, answers, timeout=120
        )
    text = ANSI.sub("", output)
    logfile.write_text(text)
    if "Installation completed" not in text:
        raise EverShopError(f"evershop install did not complete; see {logfile}")


def _converse(command: list[str], cwd: str, env: dict, answers: list, timeout: float) -> str:
    """Run ``command``, typing each answer once its prompt has been printed."""
    process = subprocess.Popen(
        command,
        cwd=cwd,
        env=env,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    output = b""
    seen = 0  # answered prompts are not looked at again
    deadline = time.monotonic() + timeout
    try:
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                raise EverShopError(f"evershop {command[-1]} did not finish in {timeout:.0f} s")
            ready, _, _ = select.select([process.stdout], [], [], left)
            if not ready:
                continue
            chunk = os.read(process.stdout.fileno(), 65536)
            if not chunk:
                break
            output += chunk
            text = ANSI.sub("", output[seen:].decode(errors="replace"))
            if answers and answers[0][0] in text:
                process.stdin.write(answers.pop(0)[1].encode() + b"\n")
                process.stdin.flush()
                seen = len(output)
        process.wait(timeout=30)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    return output.decode(errors="replace")


def _check_migrated(cache_dir: Path, target: _Database, name: str) -> None:
    """Every core module with migrations has its row in EverShop's ``migration`` table."""
    modules = package_dir(cache_dir) / "dist" / "modules"
    expected = {path.parent.name for path in modules.glob("*/migration")}
    with contextlib.closing(target.connect(name)) as conn:
        done = {row[0] for row in conn.execute("SELECT module FROM migration")}
    missing = sorted(expected - done)
    if missing:
        raise EverShopError(f"evershop install left modules unmigrated: {', '.join(missing)}")


def create_database(base_url: str, name: str, cache_dir: Path | str | None = None) -> str:
    """A fresh database ``name`` with EverShop's schema; return its URL.

    Side effects: installs EverShop and makes the template if needed, drops a
    database of that name if there is one, and copies the template into it
    (a tenth of a second, against two seconds for ``evershop install``).
    """
    template = ensure_template(base_url, cache_dir)
    target = _Database.from_url(base_url)
    with contextlib.closing(target.connect()) as conn:
        _drop(conn, name)
        conn.execute(
            sql.SQL("CREATE DATABASE {} TEMPLATE {}").format(
                sql.Identifier(name), sql.Identifier(template)
            )
        )
    return database_url(base_url, name)


def drop_database(url: str) -> None:
    """Drop the database ``url`` names, disconnecting whoever is on it."""
    target = _Database.from_url(url)
    with contextlib.closing(target.connect("postgres")) as conn:
        _drop(conn, target.name)


def _reason(output: str) -> str:
    """The line of EverShop's output that says what went wrong."""
    lines = [
        line.strip()
        for line in ANSI.sub("", output).splitlines()
        if line.strip() and not line.startswith("WARNING:") and not line.strip().startswith("at ")
    ]
    for before, line in itertools.pairwise(lines):
        if before.endswith("error:"):  # its logger puts the message on the next line
            return line
    return lines[-1] if lines else "no output"


# --- running it ------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _check_port_free(port: int) -> None:
    # EverShop listens on every interface; another server there would answer
    # the readiness check in its place.
    with socket.socket() as sock:
        try:
            sock.bind(("", port))
        except OSError:
            raise EverShopError(f"port {port} is already in use") from None


@dataclass
class Response:
    status: int
    headers: dict
    body: object  # the parsed JSON, or the text when the answer is not JSON


_client_addresses = itertools.count(1)


def _client_address() -> str:
    n = next(_client_addresses)
    return f"10.{(n >> 16) & 255}.{(n >> 8) & 255}.{n & 255}"


class EverShop:
    """One ``evershop start`` process on ``database_url``.

    ``env`` adds to or overrides its environment (JWT secrets, JWT_ISSUER, …);
    JWT secrets it lacks are taken from this process's environment, or made up.
    ``self.env`` holds the settings it runs with, so that the service can be
    given the same secrets.
    """

    def __init__(
        self,
        database_url: str,
        port: int | None = None,
        env: dict | None = None,
        cache_dir: Path | str | None = None,
        log_path: Path | str | None = None,
    ):
        self.database = _Database.from_url(database_url)
        self.port = port or free_port()
        self.cache_dir = Path(cache_dir or default_cache_dir()).expanduser().resolve()
        self.log_path = Path(
            log_path or self.cache_dir / "logs" / f"evershop-{self.port}.log"
        ).resolve()
        settings = {"JWT_ISSUER": os.environ.get("JWT_ISSUER", "evershop")}
        for name in JWT_SETTINGS:
            settings[name] = os.environ.get(name) or secrets.token_urlsafe(32)
        self.env = {**settings, **(env or {})}
        self.process: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def environment(self) -> dict:
        """The whole environment of EverShop's processes."""
        env = {k: v for k, v in os.environ.items() if not k.startswith("DB_")}
        env.update(self.database.env())
        env.update(
            PORT=str(self.port),
            # `evershop start` sets NODE_ENV=production itself whatever it is
            # given; its rate limiter, off only under "test", stays on. Requests
            # through `request` dodge it with their own client address.
            NODE_ENV="production",
            # EverShop's default: X-Forwarded-For names the client.
            TRUST_PROXY_HOPS="1",
            SUPPRESS_NO_CONFIG_WARNING="1",
            NO_COLOR="1",
        )
        env.update(self.env)
        return env

    def start(self, timeout: float = 90) -> EverShop:
        """Spawn ``evershop start`` (it migrates first) and wait until it answers.

        Side effects: the process and its two children (event and cron
        workers) in a process group of their own; output to ``log_path``.
        """
        if self.process is not None:
            return self
        install(self.cache_dir)
        _check_port_free(self.port)
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        with open(self.log_path, "wb") as out:
            self.process = subprocess.Popen(
                [_node(), str(_bin(self.cache_dir)), "start"],
                cwd=self.cache_dir,
                env=self.environment(),
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        try:
            self._wait_until_it_answers(timeout)
        except BaseException:  # Ctrl-C too: never leave it running
            self.stop()
            raise
        return self

    def _wait_until_it_answers(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while not self._answers():
            if self.process.poll() is not None:
                raise EverShopError(
                    f"evershop start exited ({self.process.returncode}) before answering: "
                    f"{self._last_error()}; see {self.log_path}"
                )
            if time.monotonic() > deadline:
                raise EverShopError(
                    f"evershop start did not answer in {timeout:.0f} s; see {self.log_path}"
                )
            time.sleep(0.1)

    def _answers(self) -> bool:
        try:
            self.request("POST", "/api/user/tokens", {}, timeout=2)
        except (urllib.error.URLError, ConnectionError, TimeoutError, OSError):
            return False
        return True

    def _last_error(self) -> str:
        try:
            return _reason(self.log_path.read_text(errors="replace"))
        except OSError:
            return "no log"

    def stop(self, timeout: float = 15) -> None:
        """SIGTERM to the whole process group, SIGKILL to what is left after ``timeout``."""
        if self.process is None:
            return
        group = self.process.pid
        with contextlib.suppress(ProcessLookupError):
            os.killpg(group, signal.SIGTERM)
        deadline = time.monotonic() + timeout
        # The children outlive the main process unless the group is killed.
        while time.monotonic() < deadline:
            self.process.poll()
            try:
                os.killpg(group, 0)
            except ProcessLookupError:
                break
            time.sleep(0.1)
        else:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(group, signal.SIGKILL)
        self.process.wait()
        self.process = None

    def __enter__(self) -> EverShop:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    def request(
        self,
        method: str,
        path: str,
        body: object = None,
        token: str | None = None,
        headers: dict | None = None,
        timeout: float = 30,
    ) -> Response:
        """One HTTP request; an error status is returned, not raised.

        Each request comes from a client address of its own (X-Forwarded-For),
        so EverShop's per-address rate limits never answer 429.
        """
        data = None if body is None else json.dumps(body).encode()
        request = urllib.request.Request(self.url + path, data=data, method=method)
        request.add_header("X-Forwarded-For", _client_address())
        request.add_header("Accept", "application/json")
        if data is not None:
            request.add_header("Content-Type", "application/json")
        if token:
            request.add_header("Authorization", f"Bearer {token}")
        for name, value in (headers or {}).items():
            request.add_header(name, value)
        try:
            with urllib.request.urlopen(request, timeout=timeout) as answer:
                status, answer_headers, raw = answer.status, dict(answer.headers), answer.read()
        except urllib.error.HTTPError as error:
            status, answer_headers, raw = error.code, dict(error.headers), error.read()
        text = raw.decode(errors="replace")
        try:
            parsed = json.loads(text) if "json" in answer_headers.get("Content-Type", "") else text
        except ValueError:
            parsed = text
        return Response(status, answer_headers, parsed)

    def create_admin(self, email: str, password: str, full_name: str = "Admin") -> None:
        """``evershop user:create`` on this instance's database (it needs not be running).

        EverShop upserts by email: an existing admin gets the new password.
        """
        install(self.cache_dir)
        done = _run(
            "evershop user:create",
            [
                _node(),
                str(_bin(self.cache_dir)),
                "user:create",
                "--name",
                full_name,
                "--email",
                email,
                "--password",
                password,
            ],
            cwd=self.cache_dir,
            # Its success message is at level info, below the default.
            env={**self.environment(), "LOGGER_LEVEL": "info"},
            capture_output=True,
            text=True,
            timeout=60,
        )
        output = ANSI.sub("", done.stdout + done.stderr)
        # It exits 0 whatever happens; only its message tells.
        if "Admin user created successfully" not in output:
            raise EverShopError(f"evershop user:create failed: {_reason(output)}")

    def admin_token(self, email: str, password: str) -> str:
        """An admin access token from EverShop's ``POST /api/user/tokens``."""
        answer = self.request("POST", "/api/user/tokens", {"email": email, "password": password})
        if answer.status != 200:
            raise EverShopError(f"EverShop refused the admin login: {answer.status} {answer.body}")
        return answer.body["data"]["accessToken"]


# --- command line ----------------------------------------------------------


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="evershop.py", description=__doc__.splitlines()[0])
    parser.add_argument("--cache-dir", help="default: EVERSHOP_CACHE or ~/.cache/…")
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("install", help="npm install and build EverShop (cached)")
    create = commands.add_parser("create-database", help="a fresh database with EverShop's schema")
    create.add_argument("--database-url", required=True, help="a database on the same server")
    create.add_argument("--name", required=True)
    admin = commands.add_parser("create-admin", help="evershop user:create")
    admin.add_argument("--database-url", required=True)
    admin.add_argument("--email", required=True)
    admin.add_argument("--password", required=True)
    admin.add_argument("--full-name", default="Admin")
    serve = commands.add_parser("serve", help="run evershop start until Ctrl-C")
    serve.add_argument("--database-url", required=True)
    serve.add_argument("--port", type=int, default=3100)
    args = parser.parse_args(argv)

    try:
        if args.command == "install":
            started = time.monotonic()
            where = install(args.cache_dir)
            print(f"EverShop {VERSION} ready in {where} ({time.monotonic() - started:.1f} s)")
        elif args.command == "create-database":
            print(create_database(args.database_url, args.name, args.cache_dir))
        elif args.command == "create-admin":
            shop = EverShop(args.database_url, cache_dir=args.cache_dir)
            shop.create_admin(args.email, args.password, args.full_name)
            print(f"admin {args.email} created")
        else:
            _serve(args)
    except EverShopError as error:
        print(f"evershop: {error}", file=sys.stderr)
        return 1
    return 0


def _interrupt(signum, frame) -> None:
    """SIGTERM ends ``serve`` as Ctrl-C does, so that EverShop is stopped either way."""
    raise KeyboardInterrupt


def _serve(args) -> None:
    shop = EverShop(args.database_url, port=args.port, cache_dir=args.cache_dir)
    generated = [name for name in JWT_SETTINGS if not os.environ.get(name)]
    signal.signal(signal.SIGTERM, _interrupt)
    try:
        shop.start()
        print(f"EverShop {VERSION} at {shop.url} (log: {shop.log_path}); Ctrl-C stops it")
        if generated:
            print(f"made-up secrets for {', '.join(generated)}: set them to share tokens")
        shop.process.wait()
        print(f"evershop start exited ({shop.process.returncode}); see {shop.log_path}")
    except KeyboardInterrupt:
        pass
    finally:
        shop.stop()


if __name__ == "__main__":
    sys.exit(main())
