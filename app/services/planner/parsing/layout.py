"""Layout detection: delimiter, title lines, header row and a guessed mapping (``inspect``)."""

from __future__ import annotations

import codecs
import csv
import io
from collections import Counter

from app.services.planner.cells import _to_decimal, _volume
from app.services.planner.parsing.headers import (
    _HEADER_WORDS, FIELDS, NO_KEYWORD_COLUMN, _guess_mapping, _header_name, _recognised,
)
from app.services.planner.parsing.reading import (
    ImportFileError, _as_bytes, _blank, _decode_head, _detect_encoding, _empty, _estimate_lines,
    _noun,
)
from app.services.planner.parsing.shape import FileShape

PREVIEW_ROWS = 10
HEADER_SEARCH_ROWS = 20          # preamble lines allowed before the header
SAMPLE_RECORDS = 200             # rows of the sample used to guess the layout
_DELIMITERS = (",", "\t", ";", "|")


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
