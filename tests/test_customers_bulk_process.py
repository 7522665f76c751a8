"""``flask customers import`` as an operator runs it: the real ``flask``
command in a process of its own, on SQLite and PostgreSQL, stopped by SIGTERM
or by Ctrl-C on a terminal (a pseudo-terminal) and run again to resume; its
progress bar on a terminal and its plain progress lines elsewhere."""

from __future__ import annotations

import json
import os
import pty
import re
import select
import signal
import subprocess
import time
from pathlib import Path

import sqlalchemy as sa

from app.db import db
from tests.gunicorn_server import BIN, ROOT, secrets_env

# A terminal's control sequences (colours, cursor moves).
ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")
ADDRESS = {"full_name": "C", "address_1": "1 Main St", "city": "Springfield", "country": "US"}


def write_customers(path: Path, count: int) -> Path:
    with path.open("w") as stream:
        for number in range(count):
            record = {"email": f"c{number}@example.com", "full_name": f"Customer {number}"}
            stream.write(json.dumps(record | {"addresses": [ADDRESS]}) + "\n")
    return path


def command_env(app, tmp_path: Path) -> dict:
    return {
        **secrets_env(tmp_path),
        "APP_ENV": "development",
        "DATABASE_URL": app.config["SQLALCHEMY_DATABASE_URI"],
        "EVENTS_DELIVERY": "worker",
        "LOG_LEVEL": "WARNING",
    }


def flask_import(*args: str) -> list[str]:
    return [str(BIN / "flask"), "--app", "wsgi", "customers", "import", *args]


def counts(app) -> dict:
    with app.app_context():
        found = {
            "customers": db.session.scalar(sa.text("SELECT count(*) FROM customer")),
            "distinct emails": db.session.scalar(
                sa.text("SELECT count(DISTINCT lower(email)) FROM customer")
            ),
            "addresses": db.session.scalar(sa.text("SELECT count(*) FROM customer_address")),
            "registered events": db.session.scalar(
                sa.text("SELECT count(*) FROM event_outbox WHERE name = 'customer_registered'")
            ),
        }
        db.session.remove()
    return found


def wait_for(condition, timeout: float = 60) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.05)
    return False


def test_import_stopped_by_sigterm_resumes_where_it_stopped_without_duplicates(app, tmp_path):
    source = write_customers(tmp_path / "customers.jsonl", 6000)
    state = tmp_path / "customers.jsonl.import-state.json"
    env = command_env(app, tmp_path)
    process = subprocess.Popen(
        flask_import(str(source), "--batch-size", "20"),
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    # When SIGTERM arrives once some batches have committed
    assert wait_for(state.exists), process.communicate(timeout=60)
    process.send_signal(signal.SIGTERM)
    out, err = process.communicate(timeout=60)

    # Then it stops after the batch in hand, saying where, with status 130
    assert process.returncode == 130, err
    saved = json.loads(state.read_text())
    done = saved["records"]
    assert 0 < done < 6000
    assert saved["line"] == done
    assert err.splitlines()[-1] == (
        f"interrupted after line {done} ({done:,} records done, checkpoint {state});"
        " run the same command again to resume"
    )
    assert out == ""
    assert counts(app) == dict.fromkeys(
        ("customers", "distinct emails", "addresses", "registered events"), done
    )

    # And the same command resumes there and imports each customer once
    again = subprocess.run(
        flask_import(str(source), "--batch-size", "20"),
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert again.returncode == 0, again.stderr
    assert again.stderr.splitlines()[0] == (
        f"resuming customers.jsonl after line {done} ({done:,} records done)"
    )
    assert again.stdout == (
        "customers.jsonl: 6,000 records: 6,000 created, 0 updated, 0 unchanged, 0 rejected;"
        " addresses: 6,000 created, 0 updated; 0 invited\n"
    )
    assert counts(app) == dict.fromkeys(
        ("customers", "distinct emails", "addresses", "registered events"), 6000
    )
    assert not state.exists()


def test_import_run_again_from_the_start_adds_no_duplicates(app, tmp_path):
    source = write_customers(tmp_path / "customers.jsonl", 300)
    env = command_env(app, tmp_path)
    first = subprocess.run(
        flask_import(str(source)), cwd=ROOT, env=env, capture_output=True, text=True, timeout=300
    )
    assert first.returncode == 0, first.stderr

    again = subprocess.run(
        flask_import(str(source), "--restart"),
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )

    assert again.returncode == 0, again.stderr
    assert "300 records: 0 created, 0 updated, 300 unchanged" in again.stdout
    assert counts(app) == dict.fromkeys(
        ("customers", "distinct emails", "addresses", "registered events"), 300
    )


def test_import_off_a_terminal_prints_plain_progress_lines(app, tmp_path):
    source = write_customers(tmp_path / "customers.jsonl", 50)

    finished = subprocess.run(
        flask_import(str(source)),
        cwd=ROOT,
        env=command_env(app, tmp_path),
        capture_output=True,
        text=True,
        timeout=300,
    )

    assert finished.returncode == 0, finished.stderr
    assert re.fullmatch(
        r"progress: 50/50 records \(100%\), [0-9,]+ records/s, ETA 0 s\n", finished.stderr
    ), finished.stderr
    assert "\x1b[" not in finished.stderr


# --- on a terminal ---------------------------------------------------------------------


def on_terminal(argv: list[str], env: dict, ctrl_c_when=None, timeout: float = 300):
    """Run ``argv`` with a pseudo-terminal as its controlling terminal, as
    an operator's shell runs it; type Ctrl-C once ``ctrl_c_when(screen)``
    holds. Returns the exit status and everything written to the terminal."""
    pid, master = pty.fork()
    if pid == 0:  # the child: the terminal is its stdin, stdout and stderr
        os.chdir(ROOT)
        os.execve(argv[0], argv, env)
    screen, typed = b"", False
    deadline = time.monotonic() + timeout
    try:
        while time.monotonic() < deadline:
            ready, _, _ = select.select([master], [], [], 0.1)
            if ready:
                try:
                    chunk = os.read(master, 65536)
                except OSError:  # the child is gone: the terminal closed
                    break
                if not chunk:
                    break
                screen += chunk
            if ctrl_c_when and not typed and ctrl_c_when(screen.decode(errors="replace")):
                os.write(master, b"\x03")
                typed = True
        _, status = os.waitpid(pid, 0)
    finally:
        os.close(master)
    return os.waitstatus_to_exitcode(status), screen.decode(errors="replace")


def terminal_env(app, tmp_path) -> dict:
    return command_env(app, tmp_path) | {"TERM": "xterm-256color", "COLUMNS": "120"}


def test_import_on_a_terminal_shows_a_progress_bar_with_rate_and_eta(app, tmp_path):
    source = write_customers(tmp_path / "customers.jsonl", 2000)

    status, screen = on_terminal(flask_import(str(source)), terminal_env(app, tmp_path))

    assert status == 0, screen
    assert "\x1b[" in screen  # drawn with terminal control sequences
    frames = [ANSI.sub("", frame).strip() for frame in screen.split("\r")]
    # rich's bar, redrawn in place: its description, the bar, done/total, the
    # share, the rate, the time spent and the time left
    assert any(
        re.fullmatch(
            r"importing ━+ 2000/2000 100% [0-9,]+ records/s \d+:\d\d:\d\d ETA \d+:\d\d:\d\d",
            frame,
        )
        for frame in frames
    ), frames
    assert "progress: " not in screen  # not the plain lines
    assert "customers.jsonl: 2,000 records: 2,000 created" in screen


def test_import_interrupted_with_ctrl_c_on_a_terminal_resumes(app, tmp_path):
    source = write_customers(tmp_path / "customers.jsonl", 6000)
    env = terminal_env(app, tmp_path)
    state = tmp_path / "customers.jsonl.import-state.json"

    status, screen = on_terminal(
        flask_import(str(source), "--batch-size", "20"),
        env,
        ctrl_c_when=lambda _screen: state.exists(),
    )

    assert status == 130, screen
    done = json.loads(state.read_text())["records"]
    assert 0 < done < 6000
    assert "run the same command again to resume" in screen
    assert counts(app)["customers"] == done

    status, screen = on_terminal(flask_import(str(source), "--batch-size", "20"), env)

    assert status == 0, screen
    assert f"resuming customers.jsonl after line {done}" in screen
    assert counts(app) == dict.fromkeys(
        ("customers", "distinct emails", "addresses", "registered events"), 6000
    )
