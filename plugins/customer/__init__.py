"""Customers and customer groups (docs/api.md, "Customers")."""
