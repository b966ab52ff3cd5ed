"""Row parsing: one row of cells becomes a KeywordRecord or a rejection with its reason."""

from __future__ import annotations

import re
from dataclasses import dataclass
from decimal import Decimal
from typing import TYPE_CHECKING, Any, Callable, Mapping

from app.services.planner.cells import (
    MAX_VOLUME, _clean, _cpc, _currency_code, _difficulty, _is_blank, _key, _short, _volume, parse_intent,
)
from app.services.planner.parsing.headers import _header_name

if TYPE_CHECKING:
    from app.services.planner.parsing.shape import FileShape

MAX_KEYWORD_CHARS = 200          # keywords.keyword / keywords.normalized are VARCHAR(200)


@dataclass(slots=True)
class KeywordRecord:
    """One keyword ready to insert (fields match the ``keywords`` table) and its line in the file."""

    keyword: str                    # display text (clean_display)
    normalized: str                 # dedup key (normalize_keyword)
    volume: int | None = None
    volume_text: str | None = None  # the cell as given when the volume is an estimate ("1K – 10K", "1.5K")
    difficulty: int | None = None   # 0–100
    cpc: Decimal | None = None
    cpc_currency: str | None = None  # ISO code, e.g. "USD"
    intent: str | None = None       # one of INTENTS
    line: int = 0                   # 1-based line number in the file (0 when not from a file)

    @property
    def key(self) -> str:
        return self.normalized

_HAS_WORD = re.compile(r"[^\W_]").search


def _memo(func: Callable[[str], Any], limit: int = 65_536) -> Callable[[str], Any]:
    """``func`` with its results (and ValueError reasons) remembered for up to ``limit`` inputs."""
    cache: dict[str, tuple[bool, Any]] = {}

    def call(text: str) -> Any:
        try:
            ok, value = cache[text]
        except KeyError:
            try:
                ok, value = True, func(text)
            except ValueError as error:
                ok, value = False, str(error)
            if len(cache) < limit:
                cache[text] = (ok, value)
        if ok:
            return value
        raise ValueError(value)

    return call


class _Reject(Exception):
    def __init__(self, reason: str):
        self.reason = reason


RowParser = Callable[[list[str], int], "KeywordRecord | None"]


def _row_parser(shape: FileShape, mapping: Mapping[str, int | None]) -> RowParser:
    """A function (cells, line) -> KeywordRecord, None for a blank row, or raises _Reject."""
    kw_i = mapping["keyword"]
    vol_i, diff_i, cpc_i, int_i = (mapping.get(f) for f in ("volume", "difficulty", "cpc", "intent"))
    cur_i = shape.currency_column
    header_currency = None
    if cpc_i is not None and shape.has_header and cpc_i < len(shape.columns):
        header_currency = _header_name(shape.columns[cpc_i])[1]
    max_chars = MAX_KEYWORD_CHARS
    is_blank, clean, key_of, has_word = _is_blank, _clean, _key, _HAS_WORD
    # Exports repeat the same cells ("1K – 10K", "USD", "0.45") over and over: parse each once.
    volume, difficulty, cpc, intent = _memo(_volume), _memo(_difficulty), _memo(_cpc), parse_intent
    currency_code = _memo(_currency_code)

    def parse_row(row: list[str], line: int) -> KeywordRecord | None:
        n = len(row)
        raw = row[kw_i] if kw_i < n else ""
        if "\n" in raw or "\r" in raw:
            raise _Reject("keyword runs over several lines; check for a quote (\") that is never closed")
        display = clean(raw)
        if not display:
            if not any(c.strip() for c in row):
                return None
            raise _Reject("keyword is empty")
        key = key_of(display)
        if len(display) > max_chars or len(key) > max_chars:
            raise _Reject(f"keyword longer than {max_chars} characters")
        if not has_word(key) or is_blank(key):
            raise _Reject("keyword is empty" if not key or is_blank(key) else "keyword has no letters or digits")
        record = KeywordRecord(display, key, line=line)
        try:
            if vol_i is not None and vol_i < n:
                cell = row[vol_i]
                if cell.isdecimal():
                    v = int(cell)
                    if v > MAX_VOLUME:
                        raise ValueError(f"volume {_short(cell)} is too large")
                    record.volume = v
                else:
                    record.volume, record.volume_text = volume(cell)
            if diff_i is not None and diff_i < n:
                record.difficulty = difficulty(row[diff_i])
            if cpc_i is not None and cpc_i < n:
                amount, currency = cpc(row[cpc_i])
                if amount is not None:
                    record.cpc = amount
                    if currency is None:
                        currency = header_currency
                        if currency is None and cur_i is not None and cur_i < n:
                            currency = currency_code(row[cur_i])
                    record.cpc_currency = currency
            if int_i is not None and int_i < n:
                record.intent = intent(row[int_i])
        except ValueError as error:
            raise _Reject(str(error)) from None
        return record

    return parse_row
