"""gunicorn's settings for this service, every one read from the environment.

``gunicorn wsgi:app`` (the Dockerfile's command) reads this file from the
working directory; docs/operations.md describes each variable.
"""

from __future__ import annotations

import os
from pathlib import Path


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

# A worker silent for `timeout` seconds is killed and replaced; on SIGTERM a
# worker gets `graceful_timeout` seconds to finish its requests in flight.
timeout = _int("GUNICORN_TIMEOUT", 30)
graceful_timeout = _int("GUNICORN_GRACEFUL_TIMEOUT", 30)
# Seconds an idle keep-alive connection is held (behind a load balancer, keep
# this above the balancer's own idle timeout).
keepalive = _int("GUNICORN_KEEPALIVE", 5)

# Logs: access log on stdout, errors on stderr, both for the container runtime
# to collect. Each access line carries the request id that the service sent in
# its X-Request-ID header, so that a client's report can be found. The path is
# logged without its query string, which may carry personal data.
accesslog = "-"
errorlog = "-"
loglevel = os.environ.get("LOG_LEVEL", "info").strip().lower() or "info"
access_log_format = (
    '%(h)s %(t)s "%(m)s %(U)s %(H)s" %(s)s %(b)s %(D)sus request_id=%({x-request-id}o)s "%(a)s"'
)

# Worker heartbeats on a memory file system: a container's disk may be slow
# or read-only.
if os.path.isdir("/dev/shm"):
    worker_tmp_dir = "/dev/shm"

# No runtime control socket (gunicorn 25.1+): nothing here uses it, and in a
# container the user's home may not be writable.
control_socket_disable = True


def on_starting(server):
    """Check the service's settings once, in the master, before it listens.

    A worker that cannot build the app (say ``APP_ENV=production`` without
    ``SECRET_KEY``) would otherwise be replaced again and again; this stops
    gunicorn at once with the one line that says what to set. Production with
    several workers and rate limits counted in memory gets one warning line:
    each worker would count alone.
    """
    from dotenv import load_dotenv

    load_dotenv()  # as wsgi.py does
    from app.config import ConfigError, load_config
    from app.ratelimit import per_process_warning

    try:
        config = load_config(str(Path(__file__).resolve().parent / "instance"))
    except ConfigError as error:
        raise SystemExit(f"configuration error: {error}") from None
    warning = per_process_warning(config, server.cfg.workers)
    if warning:
        server.log.warning(warning)
