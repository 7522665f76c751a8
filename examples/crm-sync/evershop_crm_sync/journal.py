"""The JSONL file the CRM reads: one event per line, each once.

A line is one JSON object::

    {"sequence": 42, "event_id": "<uuid>", "event": "customer_updated",
     "created_at": "2026-12-10T09:30:00+00:00", "payload": {...}}

Writing (:meth:`Journal.append`) is idempotent on ``event_id``: events are
delivered at least once, so one may come again — after a crash between the
write and the outbox's record of it, or from another process. Each append
holds an exclusive ``flock`` on the file, reads what other processes
appended since its last look, and skips an event already there. A last line
left half-written by a crash is cut off first (its event was not recorded as
delivered, so it comes again).

Reading (:func:`read_ordered`): lines are in the order events were
*delivered*, which is not always the order of the changes (a failed delivery
is retried later, and several processes deliver at once). ``sequence`` is
the event's number in the service's outbox; the changes of one customer are
serialised by a lock on its row, so sorting by it gives their true order.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import threading
from pathlib import Path


class Journal:
    """One JSONL file, and the event ids it holds (read incrementally)."""

    def __init__(self, path: Path):
        self.path = path
        self._lock = threading.Lock()  # flock does not exclude threads of one process
        self._identity: tuple[int, int] | None = None  # (device, inode) last read
        self._offset = 0  # bytes read so far
        self._seen: set[str] = set()

    def append(self, record: dict) -> bool:
        """Write ``record`` as a line unless its ``event_id`` is already in
        the file; True when written. Raises ``OSError`` when the file cannot
        be written."""
        line = json.dumps(record, separators=(",", ":"), sort_keys=True).encode() + b"\n"
        with self._lock, open(self.path, "a+b") as file:
            fcntl.flock(file, fcntl.LOCK_EX)
            try:
                self._catch_up(file)
                if record["event_id"] in self._seen:
                    return False
                file.write(line)
                file.flush()
                os.fsync(file.fileno())
                self._seen.add(record["event_id"])
                self._offset += len(line)
                return True
            finally:
                fcntl.flock(file, fcntl.LOCK_UN)

    def _catch_up(self, file) -> None:
        """Read the lines appended since the last look (all of them when the
        file was replaced or truncated, e.g. rotated); cut off a partial
        last line."""
        status = os.fstat(file.fileno())
        identity = (status.st_dev, status.st_ino)
        if identity != self._identity or status.st_size < self._offset:
            self._identity, self._offset, self._seen = identity, 0, set()
        file.seek(self._offset)
        for line in file:
            if not line.endswith(b"\n"):
                file.truncate(self._offset)
                break
            # A line that is not one of ours is kept: never a reason to stop writing.
            with contextlib.suppress(ValueError, KeyError):
                self._seen.add(json.loads(line)["event_id"])
            self._offset += len(line)


_journals: dict[Path, Journal] = {}
_journals_lock = threading.Lock()


def journal(path: Path) -> Journal:
    """The process's :class:`Journal` of ``path`` (one per file)."""
    with _journals_lock:
        if path not in _journals:
            _journals[path] = Journal(path)
        return _journals[path]


def read_ordered(path: Path) -> list[dict]:
    """What the CRM side does: every event of the file once, sorted by
    ``sequence`` (each customer's changes in their order), whatever the
    order of the lines."""
    records: dict[str, dict] = {}
    with open(path, "rb") as file:
        for line in file:
            if line.endswith(b"\n"):
                record = json.loads(line)
                records.setdefault(record["event_id"], record)
    return sorted(records.values(), key=lambda record: record["sequence"])
