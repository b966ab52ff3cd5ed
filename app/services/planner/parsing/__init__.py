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

import csv
import io
from dataclasses import dataclass
from typing import Any, Callable, Mapping

from app.services.planner.cells import (  # noqa: F401  (the cell helpers are part of this module's interface)
    INTENTS,
    clean_display,
    normalize_keyword,
    parse_cpc,
    parse_difficulty,
    parse_intent,
    parse_volume,
)
from app.services.planner.parsing.headers import FIELD_LABELS, FIELDS, NO_KEYWORD_COLUMN  # noqa: F401
from app.services.planner.parsing.layout import PREVIEW_ROWS, inspect  # noqa: F401
from app.services.planner.parsing.reading import (  # noqa: F401
    BINARY_FILE,
    MAX_IMPORT_BYTES,
    ImportFileError,
    _as_bytes,
    _blank,
    _noun,
    read_limited,
)
from app.services.planner.parsing.rows import MAX_KEYWORD_CHARS, KeywordRecord, _Reject, _row_parser  # noqa: F401
from app.services.planner.parsing.shape import FileShape

__all__ = [
    "MAX_IMPORT_BYTES", "MAX_KEYWORD_CHARS", "FIELDS", "FIELD_LABELS", "INTENTS",
    "ImportFileError", "FileShape", "KeywordRecord", "ParseResult",
    "read_limited", "inspect", "parse", "parse_text",
    "normalize_keyword", "clean_display", "parse_volume", "parse_difficulty", "parse_cpc", "parse_intent",
]


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
          filename: str = "", on_record: Callable[[KeywordRecord], None] | None = None) -> ParseResult:
    """Parse the whole file into records; all-or-nothing.

    ``shape`` is what :func:`inspect` returned for the same data (or its ``to_dict()``); when
    omitted the data is inspected here. ``mapping`` (field -> column index, e.g. the user's
    edited mapping; form strings are accepted) replaces the shape's mapping. ``limit`` stops
    after that many non-blank data rows (for a preview of the first rows with a mapping).
    ``on_record`` is called with each record as soon as it is read (after the in-file duplicate check),
    so it can be stored while the rest of the file is parsed; on ImportFileError the caller discards
    what it was given.

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
                if on_record is not None:
                    on_record(record)
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
