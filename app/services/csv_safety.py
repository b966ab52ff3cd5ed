"""Cells written to CSV exports that spreadsheets open."""


def safe_cell(value):
    """Spreadsheet formula injection guard: a text cell starting with = + - @ is written as text."""
    if isinstance(value, str) and value[:1] in ("=", "+", "-", "@"):
        return "'" + value
    return value
