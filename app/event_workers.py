"""The event workers gunicorn's master keeps running beside the web workers.

With ``EVENTS_WORKERS`` > 0 (the default is 1) ``gunicorn wsgi:app`` starts
that many ``flask events run`` processes once it listens, starts another when
one exits, and stops them when it stops. The web workers then only write the
outbox (``EVENTS_DELIVERY=worker``), so a request never pays for a subscriber,
an SMTP server or a webhook receiver, and a lone gunicorn retries failed
events without a worker deployed beside it (docs/operations.md, "The event
worker").
"""

from __future__ import annotations

import logging
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable

# How often each worker looks for due events: the longest a new event waits.
POLL_INTERVAL = 0.5
# A worker that exits is started again after a pause that doubles up to this,
# and goes back to the shortest once a worker has run for RESET_AFTER seconds.
MAX_RESTART_DELAY = 30.0
RESET_AFTER = 60.0


class EventWorkers:
    """``count`` supervised ``flask events run`` processes."""

    def __init__(
        self,
        count: int,
        log: logging.Logger | None = None,
        on_exit: Callable[[int], None] | None = None,
    ):
        self.count = count
        self.log = log or logging.getLogger(__name__)
        # Called with the pid of each worker that has exited (its metrics go).
        self.on_exit = on_exit or (lambda pid: None)
        self._processes: list[subprocess.Popen | None] = [None] * count
        self._started: list[float] = [0.0] * count
        self._delay: list[float] = [1.0] * count
        self._stopping = threading.Event()
        self._watcher: threading.Thread | None = None

    def start(self) -> None:
        for slot in range(self.count):
            self._spawn(slot)
        self._watcher = threading.Thread(target=self._watch, name="event-workers", daemon=True)
        self._watcher.start()

    def _spawn(self, slot: int) -> None:
        command = [
            sys.executable,
            "-m",
            "flask",
            "events",
            "run",
            "--interval",
            str(POLL_INTERVAL),
            # It stops by itself if this process goes without stopping it.
            "--exit-with",
            str(os.getpid()),
        ]
        # A session of its own: a Ctrl-C meant for gunicorn reaches it through
        # stop() below, after the web workers, not all at once.
        process = subprocess.Popen(
            command,
            env={**os.environ, "EVENTS_DELIVERY": "worker"},
            # Its counts are in the metrics; stdout is for the access lines.
            stdout=subprocess.DEVNULL,
            start_new_session=True,
        )
        self._processes[slot] = process
        self._started[slot] = time.monotonic()
        self.log.info("Started the event worker (pid: %s)", process.pid)

    def _watch(self) -> None:
        while not self._stopping.wait(1.0):
            for slot, process in enumerate(self._processes):
                if process is None or process.poll() is None:
                    continue
                if self._stopping.is_set():
                    return
                self.on_exit(process.pid)
                ran = time.monotonic() - self._started[slot]
                if ran >= RESET_AFTER:
                    self._delay[slot] = 1.0
                self.log.warning(
                    "The event worker (pid: %s) exited with status %s; starting another in %.0f s",
                    process.pid,
                    process.returncode,
                    self._delay[slot],
                )
                if self._stopping.wait(self._delay[slot]):
                    return
                self._delay[slot] = min(self._delay[slot] * 2, MAX_RESTART_DELAY)
                self._spawn(slot)

    def stop(self, timeout: float = 30.0) -> None:
        """SIGTERM each worker (it finishes the batch in hand), then wait for
        them; kill what is still running after ``timeout`` seconds."""
        self._stopping.set()
        running = [p for p in self._processes if p is not None and p.poll() is None]
        for process in running:
            process.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + timeout
        for process in running:
            try:
                process.wait(timeout=max(deadline - time.monotonic(), 0.1))
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
            self.on_exit(process.pid)
