"""Floor 6, may a staged file change anything: the district gate and the identifier gate."""
