"""Customer addresses (docs/api.md, "Addresses")."""
