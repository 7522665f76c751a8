"""One log format (docs/operations.md, "Logs"): with ``LOG_FORMAT=json`` every
line that gunicorn and the service write — access lines, the service's own,
gunicorn's, errors with their stack trace — is one JSON object with time,
level, logger, request id and message; ``LOG_FORMAT=text`` is readable and
has no colour codes. Each request has one access line, under gunicorn and
under ``flask run``. Tested on the real processes, with their real output."""

from __future__ import annotations

import io
import json
import logging
import re
import signal
import subprocess
from dataclasses import dataclass
from pathlib import Path

import gunicorn
import pytest

from app.config import ConfigError, load_config
from app.logs import JsonFormatter, RequestIdFilter, TextFormatter
from tests.gunicorn_server import (
    BIN,
    ROOT,
    Client,
    free_port,
    run_flask,
    running_gunicorn,
    secrets_env,
)
from tests.plugins.crashing import CRASHING_NAME

LINE_FIELDS = ["time", "level", "logger", "request_id", "message"]
TIME = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$")
TEXT_LINE = re.compile(
    r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z (DEBUG|INFO|WARNING|ERROR|CRITICAL) \S+ \[\S+\] "
)
ANSI = "\x1b"


def sqlite_env(tmp_path: Path, **settings: str) -> dict:
    """A service on a migrated SQLite database of its own, with the crashing
    plugin, and no mail server or event delivery to log anything else."""
    env = {
        **secrets_env(tmp_path),
        "APP_ENV": "development",
        "DATABASE_URL": f"sqlite:///{tmp_path / 'service.sqlite3'}",
        "EVENTS_DELIVERY": "worker",
        "PLUGINS": "tests.plugins.crashing",
        "HOST": "127.0.0.1",
        "PORT": str(free_port()),
        "WEB_CONCURRENCY": "2",
        **settings,
    }
    migrated = run_flask(env, "db", "upgrade")
    assert migrated.returncode == 0, migrated.stderr
    return env


def requests_with_a_fault(client: Client) -> list[tuple[int, str]]:
    """Four requests, one of them a 500 from the crashing plugin: (status, request id)."""
    answers = []
    for method, path, body in (
        ("GET", "/healthz", None),
        ("GET", "/api/nothing-here", None),
        ("POST", "/api/customers/reset-password", {"email": "someone@example.com"}),
        (
            "POST",
            "/api/customers",
            {
                "email": "crash@example.com",
                "password": "crash-password-1",
                "full_name": CRASHING_NAME,
            },
        ),
    ):
        status, headers, _ = client(method, path, body)
        answers.append((status, headers["X-Request-ID"]))
    return answers


def stop(process: subprocess.Popen) -> None:
    process.send_signal(signal.SIGTERM)
    process.wait(timeout=60)


@dataclass(frozen=True)
class Run:
    """What gunicorn wrote while it served ``requests_with_a_fault``."""

    answers: list[tuple[int, str]]
    stdout: str
    stderr: str


def serve_and_stop(directory: Path, **settings: str) -> Run:
    env = sqlite_env(directory, **settings)
    with running_gunicorn(env, directory / "logs") as server:
        answers = requests_with_a_fault(Client(server.base_url))
        stop(server.process)
    return Run(answers, server.access_log.read_text(), server.error_log.read_text())


@pytest.fixture(scope="module")
def json_run(tmp_path_factory) -> Run:
    """gunicorn with two workers and LOG_FORMAT=json."""
    return serve_and_stop(tmp_path_factory.mktemp("json"), LOG_FORMAT="json")


@pytest.fixture(scope="module")
def text_run(tmp_path_factory) -> Run:
    """gunicorn with two workers and LOG_FORMAT=text, writing to files."""
    return serve_and_stop(tmp_path_factory.mktemp("text"), LOG_FORMAT="text")


# --- JSON lines, under gunicorn -------------------------------------------------------------


def test_every_line_gunicorn_and_the_service_write_in_json_is_one_object_with_the_fields(
    json_run,
):
    lines = []
    for text in (json_run.stdout + json_run.stderr).splitlines():
        line = json.loads(text)
        assert list(line)[:5] == LINE_FIELDS, text
        assert TIME.match(line["time"]), text
        lines.append(line)
    assert [status for status, _ in json_run.answers] == [200, 404, 200, 500]
    loggers = {line["logger"] for line in lines}
    assert {"app.access", "app.errors", "gunicorn.error"} <= loggers
    assert "gunicorn.access" not in loggers


def test_json_access_lines_are_one_per_request_on_stdout_with_its_request_id(json_run):
    # /readyz, asked while gunicorn started, has its lines too
    access = [json.loads(text) for text in json_run.stdout.splitlines()]
    served = [line for line in access if line["path"] != "/readyz"]
    assert [(line["status"], line["request_id"]) for line in served] == json_run.answers
    assert {line["logger"] for line in access} == {"app.access"}
    assert [line["route"] for line in served] == [
        "/healthz",
        None,
        "/api/customers/reset-password",
        "/api/customers",
    ]
    assert "app.access" not in json_run.stderr


def test_a_fault_is_one_json_line_with_its_stack_trace_and_request_id(json_run):
    _, failed_request = json_run.answers[-1]
    lines = [json.loads(text) for text in json_run.stderr.splitlines()]
    [fault] = [line for line in lines if line["logger"] == "app.errors"]
    assert fault["level"] == "ERROR"
    assert fault["request_id"] == failed_request
    assert fault["message"] == f"unhandled error (request id {failed_request})"
    assert fault["exception"].startswith("Traceback (most recent call last):\n")
    assert fault["exception"].endswith("RuntimeError: the plugin broke")
    assert "crash-password-1" not in json_run.stderr + json_run.stdout


def test_gunicorns_own_lines_are_json_too(json_run):
    messages = [
        (line["level"], line["request_id"], line["message"])
        for line in map(json.loads, json_run.stderr.splitlines())
        if line["logger"] == "gunicorn.error"
    ]
    assert messages[0] == ("INFO", None, f"Starting gunicorn {gunicorn.__version__}")
    assert sum(message.startswith("Booting worker with pid: ") for *_, message in messages) == 2
    assert messages[-1] == ("INFO", None, "Shutting down: Master")


def test_production_logs_json_by_default(tmp_path):
    env = sqlite_env(tmp_path, APP_ENV="production", ALLOW_SQLITE_IN_PRODUCTION="true")
    with running_gunicorn(env, tmp_path / "logs") as server:
        Client(server.base_url)("GET", "/healthz")
        stop(server.process)

    texts = (server.access_log.read_text() + server.error_log.read_text()).splitlines()
    assert len(texts) > 5
    for text in texts:
        assert list(json.loads(text))[:5] == LINE_FIELDS


# --- text lines ---------------------------------------------------------------------------


def test_text_access_lines_name_each_request_with_its_id(text_run):
    access = [text for text in text_run.stdout.splitlines() if "/readyz" not in text]
    assert len(access) == len(text_run.answers)
    for text, (status, request_id) in zip(access, text_run.answers, strict=True):
        assert TEXT_LINE.match(text), text
        assert f" INFO app.access [{request_id}] " in text
        assert re.search(rf" {status} [0-9.]+ms$", text), text


def test_text_fault_line_is_followed_by_its_traceback(text_run):
    _, failed_request = text_run.answers[-1]
    assert f" ERROR app.errors [{failed_request}] unhandled error" in text_run.stderr
    assert "\nTraceback (most recent call last):\n" in text_run.stderr
    assert "\nRuntimeError: the plugin broke\n" in text_run.stderr


def test_text_lines_written_to_files_have_no_colour_codes(text_run):
    assert ANSI not in text_run.stdout + text_run.stderr
    assert text_run.stderr.splitlines()[0].endswith(
        f" INFO gunicorn.error [-] Starting gunicorn {gunicorn.__version__}"
    )


# --- flask run -----------------------------------------------------------------------------


def test_flask_run_logs_each_request_once_and_keeps_werkzeugs_address_line(tmp_path):
    # Given the development server (`make run`), writing to a file
    env = sqlite_env(tmp_path)
    port = free_port()
    output = tmp_path / "flask-run.log"
    with output.open("w") as sink:
        process = subprocess.Popen(
            [str(BIN / "flask"), "--app", "wsgi", "run", "--port", str(port)],
            cwd=ROOT,
            env=env,
            stdout=sink,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        client = Client(f"http://127.0.0.1:{port}")
        wait_for_healthz(process, client, output)

        # When two requests are served
        client("GET", "/healthz", headers={"X-Request-ID": "dev-1"})
        status, _, _ = client("GET", "/api/nothing-here", headers={"X-Request-ID": "dev-2"})
        assert status == 404
    finally:
        stop(process)

    # Then each has the service's access line only, not Werkzeug's as well
    text = output.read_text()
    lines = text.splitlines()
    assert len([line for line in lines if " [dev-1] " in line]) == 1
    assert len([line for line in lines if " [dev-2] " in line]) == 1
    assert [line for line in lines if "HTTP/1.1" in line] == []
    assert f"\n * Running on http://127.0.0.1:{port}\n" in text
    assert ANSI not in text


def wait_for_healthz(process: subprocess.Popen, client: Client, output: Path) -> None:
    import time

    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        assert process.poll() is None, output.read_text()
        try:
            if client("GET", "/healthz", headers={"X-Request-ID": "startup"})[0] == 200:
                return
        except OSError:
            time.sleep(0.2)
    pytest.fail(f"flask run did not answer within 60 s:\n{output.read_text()}")


# --- commands ----------------------------------------------------------------------------------


def test_an_exception_that_ends_a_command_is_one_json_line_with_its_stack_trace(tmp_path):
    # Given the event worker and a database that refuses connections
    env = {
        **secrets_env(tmp_path),
        "APP_ENV": "development",
        "LOG_FORMAT": "json",
        "DATABASE_URL": f"postgresql://127.0.0.1:{free_port()}/nothing",
    }

    # When it runs once
    finished = run_flask(env, "events", "run", "--once")

    # Then it fails, and says so in one JSON line with the whole stack trace
    assert finished.returncode == 1
    [line] = [json.loads(text) for text in finished.stderr.splitlines()]
    assert (line["level"], line["logger"], line["message"]) == (
        "CRITICAL",
        "app.crash",
        "uncaught exception",
    )
    assert line["exception"].startswith("Traceback (most recent call last):\n")
    assert "sqlalchemy.exc.OperationalError" in line["exception"]


# --- the request id on every line of a request ------------------------------------------------


def _written(formatter: logging.Formatter, app, emit) -> str:
    """What a handler set up as app/logs.py does writes for ``emit(logger)``."""
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(formatter)
    handler.addFilter(RequestIdFilter())
    logger = logging.getLogger("tests.log_format")
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    try:
        emit(logger)
    finally:
        logger.removeHandler(handler)
    return stream.getvalue()


def test_a_line_made_during_a_request_carries_its_request_id(app):
    def emit(logger):
        with app.test_request_context("/"):
            app.preprocess_request()  # assigns the request id
            logger.info("inside")

    written = _written(JsonFormatter(), app, emit)

    line = json.loads(written)
    assert line["message"] == "inside"
    assert re.fullmatch(r"[0-9a-f]{32}", line["request_id"])


def test_a_line_made_outside_a_request_has_a_null_request_id(app):
    written = _written(JsonFormatter(), app, lambda logger: logger.info("outside"))

    assert json.loads(written)["request_id"] is None


def test_colour_codes_in_a_message_are_not_written(app):
    def emit(logger):
        logger.info("\x1b[33mPress CTRL+C to quit\x1b[0m")

    assert json.loads(_written(JsonFormatter(), app, emit))["message"] == "Press CTRL+C to quit"
    assert _written(TextFormatter(), app, emit).endswith(" [-] Press CTRL+C to quit\n")


# --- the setting ----------------------------------------------------------------------------


def test_an_unknown_log_format_stops_start_up(tmp_path):
    with pytest.raises(ConfigError, match="LOG_FORMAT must be one of json, text, got 'xml'"):
        load_config(str(tmp_path), {"LOG_FORMAT": "XML"})


def test_gunicorn_refuses_an_unknown_log_format_in_one_line(tmp_path):
    env = {**secrets_env(tmp_path), "LOG_FORMAT": "xml", "PORT": str(free_port())}

    finished = subprocess.run(
        ["gunicorn", "wsgi:app"], cwd=ROOT, env=env, capture_output=True, text=True, timeout=60
    )

    assert finished.returncode == 1
    assert finished.stderr == (
        "configuration error: LOG_FORMAT must be one of json, text, got 'xml'\n"
    )
