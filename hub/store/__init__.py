"""Floor 2, where the hub writes: warehouse tables (ops ledger, core profile, staging per file type)."""
