"""gunicorn's settings for this service, every one read from the environment.

``gunicorn wsgi:app`` (the Dockerfile's command) reads this file from the
working directory; docs/operations.md describes each variable.
"""

from __future__ import annotations

import glob
import os
import shutil
import tempfile
from pathlib import Path

from dotenv import dotenv_values


def _int(name: str, default: int) -> int:
    raw = os.environ.get(name, "").strip()
    if not raw:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise SystemExit(
            f"configuration error: {name} must be a whole number, got {raw!r}"
        ) from None
    if value < 0:
        raise SystemExit(f"configuration error: {name} must not be negative, got {raw!r}")
    return value


# Where to listen: every interface of the container, on PORT.
bind = f"{os.environ.get('HOST', '').strip() or '0.0.0.0'}:{_int('PORT', 3000)}"

# Processes: WEB_CONCURRENCY (the usual name on container platforms), else one per core.
workers = _int("WEB_CONCURRENCY", 0) or os.cpu_count() or 1
threads = _int("GUNICORN_THREADS", 1) or 1
# Sync workers (one thread each) that stop listening as soon as they are told
# to stop, so that a graceful stop never resets a connection it had queued
# (app/gunicorn_worker.py). With threads, gunicorn's own gthread worker.
if threads == 1:
    worker_class = "app.gunicorn_worker.DrainingSyncWorker"

# A worker silent for `timeout` seconds is killed and replaced; on SIGTERM a
# worker gets `graceful_timeout` seconds to finish its requests in flight.
timeout = _int("GUNICORN_TIMEOUT", 30)
graceful_timeout = _int("GUNICORN_GRACEFUL_TIMEOUT", 30)
# Seconds an idle keep-alive connection is held (behind a load balancer, keep
# this above the balancer's own idle timeout).
keepalive = _int("GUNICORN_KEEPALIVE", 5)

# Metrics (docs/operations.md, "Metrics"): each worker writes its counts to
# files in PROMETHEUS_MULTIPROC_DIR, which every scrape adds up. Unless it is
# given, a fresh folder, on the memory file system when there is one, removed
# when gunicorn exits. Set before anything imports prometheus-client, which reads it once.
_METRICS_DIR_PREFIX = "customer-service-metrics-"
if not os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = tempfile.mkdtemp(
        prefix=_METRICS_DIR_PREFIX, dir="/dev/shm" if os.path.isdir("/dev/shm") else None
    )

# Logs: one configuration for gunicorn and the service (app/logs.py), in
# LOG_FORMAT (json in production, text otherwise): the service's access line
# on stdout, one per request, with its request id and without the query
# string; everything else on stderr. gunicorn's own access line is not
# written: the service's says the same. `.env` is read here as wsgi.py reads it.
_settings = {**dotenv_values(), **os.environ}
loglevel = _settings.get("LOG_LEVEL", "info").strip().lower() or "info"
try:
    from app.logs import LogFormatError, log_format, logging_config

    logconfig_dict = logging_config(log_format(_settings), loglevel)
except LogFormatError as error:
    raise SystemExit(f"configuration error: {error}") from None
# gunicorn's access line is not even built (app/gunicorn_logger.py).
logger_class = "app.gunicorn_logger.ServiceLogger"

# Worker heartbeats on a memory file system: a container's disk may be slow
# or read-only.
if os.path.isdir("/dev/shm"):
    worker_tmp_dir = "/dev/shm"

# No runtime control socket (gunicorn 25.1+): nothing here uses it, and in a
# container the user's home may not be writable.
control_socket_disable = True


# Events (docs/operations.md, "The event worker"): the master keeps
# EVENTS_WORKERS `flask events run` processes beside the web workers (0: none,
# when workers run elsewhere), and then, unless EVENTS_DELIVERY says otherwise,
# a request only writes the outbox.
events_workers = _int("EVENTS_WORKERS", 1)
if events_workers and not _settings.get("EVENTS_DELIVERY", "").strip():
    os.environ["EVENTS_DELIVERY"] = "worker"

# The service's settings, as read by on_starting.
_config: dict = {}
_event_workers = []


def on_starting(server):
    """Check the service's settings once, in the master, before it listens.

    A worker that cannot build the app (say ``APP_ENV=production`` without
    ``SECRET_KEY``) would otherwise be replaced again and again; this stops
    gunicorn at once with the one line that says what to set. Production with
    several workers and rate limits counted in memory gets one warning line:
    each worker would count alone. The metrics of an earlier run in the same
    PROMETHEUS_MULTIPROC_DIR are removed: counts start again with the server.
    """
    from dotenv import load_dotenv

    load_dotenv()  # as wsgi.py does
    from app.config import ConfigError, load_config
    from app.ratelimit import per_process_warning

    try:
        config = load_config(str(Path(__file__).resolve().parent / "instance"))
    except ConfigError as error:
        raise SystemExit(f"configuration error: {error}") from None
    _config.update(config)
    for stale in glob.glob(os.path.join(os.environ["PROMETHEUS_MULTIPROC_DIR"], "*.db")):
        os.remove(stale)
    warning = per_process_warning(config, server.cfg.workers)
    if warning:
        server.log.warning(warning)


def when_ready(server):
    """Start the event workers, and serve the metrics on METRICS_PORT, from
    the master, once it listens."""
    if events_workers:
        from prometheus_client import multiprocess

        from app.event_workers import EventWorkers

        workers = EventWorkers(events_workers, server.log, on_exit=multiprocess.mark_process_dead)
        workers.start()
        _event_workers.append(workers)
    port = _config.get("METRICS_PORT")
    if not port:
        return
    from app.metrics import serve

    host = _config.get("METRICS_HOST") or bind.rsplit(":", 1)[0]
    try:
        serve(port, host, _config["SQLALCHEMY_DATABASE_URI"])
    except OSError as error:
        raise SystemExit(f"configuration error: METRICS_PORT {port}: {error}") from None
    server.log.info("Serving metrics at: http://%s:%s/metrics", host, port)


def child_exit(server, worker):
    """A worker's gauges go with it; its counts stay in the sums."""
    from prometheus_client import multiprocess

    multiprocess.mark_process_dead(worker.pid)


def on_exit(server):
    """Stop the event workers (each finishes the batch in hand); remove the
    metrics folder made above (not one that was given)."""
    for workers in _event_workers:
        workers.stop(timeout=graceful_timeout)
    folder = os.environ["PROMETHEUS_MULTIPROC_DIR"]
    if os.path.basename(folder.rstrip("/")).startswith(_METRICS_DIR_PREFIX):
        shutil.rmtree(folder, ignore_errors=True)
