"""An email policy for the EverShop customer service (README.md)."""
