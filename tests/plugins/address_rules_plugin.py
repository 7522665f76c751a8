"""A sample plugin adding an address rule: a US address needs a postcode.

Load it with the ``PLUGINS`` setting (``PLUGINS=tests.plugins.address_rules_plugin``).
``address_rules`` returns callables that receive the address as it will be
stored (on update, the current address merged with the change, ``country``
upper case) and answer None to accept it, a message to refuse the whole
address, or ``{field: message}`` to refuse naming fields.
"""

from __future__ import annotations

import pluggy

hookimpl = pluggy.HookimplMarker("evershop")

POSTCODE_MESSAGE = "A postcode is required for US addresses."


def postcode_required_for_us(address: dict) -> dict | None:
    """A US address without a postcode is refused, naming ``postcode``."""
    if address.get("country") == "US" and not address.get("postcode"):
        return {"postcode": POSTCODE_MESSAGE}
    return None


@hookimpl
def address_rules():
    return [postcode_required_for_us]
