"""A subscriber that appends every customer event to the file named by the
``RECORDER_FILE`` environment variable, one JSON line each (with the id of
the process that delivered it); if
``RECORDER_DELAY`` is set, it writes ``started`` first and then waits that many
seconds before recording. For tests that run the event worker as a process of
its own (``PLUGINS=tests.plugins.file_recorder``)."""

from __future__ import annotations

import json
import os
import time

import pluggy

hookimpl = pluggy.HookimplMarker("evershop")

NAMES = ("customer_registered", "account_created", "customer_updated", "customer_deleted")


def _record(event) -> None:
    path = os.environ["RECORDER_FILE"]
    delay = float(os.environ.get("RECORDER_DELAY") or 0)
    if delay:
        with open(path, "a") as out:
            out.write(json.dumps({"started": event.uuid}) + "\n")
        time.sleep(delay)
    with open(path, "a") as out:
        out.write(
            json.dumps(
                {
                    "name": event.name,
                    "uuid": event.uuid,
                    "email": event.payload.get("email"),
                    "pid": os.getpid(),
                }
            )
            + "\n"
        )


@hookimpl
def subscribe():
    return {name: _record for name in NAMES}
