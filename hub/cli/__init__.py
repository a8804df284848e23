"""Top floor: the `hub` command (hub/cli/main.py), beside the UI on the same core code."""
