"""Floor 7, staged rows into target tables: upserts with a field audit, day order, holds, import log."""
