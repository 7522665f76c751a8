"""Password reset by email, and setting a new password with the token
(docs/api.md, "Password reset")."""
