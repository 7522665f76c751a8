"""Password reset by email, and setting a new password with the token (CONTRACT §5)."""
