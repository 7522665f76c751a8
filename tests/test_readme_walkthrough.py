"""The README's walk-through, run as written.

Every ``sh`` block of the "Walk-through with curl" section (its subsections
included, however many there are) runs in order in one bash process from the
repository root, against ``flask run`` on a loopback port with a fresh,
migrated SQLite database, as ``make run`` serves. The only text replaced is
what the README tells the reader to replace: ``<the token>``,
``<the verification token>`` and ``<the erasure token>``, with the token of
the latest such link (reset, email verification, erasure) the service wrote
to its log. ``BASE`` names the server, as
the README lets it; ``RATELIMIT_STORAGE_URI`` is Redis, as the "Failed logins"
block asks. curl runs with ``--fail-with-body`` and bash with ``-e -o
pipefail``, so any step that answers an error fails the test.
"""

from __future__ import annotations

import json
import os
import queue
import re
import signal
import subprocess
import threading
import time
import urllib.parse
import uuid
from pathlib import Path

import pytest

from tests.gunicorn_server import ROOT, Client, free_port, secrets_env

SECTION = "## Walk-through with curl"
# What the README asks the reader to replace -> the path of the emailed link.
PLACEHOLDERS = {
    "<the token>": "/reset-password",
    "<the verification token>": "/verify-email",
    "<the erasure token>": "/delete-account",
}
DONE = "__README_BLOCK_DONE__"
BLOCK_TIMEOUT = 60


def walkthrough_blocks(readme: str) -> list[str]:
    """The ``sh`` blocks from the section's heading to the next ``## `` heading."""
    start = readme.index(SECTION)
    following = re.search(r"^## ", readme[start + len(SECTION) :], re.MULTILINE)
    section = readme[start : start + len(SECTION) + following.start()] if following else readme
    return re.findall(r"^```sh\n(.*?)^```", section, re.MULTILINE | re.DOTALL)


def token_in(log: Path, path: str) -> str:
    """The token of the latest link to ``path`` in the service's log, once it is there."""
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        found = re.findall(re.escape(path) + r"\?token=([A-Za-z0-9_%-]+)", log.read_text())
        if found:
            return urllib.parse.unquote(found[-1])
        time.sleep(0.2)
    pytest.fail(f"no {path} link in the service's log within 30 s:\n{log.read_text()}")


class Shell:
    """One bash process fed block after block; each block's output is read
    up to a marker the shell echoes after it."""

    def __init__(self, env: dict):
        self.process = subprocess.Popen(
            ["bash"],
            cwd=ROOT,
            env=env,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            start_new_session=True,
        )
        self.lines: queue.Queue = queue.Queue()
        threading.Thread(target=self._read, daemon=True).start()
        self.transcript: list[str] = []
        # The harness: strict bash, and curl that fails on an error status.
        self.send('set -euo pipefail\ncurl() { command curl --fail-with-body "$@"; }\n')

    def _read(self) -> None:
        for line in self.process.stdout:
            self.lines.put(line)
        self.lines.put(None)

    def send(self, text: str) -> None:
        self.process.stdin.write(text)
        self.process.stdin.flush()

    def run(self, block: str) -> str:
        """Run a block; its output, or the test fails (with the transcript)."""
        self.transcript.append(f"$ {block}")
        # A newline first: curl's answers end without one.
        self.send(f"{block}\necho; echo {DONE}\n")
        output = []
        deadline = time.monotonic() + BLOCK_TIMEOUT
        while True:
            try:
                line = self.lines.get(timeout=max(deadline - time.monotonic(), 0.1))
            except queue.Empty:
                pytest.fail("a block ran for over a minute:\n" + self.text(output))
            if line is None:
                pytest.fail(
                    f"the block failed (bash exited with {self.process.wait()}):\n"
                    + self.text(output)
                )
            if line.strip() == DONE:
                self.transcript += output
                return "".join(output)
            output.append(line)

    def text(self, output: list[str]) -> str:
        return "\n".join(self.transcript) + "\n" + "".join(output)

    def close(self) -> None:
        if self.process.poll() is None:
            self.process.stdin.close()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait(timeout=10)


@pytest.fixture
def served(tmp_path):
    """``flask run`` on a free loopback port with a fresh, migrated SQLite
    database; yields the environment the reader's shell shares with it and
    the server's log."""
    port = free_port()
    env = {
        **os.environ,
        **secrets_env(tmp_path),
        "APP_ENV": "development",
        "DATABASE_URL": f"sqlite:///{tmp_path / 'walkthrough.sqlite3'}",
        "RATELIMIT_STORAGE_URI": "redis://127.0.0.1:6379/0",
        "RATELIMIT_KEY_PREFIX": f"readme-{uuid.uuid4().hex[:12]}",
        "BASE": f"http://127.0.0.1:{port}",
    }
    env.pop("MAIL_SERVER", None)
    for name in ("FLASK_APP", "FLASK_RUN_PORT", "EVENTS_DELIVERY"):
        env.pop(name, None)
    migrated = subprocess.run(
        [".venv/bin/flask", "--app", "wsgi", "db", "upgrade"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert migrated.returncode == 0, migrated.stderr
    log = tmp_path / "service.log"
    with log.open("w") as output:
        server = subprocess.Popen(
            [".venv/bin/flask", "--app", "wsgi", "run", "--host", "127.0.0.1", "--port", str(port)],
            cwd=ROOT,
            env=env,
            stdout=output,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        client = Client(env["BASE"])
        deadline = time.monotonic() + 60
        while True:
            assert server.poll() is None, log.read_text()
            try:
                if client("GET", "/readyz")[0] == 200:
                    break
            except OSError:  # not listening yet
                pass
            assert time.monotonic() < deadline, log.read_text()
            time.sleep(0.2)
        yield env, log
    finally:
        server.send_signal(signal.SIGTERM)
        try:
            server.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(server.pid, signal.SIGKILL)
            server.wait(timeout=10)


def test_readme_walkthrough_section_has_its_blocks_in_order():
    blocks = walkthrough_blocks((ROOT / "README.md").read_text())

    deletes = [
        i
        for i, block in enumerate(blocks)
        if re.search(r"-X DELETE .*/api/customers/\$UUID\b", block)
    ]
    resets = [i for i, block in enumerate(blocks) if "reset-password" in block]
    graphql = [i for i, block in enumerate(blocks) if "graphql" in block]
    assert deletes and resets and graphql
    # Deleting the customer comes after every read of it
    assert deletes == [len(blocks) - 1]
    assert max(resets + graphql) < deletes[0]


def test_readme_walkthrough_runs_verbatim_against_flask_run(served):
    env, log = served
    blocks = walkthrough_blocks((ROOT / "README.md").read_text())
    shell = Shell(env)
    outputs = []
    try:
        for block in blocks:
            for placeholder, path in PLACEHOLDERS.items():
                if placeholder in block:
                    block = block.replace(placeholder, token_in(log, path))
            outputs.append(shell.run(block))
        final = shell.run(
            'echo "$UUID"; command curl -s -o /dev/null -w "%{http_code}"'
            ' -H "Authorization: Bearer $TOKEN" "$BASE/api/customers/$UUID"'
        )
    finally:
        shell.close()

    # Every block ran without an error status; the customer made in step 3
    # was read, reset and disabled, and is gone at the end
    customer_uuid, after_delete = final.split()
    assert str(uuid.UUID(customer_uuid)) == customer_uuid
    deleted = json.loads(outputs[-1])
    assert deleted["data"]["uuid"] == customer_uuid
    assert after_delete == "404"
    assert len(outputs) == len(blocks)
