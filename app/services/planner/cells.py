"""Single cells of a keyword import: keyword text, volume, difficulty, CPC and intent.

Each ``parse_*`` helper returns None for bad text unless called with ``strict=True``, which raises
ValueError with the reason the importer reports for the row.
"""

from __future__ import annotations

import math
import re
import unicodedata
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation

MAX_VOLUME = 2_147_483_647       # keywords.volume is INTEGER
MAX_VOLUME_TEXT = 40             # keywords.volume_text is VARCHAR(40)
MAX_CPC = Decimal("99999999.99")  # keywords.cpc is NUMERIC(10, 2)
INTENTS = ("informational", "commercial", "transactional", "navigational")

# --------------------------------------------------------------------------------------------
# Keyword text
# --------------------------------------------------------------------------------------------

# Zero-width characters, bidi marks, soft hyphen and BOM: removed. Other control characters: a space.
_INVISIBLE = dict.fromkeys(map(ord, "\u00ad\u180e\u200b\u200c\u200d\u200e\u200f\u202a\u202b\u202c\u202d\u202e"
                                    "\u2060\u2061\u2062\u2063\u2064\ufeff"), None)
_INVISIBLE.update({c: " " for c in [*range(0x00, 0x20), *range(0x7f, 0xa0)]})
_DOUBLE_QUOTES = "\"“”„«»‹›〝〞＂"
_EDGE_PUNCT = ",;:|"
_EDGE_CHARS = frozenset(_DOUBLE_QUOTES + _EDGE_PUNCT + "'‘’`")


def _strip_double_quotes(text: str) -> str:
    """Surrounding double quotes go; a quote that belongs to the text stays.

    `"best coffee"` and a stray `"best coffee` lose their quotes; `"king" size bed`, `"a" "b"` and
    `12" pizza pan` keep theirs (the quote pairs with another one inside, or is an inch mark).
    """
    quotes = sum(text.count(q) for q in _DOUBLE_QUOTES)
    first, last = text[:1] in _DOUBLE_QUOTES, text[-1:] in _DOUBLE_QUOTES
    if first and last and len(text) >= 2 and quotes == 2:
        return text[1:-1].strip()
    if quotes == 1 and first:
        return text[1:].strip()
    if quotes == 1 and last and len(text) >= 2 and not text[-2].isdigit():
        return text[:-1].strip()
    return text


def _strip_edges(text: str) -> str:
    """Strip surrounding double quotes, a paired single quote and stray , ; : |"""
    while text:
        before = text
        text = _strip_double_quotes(text.strip(_EDGE_PUNCT + " "))
        if len(text) >= 2 and text[0] in "'‘’`" and text[-1] in "'‘’`":
            text = text[1:-1].strip()
        if text == before:
            break
    return text


def _clean(text: str) -> str:
    if not (text.isascii() and text.isprintable()):
        text = unicodedata.normalize("NFKC", text).translate(_INVISIBLE)
    text = " ".join(text.split())
    if text and (text[0] in _EDGE_CHARS or text[-1] in _EDGE_CHARS):
        text = _strip_edges(text)
    return text


def clean_display(text: str) -> str:
    """Keyword as shown: NFKC, invisible characters removed, whitespace collapsed, surrounding
    quotes and stray separators stripped; the original case is kept."""
    return _clean(text or "")


def _key(display: str) -> str:
    if display.isascii():
        key = display.lower()
    else:
        key = unicodedata.normalize("NFKC", display.casefold())
    if key and key[-1] in "?!":
        key = key.rstrip("?! ")
    return key


def normalize_keyword(text: str) -> str:
    """Deduplication key: :func:`clean_display`, then case-folded (NFKC again after folding) and
    without a trailing ``?``/``!``. "Café", "cafe\u0301", "CAFÉ" and "ｃａｆé" share one key;
    accents are kept ("cafe" is a different keyword)."""
    return _key(_clean(text or ""))


# --------------------------------------------------------------------------------------------
# Numbers
# --------------------------------------------------------------------------------------------

_BLANK_VALUES = frozenset({"", "-", "--", "---", "–", "—", "n/a", "na", "n.a.", "#n/a", "none", "null", "nan",
                           "?", "not available", "no data", "unknown", "(not set)"})
_SPACES_RE = re.compile(r"[\s'’\u00a0\u202f\u2009]")
_NUMBER_RE = re.compile(r"^(?:\d[\d.,]*|[.,]\d+)$")
_SUFFIXES = {"k": 1_000, "m": 1_000_000, "mn": 1_000_000, "mln": 1_000_000, "b": 1_000_000_000,
             "bn": 1_000_000_000}
_SUFFIX_RE = re.compile(r"^(.*?\d)\s*(k|m|mn|mln|b|bn)$", re.IGNORECASE)
_RANGE_RE = re.compile(r"^(.*?\d\s*[kmb]?)\s*(?:-|–|—|−|~|\bto\b)\s*(\d.*)$", re.IGNORECASE)
_BOUND_RE = re.compile(r"^(?:(<|≤|<=|under|below|less than)\s*(.+)|(>|≥|>=|over|above|more than)\s*(.+)|(.+?)\s*\+)$",
                       re.IGNORECASE)


def _is_blank(text: str) -> bool:
    return text.casefold() in _BLANK_VALUES


def _to_decimal(text: str, *, integer_field: bool) -> tuple[Decimal, bool]:
    """Parse one number with optional sign, %, K/M/B suffix and thousands separators.

    Returns ``(value, abbreviated)``; raises ValueError when it is not a number. With one
    separator followed by exactly three digits ("1,200" / "1.200") the separator is taken as
    thousands for integer fields (volume) and as the decimal point otherwise (CPC)."""
    s = _SPACES_RE.sub("", text)
    if s.endswith("%"):
        s = s[:-1]
    negative = False
    if s and s[0] in "+-−":
        negative = s[0] != "+"
        s = s[1:]
    multiplier = 1
    match = _SUFFIX_RE.match(s)
    if match:
        s, multiplier = match.group(1), _SUFFIXES[match.group(2).lower()]
    if not _NUMBER_RE.match(s):
        raise ValueError(text)
    dots, commas = s.count("."), s.count(",")
    if dots and commas:
        decimal_sep = "." if s.rfind(".") > s.rfind(",") else ","
        thousands = "," if decimal_sep == "." else "."
        if s.count(decimal_sep) > 1:
            raise ValueError(text)
        s = s.replace(thousands, "").replace(decimal_sep, ".")
    elif dots or commas:
        sep = "." if dots else ","
        if dots + commas > 1:
            groups = s.split(sep)
            if not groups[0] or any(len(g) != 3 for g in groups[1:]):
                raise ValueError(text)
            s = s.replace(sep, "")
        else:
            whole, frac = s.split(sep)
            if integer_field and multiplier == 1 and len(frac) == 3 and whole not in ("", "0"):
                s = whole + frac
            else:
                s = (whole or "0") + "." + frac
    if not s or s == ".":
        raise ValueError(text)
    try:
        value = Decimal(s) * multiplier
    except InvalidOperation:
        raise ValueError(text) from None
    return (-value if negative else value), multiplier != 1


def _round(value: Decimal) -> int:
    return int(value.to_integral_value(rounding=ROUND_HALF_UP))


def _volume(text: str) -> tuple[int | None, str | None]:
    """Parse a volume cell; raises ValueError with a user-facing reason."""
    s = " ".join(text.split())
    if not s or _is_blank(s):
        return None, None
    try:
        value, approx = _to_decimal(s, integer_field=True)
    except ValueError:
        value = None
    if value is not None:
        if value < 0:
            raise ValueError(f"volume {s} is negative")
        exact = not approx and value == value.to_integral_value()
        number = _round(value)
    else:
        number = _range_or_bound(s)
        if number is None:
            raise ValueError(f"volume '{_short(s)}' is not a number")
        exact = False
    if number > MAX_VOLUME:
        raise ValueError(f"volume {_short(s)} is too large")
    return number, (None if exact else s[:MAX_VOLUME_TEXT])


def _range_or_bound(s: str) -> int | None:
    match = _RANGE_RE.match(s)
    if match:
        try:
            low, _ = _to_decimal(match.group(1), integer_field=True)
            high, _ = _to_decimal(match.group(2), integer_field=True)
        except ValueError:
            return None
        if low < 0 or high < 0:
            return None
        low, high = min(low, high), max(low, high)
        if low == 0:
            return _round(high / 2)
        return _round(Decimal(math.sqrt(low * high)))
    match = _BOUND_RE.match(s)
    if match:
        less, more = match.group(2), match.group(4) or match.group(5)
        try:
            value, _ = _to_decimal(less or more, integer_field=True)
        except ValueError:
            return None
        if value < 0:
            return None
        return _round(value / 2) if less else _round(value)
    return None


def parse_volume(text: str | None, *, strict: bool = False) -> tuple[int | None, str | None]:
    """Search volume cell -> ``(number, text as given or None)``.

    * exact numbers -> ``(1200, None)``: "1200", "1,200", "1.200", "1 200", "1200.0", "12%";
    * estimates keep their text: "1.5K" -> ``(1500, "1.5K")``, "2M" -> ``(2000000, "2M")``;
    * ranges -> the geometric mean of the ends, rounded ("1K – 10K" -> ``(3162, "1K – 10K")``),
      because tools bucket volumes on a log scale (10–100, 100–1K, 1K–10K …) and the midpoint
      would overstate every bucket; a range starting at 0 uses its midpoint ("0-10" -> 5);
    * bounds: "<10" -> 5 (half), "10K+" / ">10K" -> 10000;
    * blanks ("", "-", "n/a" …) -> ``(None, None)``.

    Text that is not a volume (also negative numbers, or beyond the database's integer range)
    -> ``(None, text)``; with ``strict=True`` it raises ValueError with the reason for the user
    ("volume 'abc' is not a number") instead, which is what :func:`parse` reports.
    """
    try:
        return _volume(text or "")
    except ValueError:
        if strict:
            raise
        return None, " ".join((text or "").split())[:MAX_VOLUME_TEXT] or None


def _difficulty(text: str) -> int | None:
    s = text.strip()
    if s.isdecimal():
        value = int(s)
    else:
        if _is_blank(s):
            return None
        try:
            number, _ = _to_decimal(s, integer_field=False)
        except ValueError:
            raise ValueError(f"difficulty '{_short(s)}' is not a number") from None
        value = _round(number)
    if not 0 <= value <= 100:
        raise ValueError(f"difficulty {_short(s)} is outside 0–100")
    return value


def parse_difficulty(text: str | None, *, strict: bool = False) -> int | None:
    """Keyword difficulty 0–100: "45", "45%", "45.6" (-> 46); blanks -> None. Not a number or
    outside 0–100 -> None, or with ``strict=True`` ValueError with the reason."""
    try:
        return _difficulty(text or "")
    except ValueError:
        if strict:
            raise
        return None


_CURRENCY_SYMBOLS = {"$": "USD", "us$": "USD", "€": "EUR", "£": "GBP", "¥": "JPY", "₹": "INR", "a$": "AUD",
                     "au$": "AUD", "c$": "CAD", "ca$": "CAD", "r$": "BRL", "₽": "RUB", "₩": "KRW", "₺": "TRY",
                     "₴": "UAH", "₪": "ILS", "zł": "PLN", "kč": "CZK", "nz$": "NZD", "s$": "SGD", "hk$": "HKD",
                     "₫": "VND", "₱": "PHP", "฿": "THB", "₦": "NGN"}
_CURRENCY_CODES = frozenset(
    "USD EUR GBP JPY INR AUD CAD BRL CHF SEK NOK DKK PLN CZK HUF RON RUB KRW CNY MXN ZAR NZD SGD HKD TRY UAH "
    "ILS AED SAR THB PHP IDR MYR VND NGN ARS CLP COP PEN EGP PKR BGN".split())
_CPC_SIMPLE_RE = re.compile(r"^\d{1,8}(?:\.\d+)?$")
_CPC_CURRENCY_RE = re.compile(r"(?:[A-Za-z]{1,2}\$|[$€£¥₹₽₩₺₴₪₫₱฿₦]|zł|kč|\b[A-Za-z]{3}\b)", re.IGNORECASE)


def _currency_code(token: str) -> str | None:
    token = token.strip()
    if token.upper() in _CURRENCY_CODES:
        return token.upper()
    return _CURRENCY_SYMBOLS.get(token.lower())


def _cpc(text: str) -> tuple[Decimal | None, str | None]:
    s = text.strip()
    if _CPC_SIMPLE_RE.match(s):
        return Decimal(s), None
    if _is_blank(s):
        return None, None
    currency = None
    match = _CPC_CURRENCY_RE.search(s)
    if match:
        currency = _currency_code(match.group(0))
        if currency is None:
            raise ValueError(f"CPC '{_short(s)}' is not a number")
        rest = (s[:match.start()] + s[match.end():]).strip()
    else:
        rest = s
    if rest and _is_blank(rest):
        return None, None
    try:
        value, _ = _to_decimal(rest, integer_field=False)
    except ValueError:
        raise ValueError(f"CPC '{_short(s)}' is not a number") from None
    if value < 0:
        raise ValueError(f"CPC {_short(s)} is negative")
    if value > MAX_CPC:
        raise ValueError(f"CPC {_short(s)} is too large")
    return value, currency


def parse_cpc(text: str | None, *, strict: bool = False) -> tuple[Decimal | None, str | None]:
    """CPC cell -> ``(amount, currency code or None)``: "0.5", "$1.20" (USD), "1,25 €" (EUR),
    "USD 0.50", "€0,45"; blanks -> ``(None, None)``. A currency in the cell wins over the one in
    the column header ("CPC (USD)") or a Currency column, which :func:`parse` applies. Not an
    amount, negative or too large -> ``(None, None)``, or with ``strict=True`` ValueError."""
    try:
        return _cpc(text or "")
    except ValueError:
        if strict:
            raise
        return None, None


_INTENT_WORDS = {
    "informational": "informational", "information": "informational", "info": "informational", "i": "informational",
    "commercial": "commercial", "commercial investigation": "commercial", "investigation": "commercial",
    "comm": "commercial", "c": "commercial",
    "transactional": "transactional", "transaction": "transactional", "trans": "transactional",
    "t": "transactional",
    "navigational": "navigational", "navigation": "navigational", "nav": "navigational", "n": "navigational",
    # Semrush API intent codes.
    "0": "commercial", "1": "informational", "2": "navigational", "3": "transactional",
}
_INTENT_SPLIT_RE = re.compile(r"[,;/|+&]+|\s+")
_intent_cache: dict[str, str | None] = {}


def parse_intent(text: str | None) -> str | None:
    """Search intent -> one of :data:`INTENTS` or None. Lists take the first known intent
    ("Commercial, Transactional" -> commercial, "I, C" -> informational); unknown values -> None."""
    text = text or ""
    try:
        return _intent_cache[text]
    except KeyError:
        pass
    s = " ".join(text.casefold().split())
    result = _INTENT_WORDS.get(s)
    if result is None:
        for token in _INTENT_SPLIT_RE.split(s):
            result = _INTENT_WORDS.get(token.strip(" .()[]\"'"))
            if result:
                break
    if len(_intent_cache) < 10_000:
        _intent_cache[text] = result
    return result


def _short(text: str, limit: int = 40) -> str:
    return text if len(text) <= limit else text[:limit - 1] + "…"
