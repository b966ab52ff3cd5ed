"""Keyword import parser: turns an uploaded file or pasted text into keyword records.

Pure Python (standard library only): no database, no Flask. The flow is

1. ``data = read_limited(upload.stream)`` — reads at most :data:`MAX_IMPORT_BYTES` (+1) bytes and
   refuses bigger files before anything is decoded (``inspect``/``parse`` check the size too).
2. ``shape = inspect(data, filename=...)`` — works out the encoding, delimiter, preamble lines,
   header and a guessed column mapping, and parses the first rows for a preview
   (``shape.sample_rows`` / ``shape.preview(mapping)``). ``shape.to_dict()`` is JSON for storage.
3. The user checks or edits the mapping (field -> column index).
4. ``result = parse(data, shape, edited_mapping)`` — every row becomes a :class:`KeywordRecord`
   or a rejection ``(line, reason)``; duplicates within the file are counted and dropped
   (``limit=10`` parses only the first rows, for a live preview of an edited mapping).
   Pasted text: ``parse_text(text)`` (or pass the ``str`` to ``inspect``/``parse``).

``parse`` is all-or-nothing: when the file itself is bad (binary, empty, too big, no keyword
column, broken quoting, undecodable text) it raises :class:`ImportFileError` and returns nothing,
so the caller inserts ``result.records`` in one transaction or not at all. Bad *rows* do not make
the file bad: they are listed in ``result.rejected`` with their 1-based line number.

Cell rules (which bad cells reject the row and which become blank):

* blank, ``-``, ``n/a``, ``null`` … in any metric column -> ``None`` (not rejected);
* keyword empty or longer than 200 characters -> rejected;
* volume, difficulty or CPC that is not a number, negative, or out of range -> rejected
  (a wrong number would silently mislead clustering and prioritising);
* intent that is not one of the four known intents -> ``None`` (intent is a soft hint);
* a line equal to the header (concatenated exports) -> rejected; blank lines -> skipped.

The single-cell helpers (``parse_volume``, ``parse_difficulty``, ``parse_cpc``) return None for
bad text unless called with ``strict=True``, which raises ValueError with the row's reason.
"""

from __future__ import annotations

import codecs
import csv
import io
import re
import unicodedata
from collections import Counter
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, BinaryIO, Callable, Mapping

from app.services.planner.cells import (  # noqa: F401  (the cell helpers are part of this module's interface)
    _CURRENCY_CODES,
    _CURRENCY_SYMBOLS,
    INTENTS,
    MAX_CPC,
    MAX_VOLUME,
    MAX_VOLUME_TEXT,
    _clean,
    _cpc,
    _currency_code,
    _difficulty,
    _is_blank,
    _key,
    _short,
    _to_decimal,
    _volume,
    clean_display,
    normalize_keyword,
    parse_cpc,
    parse_difficulty,
    parse_intent,
    parse_volume,
)

__all__ = [
    "MAX_IMPORT_BYTES", "MAX_KEYWORD_CHARS", "FIELDS", "FIELD_LABELS", "INTENTS",
    "ImportFileError", "FileShape", "KeywordRecord", "ParseResult",
    "read_limited", "inspect", "parse", "parse_text",
    "normalize_keyword", "clean_display", "parse_volume", "parse_difficulty", "parse_cpc", "parse_intent",
]

MAX_IMPORT_BYTES = 20 * 1024 * 1024
MAX_KEYWORD_CHARS = 200          # keywords.keyword / keywords.normalized are VARCHAR(200)
SAMPLE_BYTES = 64 * 1024         # how much of the file ``inspect`` reads to guess its shape
PREVIEW_ROWS = 10
HEADER_SEARCH_ROWS = 20          # preamble lines allowed before the header
SAMPLE_RECORDS = 200             # rows of the sample used to guess the layout

FIELDS = ("keyword", "volume", "difficulty", "cpc", "intent")
FIELD_LABELS = {
    "keyword": "Keyword",
    "volume": "Search volume",
    "difficulty": "Keyword difficulty (0–100)",
    "cpc": "CPC",
    "intent": "Search intent",
}

_MB = 1024 * 1024


class ImportFileError(Exception):
    """The whole file (or pasted text) cannot be imported. ``message`` is a sentence for the user
    saying what is wrong and what to do; ``line`` is the 1-based line number when there is one."""

    def __init__(self, message: str, *, line: int | None = None):
        super().__init__(message)
        self.message = message
        self.line = line


def _noun(source: str) -> str:
    return "pasted text" if source == "text" else "file"


def _too_big(size: int | None, source: str = "file", limit: int = MAX_IMPORT_BYTES) -> ImportFileError:
    """``size`` None: only known to be over the limit (a stream that could not be measured)."""
    limit_text = f"{limit / _MB:g} MB"
    if source == "text":
        return ImportFileError(f"The pasted text is {size / _MB:.1f} MB; the limit is {limit_text}. "
                               "Paste fewer keywords at a time, or upload a file.")
    if size is None:
        return ImportFileError(f"The file is larger than the {limit_text} limit. Split it into smaller files.")
    return ImportFileError(f"The file is {size / _MB:.1f} MB; the limit is {limit_text}. "
                           "Split it into smaller files.")


def _empty(source: str) -> ImportFileError:
    return ImportFileError("Nothing was pasted." if source == "text" else "The file is empty.")


def _blank(source: str) -> ImportFileError:
    if source == "text":
        return ImportFileError("The pasted text contains only spaces and blank lines; there are no keywords in it.")
    return ImportFileError("The file contains only spaces and blank lines; there are no keywords in it.")


NO_KEYWORD_COLUMN = ("No keyword column was found. We looked for a column named keyword, query or term; "
                     "choose it in the mapping.")
BINARY_FILE = ("This looks like a binary file (e.g. an Excel .xlsx), not CSV or text. "
               "Export as CSV and try again.")
_SIGNATURES = (
    (b"PK\x03\x04", "This looks like an Excel workbook (.xlsx) or another zip file, not CSV or text. "
                    "Export or save it as CSV and try again."),
    (b"PK\x05\x06", "This looks like a zip file, not CSV or text. Unzip it and upload the CSV inside."),
    (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1", "This looks like an old Excel workbook (.xls), not CSV or text. "
                                          "Save it as CSV and try again."),
    (b"%PDF", "This is a PDF, not CSV or text. Export the keywords as CSV and try again."),
    (b"\x1f\x8b", "This is a compressed (gzip) file. Unzip it and upload the CSV inside."),
)


# --------------------------------------------------------------------------------------------
# Reading the upload
# --------------------------------------------------------------------------------------------

def read_limited(stream: BinaryIO, limit: int = MAX_IMPORT_BYTES) -> bytes:
    """Read an upload stream (e.g. ``request.files["file"].stream``), refusing it when it is
    bigger than ``limit`` without reading it all.

    A seekable stream is measured first (so the message can say how big it is); otherwise at
    most ``limit + 1`` bytes are read. Raises :class:`ImportFileError`.
    """
    try:
        seekable = stream.seekable()
    except (AttributeError, OSError, ValueError):
        seekable = False
    if seekable:
        start = stream.tell()
        size = stream.seek(0, io.SEEK_END) - start
        stream.seek(start)
        if size > limit:
            raise _too_big(size, limit=limit)
    data = stream.read(limit + 1)
    if len(data) > limit:
        raise _too_big(None, limit=limit)
    return data


# --------------------------------------------------------------------------------------------
# Headers
# --------------------------------------------------------------------------------------------

_SYNONYMS = {  # in order of preference
    "keyword": ("keyword", "keywords", "query", "queries", "search query", "search queries", "top queries",
                "term", "terms", "search term", "search terms", "keyword phrase", "key phrase", "keyphrase",
                "phrase", "kw"),
    "volume": ("volume", "search volume", "avg monthly searches", "average monthly searches", "monthly volume",
               "monthly searches", "monthly search volume", "avg search volume", "average search volume",
               "msv", "sv", "searches", "local monthly searches", "global monthly searches", "global volume"),
    "difficulty": ("keyword difficulty", "difficulty", "kd", "keyword difficulty index", "seo difficulty",
                   "kw difficulty", "ranking difficulty"),
    "cpc": ("cpc", "avg cpc", "average cpc", "cost per click", "suggested bid",
            # Keyword Planner has no CPC; the high top-of-page bid is the closest figure.
            "top of page bid high range"),
    "intent": ("intent", "intents", "search intent", "keyword intent", "user intent", "intent type"),
}
_HEADER_WORDS = {name: fld for fld, names in _SYNONYMS.items() for name in names}
_CURRENCY_HEADERS = ("currency", "currency code")
_HEADER_CURRENCY_RE = re.compile(r"[(\[]\s*([^()\[\]]{1,4}?)\s*[)\]]")
_NON_ALNUM_RE = re.compile(r"[\W_]+")


def _header_name(cell: str) -> tuple[str, str | None]:
    """Normalised header name and the currency it names, if any: "CPC (USD)" -> ("cpc", "USD")."""
    text = unicodedata.normalize("NFKC", cell).strip().strip("\ufeff")
    currency = None
    match = _HEADER_CURRENCY_RE.search(text)
    if match and _currency_code(match.group(1)):
        currency = _currency_code(match.group(1))
        text = text[:match.start()] + text[match.end():]
    name = " ".join(_NON_ALNUM_RE.sub(" ", text.casefold()).split())
    words = name.split()
    if currency is None and len(words) > 1 and words[-1].upper() in _CURRENCY_CODES:
        currency, name = words[-1].upper(), " ".join(words[:-1])
    if currency is None:
        for symbol, code in _CURRENCY_SYMBOLS.items():  # "CPC, $" / "CPC €"
            if len(symbol) == 1 and symbol in text:
                currency = code
                break
    return name, currency


def _recognised(row: list[str]) -> set[str]:
    found = set()
    for cell in row:
        name = _header_name(cell)[0] if len(cell) < 80 else ""
        if name in _HEADER_WORDS:
            found.add(_HEADER_WORDS[name])
    return found


def _guess_mapping(columns: list[str]) -> tuple[dict[str, int | None], int | None]:
    names = [_header_name(c)[0] for c in columns]
    mapping: dict[str, int | None] = {}
    taken: set[int] = set()
    for fld in FIELDS:
        mapping[fld] = None
        for synonym in _SYNONYMS[fld]:
            index = next((i for i, n in enumerate(names) if n == synonym and i not in taken), None)
            if index is not None:
                mapping[fld] = index
                taken.add(index)
                break
    currency_column = next((i for i, n in enumerate(names) if n in _CURRENCY_HEADERS), None)
    return mapping, currency_column


# --------------------------------------------------------------------------------------------
# Encoding
# --------------------------------------------------------------------------------------------

_ENCODING_LABELS = {
    "utf-8": "UTF-8", "utf-8-sig": "UTF-8 with BOM", "utf-16": "UTF-16 with BOM", "utf-16-le": "UTF-16 LE",
    "utf-16-be": "UTF-16 BE", "utf-32": "UTF-32 with BOM", "cp1252": "Windows-1252", "latin-1": "Latin-1",
}


def _check_binary(head: bytes) -> None:
    for signature, message in _SIGNATURES:
        if head.startswith(signature):
            raise ImportFileError(message)


def _detect_encoding(data: bytes) -> str:
    """Python codec name for ``data``; raises ImportFileError for binary data."""
    head = data[:SAMPLE_BYTES]
    if head.startswith(codecs.BOM_UTF32_LE) or head.startswith(codecs.BOM_UTF32_BE):
        return "utf-32"
    if head.startswith(codecs.BOM_UTF8):
        return "utf-8-sig"
    if head.startswith(codecs.BOM_UTF16_LE) or head.startswith(codecs.BOM_UTF16_BE):
        return "utf-16"
    _check_binary(head)
    if b"\x00" in head:
        # UTF-16 without a BOM: ASCII text has a NUL in every other byte.
        sample = head[:4096]
        even, odd = sample[0::2], sample[1::2]
        if odd and odd.count(0) > 0.3 * len(odd) and even.count(0) < 0.05 * len(even):
            return "utf-16-le"
        if even and even.count(0) > 0.3 * len(even) and odd.count(0) < 0.05 * len(odd):
            return "utf-16-be"
        raise ImportFileError(BINARY_FILE)
    try:
        data.decode("utf-8")
        return "utf-8"
    except UnicodeDecodeError:
        pass
    try:
        data.decode("cp1252")  # what Excel on Windows writes for "CSV (Comma delimited)"
        return "cp1252"
    except UnicodeDecodeError:
        return "latin-1"


def _decode_head(data: bytes, encoding: str) -> tuple[str, bool]:
    """Decode the first SAMPLE_BYTES; returns (text, whole file was decoded)."""
    complete = len(data) <= SAMPLE_BYTES
    decoder = codecs.getincrementaldecoder(encoding)("strict")
    try:
        text = decoder.decode(data[:SAMPLE_BYTES], final=complete)
    except UnicodeDecodeError:
        raise ImportFileError(f"The file could not be read as {_ENCODING_LABELS.get(encoding, encoding)} text. "
                              "Save it as CSV UTF-8 and try again.") from None
    if text.startswith("\ufeff"):
        text = text[1:]
    bad = sum(1 for ch in text if (ch < " " and ch not in "\t\n\r\f\v") or "\x7f" <= ch <= "\x9f")
    if bad > len(text) // 200:
        raise ImportFileError(BINARY_FILE)
    return text, complete


# --------------------------------------------------------------------------------------------
# Shape
# --------------------------------------------------------------------------------------------

_DELIMITERS = (",", "\t", ";", "|")
_DELIMITER_LABELS = {",": "comma", "\t": "tab", ";": "semicolon", "|": "vertical bar", None: "one keyword per line"}


@dataclass
class FileShape:
    """What :func:`inspect` found out about a file; also what :func:`parse` needs to read it.

    Fields:
      encoding        Python codec used to read the bytes ("utf-8", "utf-8-sig", "utf-16" (BOM
                      says LE/BE), "utf-16-le", "utf-16-be", "utf-32", "cp1252", "latin-1").
      delimiter       ",", "\\t", ";" or "|"; None for one keyword per line.
      header_index    0-based index of the header row = how many title lines precede it
                      (Keyword Planner: 2); None when the file has no header.
      skip            rows before the first data row (title lines + header, or an Excel "sep=" line).
      columns         header names; "Column 1", "Column 2" … without a header.
      mapping         field -> 0-based column index or None, for every name in FIELDS.
      currency_column index of a "Currency" column (Keyword Planner), used for CPC currency.
      row_count       data rows: exact for small files, estimated from the line count otherwise.
      sample_rows     the first rows parsed with ``mapping`` (see :meth:`preview`); not JSON-safe
                      (Decimal), so :meth:`to_dict` leaves it out and it is rebuilt on load.
      sample_cells    raw cells of the first data rows; sample_lines their 1-based line numbers.
      preamble        text of the title lines skipped before the header.
      warnings        messages to show with the preview (e.g. NO_KEYWORD_COLUMN).
      source          "file" or "text" (pasted).
    """

    encoding: str
    delimiter: str | None
    header_index: int | None
    skip: int
    columns: list[str]
    mapping: dict[str, int | None]
    currency_column: int | None = None
    row_count: int = 0
    sample_rows: list[dict[str, Any]] = field(default_factory=list)
    sample_cells: list[list[str]] = field(default_factory=list)
    sample_lines: list[int] = field(default_factory=list)
    preamble: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    source: str = "file"

    def __post_init__(self) -> None:
        # Mappings come back from JSON storage and forms: make them {field: int | None}.
        self.mapping = {f: (None if self.mapping.get(f) in (None, "") else int(self.mapping[f])) for f in FIELDS}
        if not self.sample_rows and self.sample_cells:
            self.sample_rows = self.preview()

    @property
    def has_header(self) -> bool:
        return self.header_index is not None

    @property
    def header_line(self) -> int | None:
        """1-based line number of the header row."""
        return None if self.header_index is None else self.header_index + 1

    @property
    def encoding_label(self) -> str:
        return _ENCODING_LABELS.get(self.encoding, self.encoding)

    @property
    def delimiter_label(self) -> str:
        return _DELIMITER_LABELS.get(self.delimiter, repr(self.delimiter))

    def preview(self, mapping: Mapping[str, Any] | None = None) -> list[dict[str, Any]]:
        """The sample rows parsed with ``mapping`` (default: the guessed one), as dicts with
        line, keyword, volume, volume_text, difficulty, cpc, cpc_currency, intent and error
        (the rejection reason, or None)."""
        mapping = self.check_mapping(mapping) if mapping is not None else self.mapping
        rows: list[dict[str, Any]] = []
        if mapping.get("keyword") is None or mapping["keyword"] >= max(len(self.columns), 1):
            return rows
        parse_row = _row_parser(self, mapping)
        for line, cells in zip(self.sample_lines, self.sample_cells):
            entry = dict.fromkeys(("keyword", "volume", "volume_text", "difficulty", "cpc", "cpc_currency",
                                   "intent", "error"))
            entry["line"] = line
            try:
                record = parse_row(cells, line)
            except _Reject as reject:
                entry["error"] = reject.reason
                kw = mapping["keyword"]
                entry["keyword"] = cells[kw] if kw < len(cells) else ""
            else:
                if record is None:
                    continue
                entry.update(keyword=record.keyword, volume=record.volume, volume_text=record.volume_text,
                             difficulty=record.difficulty, cpc=record.cpc, cpc_currency=record.cpc_currency,
                             intent=record.intent)
            rows.append(entry)
        return rows

    def check_mapping(self, mapping: Mapping[str, Any]) -> dict[str, int | None]:
        """Validate a mapping (e.g. from a form): field -> column index, or None / "" for
        "not imported". Unknown fields raise ValueError; a keyword column is required and
        indexes must exist (ImportFileError)."""
        unknown = set(mapping) - set(FIELDS)
        if unknown:
            raise ValueError(f"unknown import fields: {sorted(unknown)}")
        result: dict[str, int | None] = {}
        for fld in FIELDS:
            value = mapping.get(fld)
            if value is None or (isinstance(value, str) and value.strip() in ("", "none", "-")):
                result[fld] = None
                continue
            try:
                index = int(value)
            except (TypeError, ValueError):
                raise ValueError(f"column for {fld} must be a number, not {value!r}") from None
            if not 0 <= index < max(len(self.columns), 1):
                raise ImportFileError(f"The {FIELD_LABELS[fld].lower()} is mapped to column {index + 1}, "
                                      f"but the file has {len(self.columns)} column(s). Choose another column.")
            result[fld] = index
        if result["keyword"] is None:
            raise ImportFileError(NO_KEYWORD_COLUMN)
        return result

    def with_mapping(self, mapping: Mapping[str, Any]) -> "FileShape":
        """A copy with ``mapping`` (validated by :meth:`check_mapping`)."""
        checked = self.check_mapping(mapping)
        warnings = [w for w in self.warnings if w != NO_KEYWORD_COLUMN]
        return FileShape(**{**self.to_dict(), "mapping": checked, "warnings": warnings, "sample_rows": []})

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict (for KeywordImport.shape), without ``sample_rows``; ``FileShape(**d)``
        or :meth:`from_dict` rebuilds the shape."""
        return {
            "encoding": self.encoding, "delimiter": self.delimiter, "header_index": self.header_index,
            "skip": self.skip, "columns": list(self.columns), "mapping": dict(self.mapping),
            "currency_column": self.currency_column, "row_count": self.row_count,
            "sample_cells": [list(r) for r in self.sample_cells], "sample_lines": list(self.sample_lines),
            "preamble": list(self.preamble), "warnings": list(self.warnings), "source": self.source,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> "FileShape":
        """The shape from :meth:`to_dict` (unknown keys ignored)."""
        known = set(cls.__dataclass_fields__)
        return cls(**{k: v for k, v in data.items() if k in known})


def _records(text: str, delimiter: str | None, limit: int) -> list[tuple[int, list[str]]]:
    """(first line number, cells) of the first ``limit`` records of the sample text."""
    out = []
    stream = io.StringIO(text, newline="")
    if delimiter is None:
        for number, line in enumerate(stream, 1):
            if number > limit:
                break
            out.append((number, [line.rstrip("\r\n")]))
        return out
    reader = csv.reader(stream, delimiter=delimiter)
    last = 0
    try:
        for row in reader:
            out.append((last + 1, row))
            last = reader.line_num
            if len(out) >= limit:
                break
    except csv.Error:
        pass
    return out


def _is_number_cell(cell: str) -> bool:
    cell = cell.strip()
    if not cell:
        return False
    try:
        _to_decimal(cell, integer_field=True)
        return True
    except ValueError:
        return False


def _looks_like_header(first: list[str], rest: list[list[str]]) -> bool:
    """An unrecognised first row is a header when its cells are text where the rows below
    hold numbers."""
    if not rest or any(_is_number_cell(c) for c in first) or not all(c.strip() for c in first):
        return False
    for i in range(len(first)):
        column = [r[i] for r in rest if i < len(r) and r[i].strip()]
        if column and sum(map(_is_number_cell, column)) >= 0.8 * len(column):
            return True
    return False


def _numeric_column(records: list[tuple[int, list[str]]], width: int) -> int | None:
    """Without a header: the first column after the keyword holding volumes in 80% of rows."""
    for index in range(1, width):
        cells = [r[index] for _, r in records if index < len(r) and r[index].strip()]
        good = 0
        for cell in cells:
            try:
                good += _volume(cell)[0] is not None
            except ValueError:
                pass
        if cells and good >= 0.8 * len(cells):
            return index
    return None


def _header_in(records: list[tuple[int, list[str]]], start: int) -> tuple[int | None, int]:
    """Index of the first row (within HEADER_SEARCH_ROWS) naming a known field, and a score."""
    for index in range(start, min(len(records), start + HEADER_SEARCH_ROWS)):
        row = records[index][1]
        if len(row) >= 2:
            found = _recognised(row)
            if found:
                return index, len(found) + ("keyword" in found)
    return None, 0


def _choose_layout(text: str, source: str, header: bool | None
                   ) -> tuple[str | None, int | None, int, list[tuple[int, list[str]]]]:
    """(delimiter, header record index or None, index of the first data record, sample records).

    Each candidate delimiter is scored by whether it yields a header row with known field names,
    then by how many rows share the most common cell count. Without either, the file is one
    keyword per line. Up to HEADER_SEARCH_ROWS title/preamble lines may precede the header.
    """
    first_line = text.split("\n", 1)[0].strip().lower()
    forced = first_line[4] if len(first_line) == 5 and first_line.startswith("sep=") else None  # Excel hint
    start = 1 if forced else 0
    best = None
    for delim in ([forced] if forced else _DELIMITERS):
        records = _records(text, delim, SAMPLE_RECORDS)
        header_index, recognised = _header_in(records, start) if header is not False else (None, 0)
        counts = [len(r) for _, r in records[header_index or start:] if any(c.strip() for c in r)]
        multi = Counter(c for c in counts if c >= 2)
        mode = max(multi, key=lambda c: (multi[c], c)) if multi else 1
        matching = multi.get(mode, 0)
        if not recognised and not forced:
            if not (matching >= 2 and matching >= 0.6 * len(counts)):
                continue
            if source == "text" and delim != "\t":
                continue  # pasted lines with commas are keywords, unless there is a header
        score = (recognised, matching, mode)
        if best is None or score > best[0]:
            best = (score, delim, header_index, records)
    if best is not None:
        _, delim, header_index, records = best
        if header_index is None and header is not False:
            body = [i for i, (_, r) in enumerate(records) if i >= start and any(c.strip() for c in r)]
            if body and (header or _looks_like_header(records[body[0]][1], [records[i][1] for i in body[1:30]])):
                header_index = body[0]
        return delim, header_index, (start if header_index is None else header_index + 1), records
    # One keyword per line; a first line like "Keyword" is its header.
    records = _records(text, None, SAMPLE_RECORDS)
    header_index = None
    for index, (_, row) in enumerate(records[:HEADER_SEARCH_ROWS]):
        if row[0].strip():
            if header is True or (header is None and _HEADER_WORDS.get(_header_name(row[0])[0]) == "keyword"):
                header_index = index
            break
    return None, header_index, (0 if header_index is None else header_index + 1), records


def _estimate_lines(data: bytes, encoding: str) -> int:
    """Line count from the raw bytes (cheap; exact enough for a progress estimate)."""
    if encoding == "utf-32":
        return max(1, len(data) // 40)
    if encoding == "utf-16-le" or (encoding == "utf-16" and data.startswith(codecs.BOM_UTF16_LE)):
        newline = b"\n\x00"
    elif encoding.startswith("utf-16"):
        newline = b"\x00\n"
    else:
        newline = b"\n"
    count = data.count(newline) or data.count(newline.replace(b"\n", b"\r"))
    return count + (not data.rstrip(b"\x00").endswith((b"\n", b"\r")))


def _as_bytes(data: bytes | str) -> tuple[bytes, str]:
    if isinstance(data, str):
        if len(data) > MAX_IMPORT_BYTES:
            raise _too_big(len(data.encode("utf-8", "surrogatepass")), "text")
        raw = data.encode("utf-8", "replace")
        if len(raw) > MAX_IMPORT_BYTES:
            raise _too_big(len(raw), "text")
        return raw, "text"
    if len(data) > MAX_IMPORT_BYTES:
        # Exactly one byte over: most likely read with stream.read(limit + 1), so the size is unknown.
        raise _too_big(len(data) if len(data) > MAX_IMPORT_BYTES + 1 else None)
    return bytes(data), "file"


_SPREADSHEETS = frozenset({"xlsx", "xlsm", "xls", "ods", "numbers"})


def inspect(data: bytes | str, *, filename: str = "", header: bool | None = None) -> FileShape:
    """Work out how to read ``data`` (file bytes, or pasted text as ``str``) and guess the mapping.

    Reads only the first 64 KB for the guess (plus a UTF-8 validity check of the whole file).
    ``filename`` only improves the message for binary spreadsheets. ``header`` forces "first row
    is a header" (True/False) instead of guessing. A file with a header but no keyword column
    gets ``mapping["keyword"] = None`` and NO_KEYWORD_COLUMN in ``warnings`` so the user can
    pick the column; :func:`parse` refuses it until then.

    Raises :class:`ImportFileError` for files that are too big, empty, blank or binary, and for
    a header with no rows below it.
    """
    raw, source = _as_bytes(data)
    if not raw or raw in (codecs.BOM_UTF8, codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE):
        raise _empty(source)
    try:
        encoding = "utf-8" if source == "text" else _detect_encoding(raw)
        text, complete = _decode_head(raw, encoding)
    except ImportFileError:
        extension = filename.rpartition(".")[2].lower() if "." in filename else ""
        if extension in _SPREADSHEETS:
            raise ImportFileError(f"This is a spreadsheet (.{extension}), not CSV or text. "
                                  "Export or save it as CSV and try again.") from None
        raise
    if not text.strip() and (complete or not raw.decode(encoding, "replace").strip("\ufeff \t\r\n")):
        raise _blank(source)
    if not complete:
        text = text[:text.rfind("\n") + 1] or text
    delimiter, header_index, first_data, records = _choose_layout(text, source, header)

    if header_index is not None:
        header_row = records[header_index][1]
        columns = [" ".join(c.split()) or f"Column {i + 1}" for i, c in enumerate(header_row)]
        if delimiter is None:
            mapping, currency_column = {f: (0 if f == "keyword" else None) for f in FIELDS}, None
        else:
            mapping, currency_column = _guess_mapping(header_row)
        header_line = records[header_index][0]
    else:
        width = max((len(r) for _, r in records[first_data:]), default=1) if delimiter else 1
        columns = [f"Column {i + 1}" for i in range(width)]
        mapping = {f: (0 if f == "keyword" else None) for f in FIELDS}
        currency_column, header_line = None, None
        if delimiter is not None:
            mapping["volume"] = _numeric_column(records[first_data:first_data + 50], width)
    preamble = [" ".join((delimiter or "").join(r).split()) for _, r in records[:first_data]]
    if header_index is not None:
        preamble = preamble[:header_index]
    preamble = [p for p in preamble if p]

    body = [(line, row) for line, row in records[first_data:] if any(c.strip() for c in row)]
    whole = complete and len(records) < SAMPLE_RECORDS
    if not body and whole:
        if header_index is not None:
            raise ImportFileError(f"The {_noun(source)} has a header row but no keyword rows below it.",
                                  line=header_line)
        raise _blank(source)
    warnings = [NO_KEYWORD_COLUMN] if mapping["keyword"] is None else []
    estimate = len(body) if whole else max(len(body), _estimate_lines(raw, encoding) - first_data)
    return FileShape(
        encoding=encoding, delimiter=delimiter, header_index=header_index, skip=first_data, columns=columns,
        mapping=mapping, currency_column=currency_column, row_count=estimate,
        sample_cells=[row for _, row in body[:PREVIEW_ROWS]],
        sample_lines=[line for line, _ in body[:PREVIEW_ROWS]], preamble=preamble, warnings=warnings,
        source=source,
    )


# --------------------------------------------------------------------------------------------
# Parsing
# --------------------------------------------------------------------------------------------

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


@dataclass
class ParseResult:
    """``records`` to import (unique within the file, in file order), ``duplicates`` dropped
    within the file, ``rejected`` rows as (line, reason), ``rows`` = non-blank data rows read
    (records + duplicates + rejected)."""

    records: list[KeywordRecord]
    duplicates: int
    rejected: list[tuple[int, str]]
    rows: int
    shape: FileShape


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


def _resolve_shape(data: bytes | str, shape: FileShape | Mapping[str, Any] | None,
                   mapping: Mapping[str, Any] | None, filename: str) -> FileShape:
    if shape is None:
        shape = inspect(data, filename=filename)
    elif not isinstance(shape, FileShape):
        shape = FileShape.from_dict(shape)
    if mapping is not None:
        return shape.with_mapping(mapping)
    shape.check_mapping(shape.mapping)
    return shape


def _rows(stream: io.TextIOWrapper, delimiter: str | None):
    """(first line number, cells) of every record; one cell per line without a delimiter."""
    if delimiter is None:
        for number, text in enumerate(stream, 1):
            yield number, [text.rstrip("\r\n")]
        return
    reader = csv.reader(stream, delimiter=delimiter)
    last = 0
    for row in reader:
        yield last + 1, row
        last = reader.line_num


def parse(data: bytes | str, shape: FileShape | Mapping[str, Any] | None = None,
          mapping: Mapping[str, Any] | None = None, *, limit: int | None = None,
          filename: str = "") -> ParseResult:
    """Parse the whole file into records; all-or-nothing.

    ``shape`` is what :func:`inspect` returned for the same data (or its ``to_dict()``); when
    omitted the data is inspected here. ``mapping`` (field -> column index, e.g. the user's
    edited mapping; form strings are accepted) replaces the shape's mapping. ``limit`` stops
    after that many non-blank data rows (for a preview of the first rows with a mapping).

    Raises :class:`ImportFileError` when the file is bad as a whole: too big, empty, binary,
    no keyword column, broken quoting, text that cannot be decoded, or no data rows.
    """
    raw, source = _as_bytes(data)
    shape = _resolve_shape(data, shape, mapping, filename)
    parse_row = _row_parser(shape, shape.mapping)
    records: list[KeywordRecord] = []
    rejected: list[tuple[int, str]] = []
    seen: set[str] = set()
    duplicates = rows = 0
    append, add = records.append, seen.add
    skip, header_row = shape.skip, None
    stream = io.TextIOWrapper(io.BytesIO(raw), encoding=shape.encoding, errors="strict", newline="")
    line = index = 0
    try:
        for line, row in _rows(stream, shape.delimiter):
            index += 1
            if index <= skip:
                if index == skip and shape.has_header:
                    header_row = row
                continue
            if rows == limit:
                break
            try:
                if row == header_row:
                    raise _Reject("this line repeats the header row")
                record = parse_row(row, line)
            except _Reject as reject:
                rows += 1
                rejected.append((line, reject.reason))
                continue
            if record is None:
                continue
            rows += 1
            if record.normalized in seen:
                duplicates += 1
            else:
                add(record.normalized)
                append(record)
    except csv.Error as error:
        detail = str(error)
        if "field larger than field limit" in detail:
            detail = "a cell is far too long"
        raise ImportFileError(f"Line {line + 1} could not be read ({detail}). Check for a quote (\") that is "
                              "opened but never closed, then try again.", line=line + 1) from None
    except UnicodeDecodeError:
        raise ImportFileError(f"The {_noun(source)} could not be read as {shape.encoding_label} text "
                              f"after line {line}. Save it as CSV UTF-8 and try again.", line=line) from None
    if rows == 0:
        raise ImportFileError(f"The {_noun(source)} has a header row but no keyword rows below it."
                              if shape.has_header else _blank(source).message)
    return ParseResult(records=records, duplicates=duplicates, rejected=rejected, rows=rows, shape=shape)


def parse_text(text: str, shape: FileShape | Mapping[str, Any] | None = None,
               mapping: Mapping[str, Any] | None = None) -> ParseResult:
    """Parse pasted text: one keyword per line, or pasted CSV/TSV with a recognised header
    (tab-separated columns from a spreadsheet also work without a header; keyword = first)."""
    if not isinstance(text, str):
        raise TypeError("parse_text() takes str; use parse() for bytes")
    return parse(text, shape, mapping=mapping)
