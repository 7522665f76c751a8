"""Sessions: customers log out, of one session or all of them, and admins log
customers out (docs/api.md, "Sessions")."""
