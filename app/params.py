"""Numbers from requests, parsed in one place with bounds, so nothing out of range reaches the database.

Ids in paths use the bounded `int` converter installed here (out of range → 404). Ids in form fields that
name nothing → NotFound (404, like a foreign id). Filters and counts either fall back to their default or
raise ValidationError (422) with a message saying what is allowed.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from flask import Flask
from werkzeug.routing import IntegerConverter

from app.errors import NotFound, ValidationError

# Primary keys are PostgreSQL `integer` columns.
MAX_ID = 2**31 - 1
# Counts and metrics (volumes, credits, pages) are bounded well inside `integer` too.
MAX_NUMBER = 2**31 - 1
_MAX_DIGITS = 12
ID_NOT_FOUND = "One of those items does not exist or you do not have access to it."


class BoundedIntConverter(IntegerConverter):
    """`<int:...>` that matches only ids a row can have; a larger number is simply not a page (404)."""

    def __init__(self, map, fixed_digits: int = 0, min: int | None = None, max: int | None = None,
                 signed: bool = False) -> None:
        upper = MAX_ID if max is None or max > MAX_ID else max
        super().__init__(map, fixed_digits=fixed_digits, min=0 if min is None else min, max=upper,
                         signed=signed)


def install(app: Flask) -> None:
    """Replace the `int` URL converter app-wide (before any blueprint registers its rules)."""
    app.url_map.converters["int"] = BoundedIntConverter


_NUMBER = re.compile(r"([+-]?)0*(\d{1,%d})(?:\.\d*)?" % _MAX_DIGITS)


def whole(raw) -> int | None:
    """A plain number written in digits (a sign, thousands commas and a dropped fraction allowed), else None.

    "inf", "nan", "1e400" and numbers with more than a dozen digits are not numbers here.
    """
    if raw is None:
        return None
    text = str(raw).strip().replace(",", "").replace("_", "")
    match = _NUMBER.fullmatch(text) if text.isascii() else None
    if match is None:
        return None
    value = int(match.group(2))
    return -value if match.group(1) == "-" else value


def parse_id(raw) -> int | None:
    """An id from a form or query value, or None when it cannot name a row."""
    value = whole(raw)
    if value is None or not 1 <= value <= MAX_ID:
        return None
    return value


def id_or_404(raw, message: str = ID_NOT_FOUND) -> int:
    """An id the person gave; one that cannot exist is the same as one they cannot see."""
    value = parse_id(raw)
    if value is None:
        raise NotFound(message)
    return value


def id_list(values: Iterable, message: str = ID_NOT_FOUND) -> list[int]:
    """Ids of a multi-value field (blanks ignored); any malformed or impossible id → NotFound."""
    ids = []
    for raw in values:
        if raw is None or not str(raw).strip():
            continue
        ids.append(id_or_404(raw, message))
    return list(dict.fromkeys(ids))


def int_arg(args, name: str, default: int | None = None, *, low: int = 0, high: int = MAX_NUMBER) -> int | None:
    """A filter or page number: missing, malformed or out-of-range gives the default (never an error)."""
    value = whole(args.get(name))
    if value is None or not low <= value <= high:
        return default
    return value


def clamped_arg(args, name: str, default: int | None = None, *, low: int = 0,
                high: int = MAX_NUMBER) -> int | None:
    """A filter bound: malformed gives the default, a number beyond the range is pulled into it."""
    raw = args.get(name)
    value = whole(raw)
    if value is None:
        return default
    return max(low, min(high, value))


def page_arg(args, name: str = "page") -> int:
    """A page number: 1 unless a sensible whole number is given."""
    return int_arg(args, name, 1, low=1) or 1


def required_int(raw, *, label: str, low: int, high: int, field: str | None = None) -> int:
    """A number the person typed; anything else is a 422 saying what is allowed."""
    value = whole(raw)
    if value is None or not low <= value <= high:
        raise ValidationError(f"{label} must be a whole number from {low:,} to {high:,}.", field=field)
    return value


def choice_id(raw) -> int:
    """`coerce` for select fields of ids (0 meaning "none"): anything else is not one of the choices."""
    value = whole(raw)
    if value is None or not 0 <= value <= MAX_ID:
        raise ValueError("Choose one of the listed options.")
    return value
