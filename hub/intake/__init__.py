"""Floor 4, a file arrives: listing, stable files, archive, the delivery ledger, run requests."""
