"""Demo registry and synthetic deliveries for `make dev` and the benchmarks (no real student data)."""
