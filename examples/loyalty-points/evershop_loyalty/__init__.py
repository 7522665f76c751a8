"""Loyalty points for the EverShop customer service (README.md)."""
