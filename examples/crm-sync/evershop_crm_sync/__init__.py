"""Customer and address events, for a CRM, in a JSONL file (README.md)."""
