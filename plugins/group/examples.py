"""Examples for the OpenAPI document, written as the service answers."""

from __future__ import annotations

GROUP_UUID = "6f1d2c1e-0b7a-4c55-9d38-2f9b6f0c1a42"
OTHER_UUID = "0b9f4a8e-3c21-4f6d-8a77-5e2d9c1b7f30"

CREATE_REQUEST = {"group_name": "Wholesale"}
CREATED = {
    "data": {
        "customer_group_id": 2,
        "uuid": GROUP_UUID,
        "group_name": "Wholesale",
        "created_at": "2026-12-01 09:30:00",
        "updated_at": "2026-12-01 09:30:00",
        "customer_count": 0,
    }
}
UPDATE_REQUEST = {"group_name": "Trade"}
MOVE_TO = {"move_to": OTHER_UUID}
ASSIGN_REQUEST = {
    "customers": ["433ba97f-8be7-4be9-be3f-a9f341f2b89f", "e1b20098-a66c-11ed-b46b-60d819134f39"]
}
