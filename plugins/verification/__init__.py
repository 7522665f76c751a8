"""Verified emails: a link on sign-up and on an email change, login refused to
unverified accounts when asked (docs/api.md, "Email verification")."""
