"""The two services bench/compare.py measures: the service under gunicorn, and
EverShop 2.2.1 under ``evershop start`` (scripts/evershop.py). Each can tell
whether it still answers, wait until earlier work is done, and restart.
"""

from __future__ import annotations

import contextlib
import http.client
import json
import subprocess
import time
import urllib.error
import urllib.request
from pathlib import Path

import psycopg

from bench.run import BIN, ROOT, call, free_port, gunicorn, settle
from scripts import evershop as harness

# A side that has not answered a probe in this many seconds after a run is
# stalled; longer than any backlog a run can leave (64 requests queued behind
# bcrypt at 10 hashes/s take under 7 s).
STALL_PROBE_S = 30.0


def _answers(url: str, timeout: float) -> bool:
    """Whether a GET of ``url`` got an answer, whatever its status, in ``timeout``."""
    try:
        with urllib.request.urlopen(url, timeout=timeout) as answer:
            answer.read()
    except urllib.error.HTTPError:
        pass  # an answer all the same
    except (OSError, http.client.HTTPException):
        return False
    return True


class Service:
    """The service under gunicorn with ``env``; ``restart`` brings up a new one."""

    name = "ours"

    def __init__(self, env: dict, database_url: str):
        self.env = env
        self.database_url = database_url
        self._stack: contextlib.ExitStack | None = None
        self.base = ""
        self.data: dict = {}
        self._admin_made = False

    def start(self) -> Service:
        """Side effect: ``gunicorn wsgi:app`` running until ``stop``."""
        self._stack = contextlib.ExitStack()
        _, self.base = self._stack.enter_context(gunicorn(self.env))
        return self

    def stop(self) -> None:
        if self._stack is not None:
            stack, self._stack = self._stack, None
            stack.close()

    def restart(self) -> None:
        self.stop()
        self.env = {**self.env, "PORT": str(free_port())}
        self.start()

    def admin_token(self) -> str:
        """An admin access token. Side effect: the admin is made with ``flask
        user create`` the first time."""
        email, password = "bench-admin@example.com", "bench-admin-password"
        if not self._admin_made:
            subprocess.run(
                [str(BIN / "flask"), "user", "create", "--email", email, "--password", password]
                + ["--full-name", "Bench Admin"],
                cwd=ROOT,
                env=self.env,
                check=True,
                capture_output=True,
            )
            self._admin_made = True
        answer = call(self.base, "POST", "/api/user/tokens", {"email": email, "password": password})
        return answer["data"]["accessToken"]

    def answers(self, timeout: float) -> bool:
        """Whether it answers ``/readyz`` (which reads the database) in time."""
        return _answers(self.base + "/readyz", timeout)

    def settle(self) -> None:
        """Wait until its events are delivered and its queue is empty (bench/run.py)."""
        settle(self.base, database_url=self.database_url)


class EverShopService:
    """``evershop start`` on ``database_url``; ``restart`` brings up a new one."""

    name = "evershop"

    def __init__(self, database_url: str, env: dict, log_dir: Path):
        self.database_url = database_url
        self.env = env
        self.log_dir = log_dir
        self.shop: harness.EverShop | None = None
        self.starts = 0
        self.data: dict = {}
        self.probe_uuid = ""

    @property
    def base(self) -> str:
        return self.shop.url

    @property
    def log_path(self) -> Path:
        return self.shop.log_path

    def start(self) -> EverShopService:
        """Side effect: EverShop's three processes running until ``stop``, each
        start logging to a file of its own in ``log_dir``."""
        self.starts += 1
        self.shop = harness.EverShop(
            self.database_url,
            env=self.env,
            log_path=self.log_dir / f"evershop-{self.starts}.log",
        )
        self.shop.start()
        return self

    def stop(self) -> None:
        if self.shop is not None:
            self.shop.stop()

    def restart(self) -> None:
        self.stop()
        self.start()

    def admin_token(self) -> str:
        """An access token of the admin ``evershop install`` made (the template keeps it)."""
        return self.shop.admin_token(harness.INSTALL_ADMIN_EMAIL, harness.INSTALL_ADMIN_PASSWORD)

    def _probe(self, timeout: float) -> float | None:
        """Seconds a read through its pg pool took (a deadlocked pool never
        answers it), or None when it got no answer in ``timeout``."""
        query = "{ customer(id: " + json.dumps(self.probe_uuid) + ") { uuid } }"
        started = time.monotonic()
        try:
            self.shop.request(
                "POST",
                "/api/admin/graphql",
                {"query": query},
                token=self.data["admin_token"],
                timeout=timeout,
            )
        except (OSError, http.client.HTTPException):
            return None
        return time.monotonic() - started

    def answers(self, timeout: float) -> bool:
        return self._probe(timeout) is not None

    def settle(self, quiet_s: float = 0.5, limit_s: float = 60.0) -> None:
        """Wait until its event worker has no event left to process and a read
        is answered quickly."""
        deadline = time.monotonic() + limit_s
        with psycopg.connect(self.database_url, autocommit=True) as conn:
            while time.monotonic() < deadline:
                pending = conn.execute(
                    "SELECT count(*) FROM event WHERE status IN ('pending', 'processing')"
                ).fetchone()[0]
                if not pending:
                    break
                time.sleep(0.5)
        while time.monotonic() < deadline:
            took = self._probe(STALL_PROBE_S)
            if took is None or took < quiet_s:
                return
            time.sleep(0.2)
