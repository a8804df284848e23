"""Beside the path (floor 9): freshness checks and notifications, from the ledger."""
