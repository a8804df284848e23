"""Errors in the hub's own configuration (environment settings, reference files): reported with the setting named,
at definitions load where they can be seen, and as a delivery's `failed` reason when they appear under a running
hub. Never retried by themselves: a person fixes the setting and re-imports."""

from __future__ import annotations


class ConfigurationError(RuntimeError):
    """A setting or the file it names is wrong; the message names the setting and the file, never student data."""
