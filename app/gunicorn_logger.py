"""gunicorn's logger, without building an access line nobody reads.

The service writes its own access line for every request (app/logs.py), and
the logging configuration sends gunicorn's to no handler. gunicorn would still
build its line's fields for each request before handing it to that logger:
measured, about 2 % of a worker's time on a GET (docs/performance.md,
"Statements built once"). An access log asked for explicitly
(``--access-logfile``) is still written.
"""

from __future__ import annotations

from gunicorn.glogging import Logger


class ServiceLogger(Logger):
    def access(self, resp, req, environ, request_time):
        if self.cfg.accesslog:
            super().access(resp, req, environ, request_time)
