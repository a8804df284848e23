"""Floor 1, what the hub is told: registry YAML, feed declarations, windows, blackouts and rules."""
