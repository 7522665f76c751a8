"""A customer's timeline: what happened to the account, who did it and when
(docs/api.md, "Timeline")."""
