"""A customer's data: exported as one document, and erased on request
(docs/api.md, "Data export" and "Erasure")."""
