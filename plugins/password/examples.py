"""The seed's reset-password samples (seed/customer-api.txt) as the OpenAPI
document's examples."""

from __future__ import annotations

RESET_REQUEST = {"email": "john.smith@example.com"}
UPDATE_REQUEST = {
    "token": "hT4q0m1Zc8u1Qy2WkKx7n3VbEo9pJd5sLr6aGf0tYiU",
    "password": "n3w-Passw0rd",
}
SUCCESS = {"data": {"success": True}}
