"""Customer groups managed through the API (docs/api.md, "Customer groups")."""
