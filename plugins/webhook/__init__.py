"""Webhooks: customer events POSTed to other systems' endpoints (docs/webhooks.md)."""
