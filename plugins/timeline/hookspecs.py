"""The timeline plugin's hook: what a plugin adds to the entries of its events."""

from __future__ import annotations

import pluggy

hookspec = pluggy.HookspecMarker("evershop")


@hookspec
def customer_event_details(name: str, payload: dict) -> dict | None:
    """Return details for the timeline entry an event makes.

    Every event whose payload names a customer (``customer_id``,
    ``customer_ids``, ``customer_uuid``, or a ``customer`` object) becomes an
    entry of that customer's timeline, in the transaction that emits it. The
    entry keeps the event's name and who acted, and by default no detail (the
    payload may hold personal data). A plugin adds what is worth keeping about
    its own events here. Implement it with ``@hookimpl(optionalhook=True)`` so
    that your plugin also loads where the timeline plugin is blocked.

    :param name: the event's name.
    :param payload: its payload (do not change it).
    :return: a dict of JSON values that are not personal data (ids, names of
        fields or states: ``{"group_id": 3}``), merged into the entry's
        details; or None.
    """
