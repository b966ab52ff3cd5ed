"""FileShape: what inspecting a file found out about it, and what parsing needs to read it."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Mapping

from app.services.planner.cells import _volume
from app.services.planner.parsing.headers import FIELD_LABELS, FIELDS, NO_KEYWORD_COLUMN, VOLUME_HINTS, _header_name
from app.services.planner.parsing.reading import _ENCODING_LABELS, ImportFileError
from app.services.planner.parsing.rows import _Reject, _row_parser

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

    def unmapped_volume_warnings(self, mapping: Mapping[str, Any] | None = None) -> list[str]:
        """Warnings for columns that look like search volume but are not imported (volume left unmapped).

        A column looks like volume when its header names it (in one of the languages we read) or when
        its sample cells are whole numbers or ranges ("1K – 10K") with at least one above 100.
        """
        mapping = self.mapping if mapping is None else mapping
        if mapping.get("volume") not in (None, "") or self.delimiter is None:
            return []
        used = {int(v) for v in mapping.values() if v not in (None, "")}
        warnings = []
        for index, column in enumerate(self.columns):
            if index in used:
                continue
            cells = [row[index].strip() for row in self.sample_cells if index < len(row) and row[index].strip()]
            values = []
            for cell in cells:
                try:
                    values.append(_volume(cell)[0])
                except ValueError:
                    values.append(None)
            numeric = bool(cells) and sum(v is not None for v in values) >= 0.8 * len(cells)
            if not numeric:
                continue
            named = self.has_header and any(hint in _header_name(column)[0] for hint in VOLUME_HINTS)
            if named or max(v for v in values if v is not None) > 100:
                warnings.append(f"Column “{column}” holds numbers that look like search volumes but is not "
                                f"imported. If it is the search volume, choose it for {FIELD_LABELS['volume']}.")
        return warnings

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
