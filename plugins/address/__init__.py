"""Customer addresses (CONTRACT §4)."""
