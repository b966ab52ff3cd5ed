"""Automation: the seven pipeline stages per site, on a schedule or on demand."""
