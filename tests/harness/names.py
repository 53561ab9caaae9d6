"""Names and SQL text for the end-to-end tests: every test makes its own
topics and tables, so that runs and tests never see each other's data."""

import uuid


def unique(prefix: str) -> str:
    """A fresh name: prefix plus 8 random hex digits."""
    return f"{prefix}_{uuid.uuid4().hex[:8]}"


def sql_quote(text: str) -> str:
    """text as the inside of a single-quoted SQL string literal."""
    return text.replace("\\", "\\\\").replace("'", "\\'")
