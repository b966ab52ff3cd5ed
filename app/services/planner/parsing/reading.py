"""Reading an upload: size limits, binary-file signatures, encoding detection and the file-level errors."""

from __future__ import annotations

import codecs
import io
from typing import BinaryIO

MAX_IMPORT_BYTES = 20 * 1024 * 1024
SAMPLE_BYTES = 64 * 1024         # how much of the file ``inspect`` reads to guess its shape
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
