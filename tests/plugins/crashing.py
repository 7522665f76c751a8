"""A plugin with a bug, for tests that watch how the service reports a fault
(``PLUGINS=tests.plugins.crashing``): creating a customer named ``Crash``
fails in ``customer_before_create`` with ``RuntimeError("the plugin broke")``."""

from __future__ import annotations

import pluggy

hookimpl = pluggy.HookimplMarker("evershop")

CRASHING_NAME = "Crash"


@hookimpl
def customer_before_create(data, context):
    if data.get("full_name") == CRASHING_NAME:
        raise RuntimeError("the plugin broke")
