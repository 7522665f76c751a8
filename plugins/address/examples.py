"""The seed's address samples (seed/customer-api.txt) as the OpenAPI
document's examples. The seed shows only some fields of each answer; here
they are complete, as the service answers them."""

from __future__ import annotations

CUSTOMER_UUID = "433ba97f-8be7-4be9-be3f-a9f341f2b89f"
ADDRESS_UUID = "a1b2c3d4-e5f6-7890-abcd-ef1234567890"
_HREF = f"/api/customers/{CUSTOMER_UUID}/addresses/{ADDRESS_UUID}"


def _address(**changes) -> dict:
    address = {
        "customer_address_id": 42,
        "uuid": ADDRESS_UUID,
        "customer_id": 21,
        "full_name": "John Smith",
        "telephone": None,
        "address_1": "123 Main St",
        "address_2": None,
        "city": "New York",
        "province": "NY",
        "country": "US",
        "postcode": "10001",
        "is_default": True,
        "created_at": "2023-02-07 14:20:00",
        "updated_at": "2023-02-07 14:20:00",
        "links": [
            {"rel": "edit", "href": _HREF, "action": "PATCH", "types": ["application/json"]},
            {"rel": "delete", "href": _HREF, "action": "DELETE", "types": ["application/json"]},
        ],
    }
    address.update(changes)
    return address


CREATE_REQUEST = {
    "full_name": "John Smith",
    "address_1": "123 Main St",
    "city": "New York",
    "province": "NY",
    "country": "US",
    "postcode": "10001",
}
CREATED = {"data": _address()}

UPDATE_REQUEST = {"full_name": "John A. Smith", "address_1": "456 Oak Ave"}
_UPDATED = _address(
    full_name="John A. Smith", address_1="456 Oak Ave", updated_at="2023-02-07 14:25:00"
)
UPDATED = {"data": _UPDATED}

DELETED = {"data": _UPDATED}
LISTED = {"data": [_UPDATED]}
