"""Customers and customer groups (CONTRACT §3)."""
