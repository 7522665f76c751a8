"""One logging configuration for every process of the service
(docs/operations.md, "Logs").

``LOG_FORMAT=json`` (the production default) writes every line as one JSON
object: ``time``, ``level``, ``logger``, ``request_id`` (null outside a
request) and ``message``, then the record's own fields (the access line's
method, route, status …), and an exception's stack trace in ``exception``.
``LOG_FORMAT=text`` (the development default) writes the same records as
readable lines. Neither writes colour codes.

The access line (``app.access``) goes to stdout, everything else to stderr.
:func:`logging_config` is the :func:`logging.config.dictConfig` mapping that
gunicorn.conf.py hands to gunicorn, so that its own lines look the same;
:func:`configure` applies it in a process that has no logging yet (``flask
run``, ``flask events run``).
"""

from __future__ import annotations

import logging
import logging.config
import re
import sys
import threading
from datetime import UTC, datetime

from flask import g, has_request_context
from pythonjsonlogger.json import JsonFormatter as _LibraryJsonFormatter

LOG_FORMATS = ("json", "text")

# Marks the handlers of our configuration, so that it is applied once.
_OURS = "_customer_service"
# Colour and cursor codes some libraries (Werkzeug) put in their messages.
_ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")
# The message of Werkzeug's own line per request (serving.WSGIRequestHandler.log_request).
_WERKZEUG_REQUEST_LINE = '"%s" %s %s'


class LogFormatError(ValueError):
    """LOG_FORMAT names no known format."""


def log_format(env: dict) -> str:
    """``LOG_FORMAT`` from ``env``: ``json`` or ``text`` in any letter case;
    unset, ``json`` in production and ``text`` otherwise."""
    production = (env.get("APP_ENV") or "").strip().lower() == "production"
    value = (env.get("LOG_FORMAT") or "").strip().lower() or ("json" if production else "text")
    if value not in LOG_FORMATS:
        raise LogFormatError(f"LOG_FORMAT must be one of {', '.join(LOG_FORMATS)}, got {value!r}")
    return value


def _plain(text: str) -> str:
    return _ANSI.sub("", text) if "\x1b" in text else text


class RequestIdFilter(logging.Filter):
    """Give every record the id of the request it was made in (``request_id``,
    None outside a request), unless the record already names one."""

    def filter(self, record: logging.LogRecord) -> bool:
        if not hasattr(record, "request_id"):
            record.request_id = g.get("request_id") if has_request_context() else None
        return True


class DropWerkzeugRequestLine(logging.Filter):
    """Werkzeug's development server logs each request in a line of its own;
    the service's access line already says it, so Werkzeug's is dropped.
    Its other lines (the address it serves on, its errors) stay."""

    def filter(self, record: logging.LogRecord) -> bool:
        return not (
            record.name == "werkzeug"
            and record.levelno == logging.INFO
            and isinstance(record.msg, str)
            and record.msg.endswith(_WERKZEUG_REQUEST_LINE)
        )


class JsonFormatter(_LibraryJsonFormatter):
    """One JSON object per record, on one line."""

    def __init__(self, *args, **kwargs):
        super().__init__(
            "%(levelname)s %(name)s %(request_id)s %(message)s",
            rename_fields={
                "levelname": "level",
                "name": "logger",
                "exc_info": "exception",
                "stack_info": "stack",
            },
            json_ensure_ascii=False,
        )

    def add_fields(self, log_data: dict, record: logging.LogRecord, message_dict: dict) -> None:
        log_data["time"] = _time(record)
        super().add_fields(log_data, record, message_dict)
        log_data["message"] = _plain(log_data.get("message") or "").rstrip("\n")


class TextFormatter(logging.Formatter):
    """``time LEVEL logger [request id] message``, tracebacks below it."""

    LINE = "%(asctime)s %(levelname)s %(name)s [%(request_id)s] %(message)s"

    def __init__(self, *args, **kwargs):
        super().__init__(self.LINE)

    def formatTime(self, record: logging.LogRecord, datefmt: str | None = None) -> str:
        return _time(record)

    def formatMessage(self, record: logging.LogRecord) -> str:
        values = dict(record.__dict__)
        values["message"] = record.message.rstrip("\n")
        if values.get("request_id") is None:
            values["request_id"] = "-"
        return self.LINE % values

    def format(self, record: logging.LogRecord) -> str:
        return _plain(super().format(record))


def _time(record: logging.LogRecord) -> str:
    """The record's time in UTC, ISO 8601 to the millisecond."""
    moment = datetime.fromtimestamp(record.created, UTC)
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def logging_config(log_format: str, level: str = "INFO") -> dict:
    """The :func:`logging.config.dictConfig` mapping of the service: the
    access line to stdout, every other record to stderr, all in ``log_format``.

    gunicorn's loggers are in it: its error log goes the same way as the
    service's records, and its access log nowhere, as the service writes the
    access line of each request itself.
    """
    level = level.upper()
    if level not in logging.getLevelNamesMapping():
        level = "INFO"
    formatter = {"()": JsonFormatter if log_format == "json" else TextFormatter}
    filters = ["request_id", "werkzeug_request_line"]
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "formatters": {"service": formatter},
        "filters": {
            "request_id": {"()": RequestIdFilter},
            "werkzeug_request_line": {"()": DropWerkzeugRequestLine},
        },
        "handlers": {
            "stdout": {
                "class": "logging.StreamHandler",
                "stream": "ext://sys.stdout",
                "formatter": "service",
                "filters": filters,
                ".": {_OURS: True},
            },
            "stderr": {
                "class": "logging.StreamHandler",
                "stream": "ext://sys.stderr",
                "formatter": "service",
                "filters": filters,
                ".": {_OURS: True},
            },
            "nowhere": {"class": "logging.NullHandler"},
        },
        "root": {"level": level, "handlers": ["stderr"]},
        "loggers": {
            "app.access": {"level": "INFO", "handlers": ["stdout"], "propagate": False},
            "gunicorn.error": {"level": level, "handlers": [], "propagate": True},
            "gunicorn.access": {"level": "INFO", "handlers": ["nowhere"], "propagate": False},
        },
    }


def is_configured() -> bool:
    """Whether this process logs through :func:`logging_config`'s handlers."""
    return any(getattr(handler, _OURS, False) for handler in logging.getLogger().handlers)


def configure(log_format: str, level: str) -> None:
    """Log as :func:`logging_config` says, unless the process already has a
    logging configuration (gunicorn's, from gunicorn.conf.py, or a test
    runner's): then only the root level is set. With our configuration,
    warnings and uncaught exceptions become log records too."""
    root = logging.getLogger()
    if not root.handlers:
        logging.config.dictConfig(logging_config(log_format, level))
    else:
        root.setLevel(getattr(logging, level.upper(), logging.INFO))
    if is_configured():  # ours, not a test runner's
        capture_uncaught()


def capture_uncaught() -> None:
    """Python's warnings, and exceptions that end a thread or the program,
    as log records (one JSON line with the stack trace) rather than bare text."""
    logging.captureWarnings(True)
    crash_log = logging.getLogger("app.crash")

    def log_uncaught(kind, value, traceback):
        if issubclass(kind, KeyboardInterrupt):
            sys.__excepthook__(kind, value, traceback)
            return
        crash_log.critical("uncaught exception", exc_info=(kind, value, traceback))

    def log_thread_uncaught(args):
        if args.exc_type is SystemExit:
            return
        crash_log.critical(
            "uncaught exception in thread %s",
            args.thread.name if args.thread else "?",
            exc_info=(args.exc_type, args.exc_value, args.exc_traceback),
        )

    sys.excepthook = log_uncaught
    threading.excepthook = log_thread_uncaught
