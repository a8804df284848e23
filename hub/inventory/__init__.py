"""Beside the path (floor 8): which integration moves which data, as a table, CSV or HTML."""
