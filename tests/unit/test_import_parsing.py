"""Keyword import parser: real export shapes, bad files, cell rules, normalisation, scale."""

from __future__ import annotations

import codecs
import io
import json
import random
from decimal import Decimal
from pathlib import Path

import pytest

from app.services.planner.parsing import (
    BINARY_FILE,
    FIELDS,
    MAX_IMPORT_BYTES,
    NO_KEYWORD_COLUMN,
    FileShape,
    ImportFileError,
    KeywordRecord,
    clean_display,
    inspect,
    normalize_keyword,
    parse,
    parse_cpc,
    parse_difficulty,
    parse_intent,
    parse_text,
    parse_volume,
    read_limited,
)

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "imports"


@pytest.fixture(autouse=True)
def clean_state():
    """Pure parsing: no database or Redis to build or empty (overrides tests/conftest.py)."""
    yield


def fixture(name: str) -> bytes:
    return (FIXTURES / name).read_bytes()


def keywords(result) -> list[str]:
    return [r.keyword for r in result.records]


def by_keyword(result) -> dict:
    return {r.keyword: r for r in result.records}


def error_of(call, *args, **kwargs) -> ImportFileError:
    with pytest.raises(ImportFileError) as info:
        call(*args, **kwargs)
    assert str(info.value) == info.value.message
    return info.value


# ---------------------------------------------------------------------------------------------
# Real export shapes
# ---------------------------------------------------------------------------------------------

def test_keyword_planner_utf16_tab_with_preamble_lines():
    data = fixture("keyword_planner_utf16le.csv")
    assert data.startswith(codecs.BOM_UTF16_LE)
    shape = inspect(data, filename="Keyword Stats 2024-01-01 at 10_00_00.csv")
    assert shape.encoding == "utf-16" and shape.delimiter == "\t" and shape.delimiter_label == "tab"
    assert shape.has_header and shape.header_index == 2 and shape.header_line == 3 and shape.skip == 3
    assert shape.preamble == ["Keyword Stats 2024-01-01 at 10_00_00", "January 1, 2023 - December 31, 2023"]
    assert shape.columns[:3] == ["Keyword", "Currency", "Avg. monthly searches"]
    assert shape.mapping == {"keyword": 0, "volume": 2, "difficulty": None, "cpc": 8, "intent": None}
    assert shape.row_count == 5 and shape.warnings == []

    result = parse(data, shape)
    assert keywords(result) == ["espresso machine", "best espresso machine", "how to descale an espresso machine",
                                "café crème machine"]
    assert result.duplicates == 1 and result.rejected == [] and result.rows == 5
    rows = by_keyword(result)
    best = rows["best espresso machine"]
    assert (best.line, best.volume, best.volume_text) == (5, 3162, "1K – 10K")
    assert (best.cpc, best.cpc_currency) == (Decimal("2.35"), "USD")  # currency from the Currency column
    assert rows["espresso machine"].volume == 31623
    assert rows["café crème machine"].volume_text == "10 – 100"
    descale = rows["how to descale an espresso machine"]
    assert (descale.volume, descale.cpc, descale.cpc_currency) == (316, None, None)


def test_semrush_utf8_comma_with_quoted_lists():
    result = parse(fixture("semrush.csv"))
    shape = result.shape
    assert (shape.encoding, shape.delimiter, shape.header_line) == ("utf-8", ",", 1)
    assert shape.mapping == {"keyword": 0, "volume": 2, "difficulty": 4, "cpc": 5, "intent": 1}
    rows = by_keyword(result)
    best = rows["best coffee grinder"]
    assert (best.volume, best.difficulty, best.cpc, best.cpc_currency, best.intent) == \
        (12100, 67, Decimal("1.45"), "USD", "commercial")
    assert rows["burr vs blade grinder"].intent == "informational"
    assert rows["baratza encore"].intent == "navigational"
    assert rows["burr vs blade grinder"].cpc == Decimal("0")
    assert len(result.records) == 5 and result.rejected == []


def test_ahrefs_utf16_tab_with_number_column_first():
    result = parse(fixture("ahrefs_utf16le.csv"))
    assert result.shape.encoding == "utf-16" and result.shape.delimiter == "\t"
    assert result.shape.mapping == {"keyword": 1, "volume": 4, "difficulty": 3, "cpc": 5, "intent": None}
    rows = by_keyword(result)
    assert (rows["cold brew coffee"].volume, rows["cold brew coffee"].difficulty) == (40000, 23)
    nitro = rows["nitro cold brew"]
    assert (nitro.difficulty, nitro.cpc) == (None, None)  # blank cells are blank, not rejections
    assert result.rejected == []


def test_ahrefs_utf8_with_bom_and_intents():
    data = fixture("ahrefs_utf8_bom.csv")
    assert data.startswith(codecs.BOM_UTF8)
    result = parse(data)
    assert result.shape.encoding == "utf-8-sig"
    assert result.shape.columns[0] == "Keyword"  # no BOM left in the header
    assert result.shape.mapping == {"keyword": 0, "volume": 2, "difficulty": 1, "cpc": 3, "intent": 10}
    rows = by_keyword(result)
    assert rows["french press"].intent == "commercial"
    assert rows["bodum chambord"].intent == "navigational"  # "Branded, Navigational": first known intent
    assert rows["french press ratio"].cpc == Decimal("0.2") and rows["french press ratio"].cpc_currency is None


def test_moz_volume_ranges():
    result = parse(fixture("moz.csv"))
    assert result.shape.mapping["volume"] == 1 and result.shape.mapping["difficulty"] == 2
    rows = by_keyword(result)
    assert (rows["pour over ratio"].volume, rows["pour over ratio"].volume_text) == (653, "501-850")
    assert (rows["pour over coffee"].volume, rows["pour over coffee"].volume_text) == (18667, "11.5k-30.3k")
    assert (rows["chemex vs v60"].volume, rows["chemex vs v60"].difficulty) == (5, None)


def test_european_semicolon_windows_1252_with_decimal_commas():
    result = parse(fixture("european_semicolon_cp1252.csv"))
    shape = result.shape
    assert (shape.encoding, shape.delimiter) == ("cp1252", ";")
    assert shape.mapping == {"keyword": 0, "volume": 1, "difficulty": 2, "cpc": 3, "intent": 4}
    rows = by_keyword(result)
    cafe = rows["café au lait"]
    assert (cafe.volume, cafe.volume_text, cafe.cpc, cafe.cpc_currency) == (1200, None, Decimal("0.45"), "EUR")
    assert rows["kaffeemühle test"].volume == 14800
    assert rows["crème brûlée"].intent == "informational"
    assert rows["espresso bohnen"].difficulty == 48  # "47,5" rounds half up
    assert rows["espresso bohnen"].intent == "transactional"


def test_utf16_big_endian_tab():
    data = fixture("utf16be_tab.txt")
    assert data.startswith(codecs.BOM_UTF16_BE)
    result = parse(data)
    assert result.shape.encoding == "utf-16" and result.shape.delimiter == "\t"
    rows = by_keyword(result)
    assert (rows["matcha latte"].cpc, rows["matcha latte"].cpc_currency) == (Decimal("0.80"), "USD")
    assert rows["thé vert"].intent == "informational"  # "I, C"
    assert "matcha whisk" in rows  # full-width letters folded by NFKC


def test_plain_list_one_keyword_per_line():
    shape = inspect(fixture("plain_list.txt"))
    assert shape.delimiter is None and not shape.has_header
    assert shape.mapping == {"keyword": 0, "volume": None, "difficulty": None, "cpc": None, "intent": None}
    assert shape.delimiter_label == "one keyword per line"
    result = parse(fixture("plain_list.txt"), shape)
    assert keywords(result) == ["coffee beans", "decaf coffee", "café", "espresso", "what is a flat white?",
                                "cortado vs macchiato"]
    assert [r.line for r in result.records] == [1, 4, 5, 7, 9, 11]
    # "  Coffee   Beans  ", "cafe\u0301" and "espresso" (after full-width "ｅｓｐｒｅｓｓｏ")
    assert result.duplicates == 3 and result.rejected == []
    assert result.records[0].volume is None


def test_single_column_with_a_keyword_header():
    result = parse(b"Keywords\r\ncoffee\r\ntea\r\n")
    assert result.shape.has_header and result.shape.delimiter is None
    assert keywords(result) == ["coffee", "tea"] and [r.line for r in result.records] == [2, 3]


def test_search_console_queries_export():
    result = parse(fixture("search_console_queries.csv"))
    assert result.shape.mapping["keyword"] == 0
    assert keywords(result) == ["aeropress recipe", "aeropress vs french press"]


def test_headerless_csv_maps_keyword_first_and_guesses_volume():
    result = parse(b"coffee,1200\ntea,300\nmilk,1.5K\n")
    assert not result.shape.has_header and result.shape.columns == ["Column 1", "Column 2"]
    assert result.shape.mapping["volume"] == 1
    assert [(r.keyword, r.volume) for r in result.records] == [("coffee", 1200), ("tea", 300), ("milk", 1500)]


def test_excel_sep_hint_line_is_skipped():
    result = parse(b"sep=;\r\nKeyword;Volume\r\ncoffee;1.200\r\n")
    assert result.shape.delimiter == ";" and result.shape.header_line == 2
    assert [(r.keyword, r.volume, r.line) for r in result.records] == [("coffee", 1200, 3)]


def test_utf16_without_bom_and_old_mac_line_endings():
    result = parse("Keyword\tVolume\r\ncoffee\t10\r\n".encode("utf-16-le"))
    assert result.shape.encoding == "utf-16-le" and keywords(result) == ["coffee"]
    result = parse("Keyword\tVolume\ncoffee\t10\n".encode("utf-16-be"))
    assert result.shape.encoding == "utf-16-be" and result.records[0].volume == 10
    result = parse(b"Keyword,Volume\rcoffee,1\rtea,2\r")
    assert [(r.keyword, r.line) for r in result.records] == [("coffee", 2), ("tea", 3)]


# ---------------------------------------------------------------------------------------------
# Bad files: one clear message each, nothing returned
# ---------------------------------------------------------------------------------------------

@pytest.mark.parametrize("data, words", [
    (b"PK\x03\x04\x14\x00\x06\x00\x08\x00\x00\x00!\x00" + bytes(range(256)) * 4, "Excel workbook (.xlsx)"),
    (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + bytes(512), "old Excel workbook (.xls)"),
    (b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n" + bytes(100), "PDF"),
    (b"\x1f\x8b\x08\x00" + bytes(100), "gzip"),
])
def test_known_binary_formats_are_named(data, words):
    message = error_of(inspect, data).message
    assert words in message and "CSV" in message
    assert error_of(parse, data).message == message


def test_random_binary_is_refused():
    rng = random.Random(8)
    with_nuls = bytes(rng.randrange(256) for _ in range(20_000))
    without_nuls = bytes(rng.randrange(1, 256) for _ in range(20_000))
    png = b"\x89PNG\r\n\x1a\n" + with_nuls[:500]
    for data in (with_nuls, without_nuls, png):
        assert error_of(inspect, data).message == BINARY_FILE
        assert error_of(parse, data).message == BINARY_FILE


def test_spreadsheet_filename_gives_a_specific_message():
    data = b"PK\x03\x04" + bytes(200)
    assert "spreadsheet (.numbers)" in error_of(inspect, data, filename="keywords.numbers").message


@pytest.mark.parametrize("data", [b"", codecs.BOM_UTF8, codecs.BOM_UTF16_LE])
def test_empty_file(data):
    assert error_of(inspect, data).message == "The file is empty."
    assert error_of(parse, data).message == "The file is empty."


@pytest.mark.parametrize("data", [b"   \r\n\r\n\t\n", codecs.BOM_UTF16_LE + " \r\n \r\n".encode("utf-16-le")])
def test_whitespace_only_file(data):
    message = "The file contains only spaces and blank lines; there are no keywords in it."
    assert error_of(inspect, data).message == message
    assert error_of(parse, data).message == message


def test_header_without_rows():
    error = error_of(parse, b"Keyword,Volume,CPC\r\n\r\n")
    assert error.message == "The file has a header row but no keyword rows below it."
    assert error.line == 1


def test_no_keyword_column_is_reported_in_preview_and_refused_by_parse():
    data = fixture("no_keyword_column.csv")
    shape = inspect(data)
    assert shape.mapping["keyword"] is None and shape.mapping["volume"] == 1
    assert shape.warnings == [NO_KEYWORD_COLUMN]
    assert shape.sample_rows == []
    assert error_of(parse, data, shape).message == NO_KEYWORD_COLUMN
    assert error_of(parse, data).message == NO_KEYWORD_COLUMN
    # The user picks the column in the mapping: now it imports.
    result = parse(data, shape, mapping={"keyword": "0", "volume": "1", "difficulty": "2"})
    assert keywords(result) == ["/coffee-grinders", "/espresso"] and result.records[0].volume == 1200


def test_unrecognised_header_is_not_imported_as_a_keyword():
    data = b"Phrase Text,Monthly\ncoffee,100\ntea,200\n"
    shape = inspect(data)
    assert shape.has_header and shape.warnings == [NO_KEYWORD_COLUMN]
    assert keywords(parse(data, mapping={"keyword": 0, "volume": 1})) == ["coffee", "tea"]


def test_file_over_the_limit_is_refused_before_decoding():
    big = b"\xff\xfe\x00" + b"\x00\xd8" * (25 * 1024 * 1024)  # 50 MB of broken UTF-16
    message = "The file is 50.0 MB; the limit is 20 MB. Split it into smaller files."
    assert error_of(inspect, big).message == message
    assert error_of(parse, big).message == message
    exactly = b"k\n" * (MAX_IMPORT_BYTES // 2)
    assert len(exactly) == MAX_IMPORT_BYTES
    assert inspect(exactly).row_count == MAX_IMPORT_BYTES // 2
    # What upload.stream.read(MAX_IMPORT_BYTES + 1) returns for a bigger upload: size unknown.
    assert error_of(inspect, exactly + b"k").message == \
        "The file is larger than the 20 MB limit. Split it into smaller files."


def test_read_limited_measures_or_stops_reading():
    big = io.BytesIO(b"x" * (MAX_IMPORT_BYTES + 5 * 1024 * 1024))
    assert error_of(read_limited, big).message == \
        "The file is 25.0 MB; the limit is 20 MB. Split it into smaller files."
    assert big.tell() == 0  # measured, not read

    class Endless(io.RawIOBase):
        read_bytes = 0

        def readable(self):
            return True

        def readinto(self, buffer):
            buffer[:] = b"k" * len(buffer)
            Endless.read_bytes += len(buffer)
            return len(buffer)

    assert error_of(read_limited, Endless()).message == \
        "The file is larger than the 20 MB limit. Split it into smaller files."
    assert Endless.read_bytes <= MAX_IMPORT_BYTES + 1
    assert read_limited(io.BytesIO(b"Keyword\ncoffee\n")) == b"Keyword\ncoffee\n"


def test_pasted_text_over_the_limit():
    assert "pasted text is 21.0 MB" in error_of(parse_text, "k\n" * (21 * 1024 * 1024 // 2)).message


def test_unclosed_quote_fails_the_whole_file():
    data = b'Keyword,Volume\r\ncoffee,1\r\n"tea,2\r\n' + b"milk,3\r\n" * 30_000
    error = error_of(parse, data)
    assert "Line 3 could not be read" in error.message and 'quote (")' in error.message
    # A short one swallows only the rest of the file: that row is rejected, not imported.
    result = parse(b'Keyword,Volume\r\ncoffee,1\r\n"tea,2\r\nmilk,3\r\n')
    assert keywords(result) == ["coffee"]
    assert result.rejected == [(3, 'keyword runs over several lines; check for a quote (") that is never closed')]


def test_broken_utf16_is_reported():
    lone_surrogate = b"\x00\xd8a\x00\n\x00"
    head = codecs.BOM_UTF16_LE + "Keyword\tVolume\ncoffee\t1\n".encode("utf-16-le")
    assert error_of(inspect, head + lone_surrogate).message == \
        "The file could not be read as UTF-16 with BOM text. Save it as CSV UTF-8 and try again."
    # Past the part inspect() samples: parse() finds it and still returns nothing.
    data = head + "tea\t2\n".encode("utf-16-le") * 20_000 + lone_surrogate
    shape = inspect(data)
    error = error_of(parse, data, shape)
    assert error.message.startswith("The file could not be read as UTF-16 with BOM text after line")


# ---------------------------------------------------------------------------------------------
# Rows: duplicates, rejections with line numbers, blanks
# ---------------------------------------------------------------------------------------------

def test_duplicates_and_rejected_rows_with_line_numbers():
    result = parse(fixture("duplicates_and_bad_rows.csv"))
    assert keywords(result) == ["coffee beans", "flat white", "pour over"]
    assert result.duplicates == 2
    assert result.rejected == [
        (4, "keyword is empty"),
        (5, "volume 'abc' is not a number"),
        (6, "difficulty 140 is outside 0–100"),
        (7, "keyword longer than 200 characters"),
        (11, "CPC 'free' is not a number"),
        (12, "this line repeats the header row"),
        (14, "volume -40 is negative"),
    ]
    assert result.rows == 3 + 2 + 7
    rows = by_keyword(result)
    assert rows["coffee beans"].volume == 1200  # the first occurrence wins
    flat = rows["flat white"]
    assert (flat.volume, flat.difficulty, flat.cpc, flat.intent) == (None, None, None, None)
    pour = rows["pour over"]
    assert (pour.volume, pour.difficulty, pour.cpc, pour.cpc_currency, pour.intent) == \
        (1500, 45, Decimal("0.80"), "USD", "commercial")


def test_line_numbers_count_physical_lines_across_quoted_cells_and_preamble():
    data = ('Report for example.com\n\nKeyword,Volume,Notes\ncoffee,1,"two\nlines"\ntea,x,\n').encode()
    result = parse(data)
    assert result.shape.header_line == 3
    assert [(r.keyword, r.line) for r in result.records] == [("coffee", 4)]
    assert result.rejected == [(6, "volume 'x' is not a number")]


def test_out_of_range_cells_reject_the_row():
    data = ("Keyword,Volume,KD,CPC\n"
            "a,99999999999,1,1\n"
            "b,1,-3,1\n"
            "c,1,1,-0.5\n"
            "d,1,1,1000000000\n"
            "e,1,easy,1\n"
            "f,n/a,—,N/A\n").encode()
    result = parse(data)
    assert result.rejected == [
        (2, "volume 99999999999 is too large"),
        (3, "difficulty -3 is outside 0–100"),
        (4, "CPC -0.5 is negative"),
        (5, "CPC 1000000000 is too large"),
        (6, "difficulty 'easy' is not a number"),
    ]
    assert keywords(result) == ["f"]


def test_keywords_without_words_are_rejected():
    result = parse(b"Keyword,Volume\nn/a,1\n#,3\nc#,4\n")
    assert keywords(result) == ["c#"]
    assert result.rejected == [(2, "keyword is empty"), (3, "keyword has no letters or digits")]


def test_short_rows_are_blank_not_errors():
    result = parse(b"Keyword,Volume,KD,CPC,Intent\ncoffee\ntea,10\n")
    assert [(r.keyword, r.volume, r.difficulty) for r in result.records] == [("coffee", None, None), ("tea", 10, None)]


# ---------------------------------------------------------------------------------------------
# Mapping, preview and storage
# ---------------------------------------------------------------------------------------------

def test_preview_shows_parsed_sample_rows_and_errors():
    shape = inspect(fixture("duplicates_and_bad_rows.csv"))
    preview = shape.sample_rows
    assert preview == shape.preview()
    assert preview[0] == {"line": 2, "keyword": "coffee beans", "volume": 1200, "volume_text": None,
                          "difficulty": 30, "cpc": Decimal("1.20"), "cpc_currency": None,
                          "intent": "informational", "error": None}
    assert {row["line"]: row["error"] for row in preview if row["error"]}[5] == "volume 'abc' is not a number"
    # The same sample with an edited mapping: volume not imported.
    edited = shape.preview({"keyword": 0, "difficulty": 2})
    assert all(row["volume"] is None for row in edited)
    assert len(shape.sample_cells) == len(shape.sample_lines) == 10


def test_edited_mapping_is_validated():
    data = fixture("semrush.csv")
    shape = inspect(data)
    result = parse(data, shape, mapping={"keyword": "0", "volume": "", "difficulty": None, "cpc": "5",
                                         "intent": "none"})
    assert result.records[0].volume is None and result.records[0].cpc == Decimal("1.45")
    assert result.records[0].cpc_currency == "USD"  # still from the "CPC (USD)" header
    assert "column 40" in error_of(parse, data, shape, mapping={"keyword": 39}).message
    assert error_of(parse, data, shape, mapping={"volume": 2}).message == NO_KEYWORD_COLUMN
    with pytest.raises(ValueError):
        parse(data, shape, mapping={"keyword": 0, "colour": 1})


def test_shape_survives_json_storage():
    data = fixture("keyword_planner_utf16le.csv")
    original = inspect(data)
    stored = json.loads(json.dumps(original.to_dict()))
    shape = FileShape.from_dict(stored)
    assert shape.encoding_label == "UTF-16 with BOM"
    assert shape.sample_rows == original.sample_rows  # rebuilt from the raw sample cells
    result = parse(data, stored)
    assert len(result.records) == 4 and result.duplicates == 1
    # Stored without the mapping, the mapping kept apart (JSON) and passed back in:
    rebuilt = FileShape(**{**stored, "mapping": json.loads(json.dumps(original.mapping)), "sample_rows": []})
    assert rebuilt.mapping == original.mapping
    assert len(parse(data, rebuilt, {"keyword": "0", "volume": "2"}).records) == 4


def test_limit_parses_only_the_first_rows():
    data = fixture("duplicates_and_bad_rows.csv")
    result = parse(data, inspect(data), {"keyword": 0, "volume": 1}, limit=4)
    assert keywords(result) == ["coffee beans"]
    assert result.rows == 4 and result.duplicates == 1
    assert result.rejected == [(4, "keyword is empty"), (5, "volume 'abc' is not a number")]


def test_records_can_be_made_outside_a_file():
    record = KeywordRecord(keyword="Coffee", normalized="coffee", volume=10)
    assert record.line == 0 and record.key == "coffee" and record.intent is None


def test_fields_are_the_keyword_columns():
    assert FIELDS == ("keyword", "volume", "difficulty", "cpc", "intent")


# ---------------------------------------------------------------------------------------------
# Pasted text
# ---------------------------------------------------------------------------------------------

def test_pasted_keywords_one_per_line():
    result = parse_text("coffee\n\n  Coffee \ntea, milk\r\nespresso")
    assert keywords(result) == ["coffee", "tea, milk", "espresso"]  # commas belong to the keyword
    assert result.duplicates == 1 and result.shape.source == "text"


def test_pasted_csv_with_header_and_spreadsheet_columns():
    assert [(r.keyword, r.volume) for r in parse_text("Keyword,Volume\ncoffee,\"1,200\"\n").records] == \
        [("coffee", 1200)]
    assert [(r.keyword, r.volume) for r in parse_text("coffee\t100\ntea\t200\n").records] == \
        [("coffee", 100), ("tea", 200)]


def test_pasted_nothing():
    assert error_of(parse_text, "").message == "Nothing was pasted."
    assert "only spaces and blank lines" in error_of(parse_text, " \n\t\n").message


# ---------------------------------------------------------------------------------------------
# Keyword text
# ---------------------------------------------------------------------------------------------

def test_unicode_normalisation():
    assert normalize_keyword("Café") == normalize_keyword("cafe\u0301") == normalize_keyword("CAFÉ") == "café"
    assert normalize_keyword("cafe") != normalize_keyword("café")  # accents are kept
    assert normalize_keyword("ｃｏｆｆｅｅ　ＢＥＡＮＳ") == "coffee beans"  # full-width letters and space
    assert normalize_keyword("Straße") == normalize_keyword("STRASSE") == "strasse"
    assert normalize_keyword("coffee\u00a0 \tbeans\u200b") == "coffee beans"
    assert normalize_keyword('  "Best Coffee"  ') == "best coffee"
    assert normalize_keyword("“quoted”") == "quoted"
    assert normalize_keyword("'single quoted'") == "single quoted"
    assert normalize_keyword("dogs' toys") == "dogs' toys"
    assert normalize_keyword("What is SEO?") == "what is seo"
    assert normalize_keyword("c++") == "c++" and normalize_keyword(".net core") == ".net core"


def test_clean_display_keeps_case():
    assert clean_display("  Best   Espresso\u00a0Machine ") == "Best Espresso Machine"
    assert clean_display("cafe\u0301 CRÈME") == "café CRÈME"
    assert clean_display("ＡＢＣ") == "ABC"
    assert clean_display('"What is SEO?"') == "What is SEO?"


# ---------------------------------------------------------------------------------------------
# Cells
# ---------------------------------------------------------------------------------------------

@pytest.mark.parametrize("text, expected", [
    ("1200", (1200, None)),
    ("1,200", (1200, None)),
    ("1.200", (1200, None)),
    ("1 200", (1200, None)),
    ("1\u00a0200", (1200, None)),
    ("1,234,567", (1234567, None)),
    ("1.234.567", (1234567, None)),
    ("1,200.0", (1200, None)),
    ("12%", (12, None)),
    ("1.5K", (1500, "1.5K")),
    ("1,5K", (1500, "1,5K")),
    ("2M", (2000000, "2M")),
    ("1K – 10K", (3162, "1K – 10K")),
    ("10 – 100", (32, "10 – 100")),
    ("100K – 1M", (316228, "100K – 1M")),
    ("0-10", (5, "0-10")),
    ("<10", (5, "<10")),
    ("10K+", (10000, "10K+")),
    ("", (None, None)),
    ("  ", (None, None)),
    ("-", (None, None)),
    ("n/a", (None, None)),
    (None, (None, None)),
])
def test_parse_volume(text, expected):
    assert parse_volume(text) == expected


@pytest.mark.parametrize("text, reason", [
    ("abc", "volume 'abc' is not a number"),
    ("-5", "volume -5 is negative"),
    ("1.2.3", "volume '1.2.3' is not a number"),
    ("3000000000", "volume 3000000000 is too large"),
])
def test_parse_volume_errors(text, reason):
    with pytest.raises(ValueError, match=reason):
        parse_volume(text, strict=True)
    assert parse_volume(text) == (None, text)  # lenient by default


def test_lenient_and_strict_cell_helpers():
    assert parse_difficulty("140") is None and parse_difficulty("easy") is None
    with pytest.raises(ValueError, match="difficulty 140 is outside 0–100"):
        parse_difficulty("140", strict=True)
    assert parse_cpc("free") == (None, None)
    with pytest.raises(ValueError, match="CPC 'free' is not a number"):
        parse_cpc("free", strict=True)


@pytest.mark.parametrize("text, expected", [
    ("0.5", (Decimal("0.5"), None)),
    ("$1.20", (Decimal("1.20"), "USD")),
    ("1,25 €", (Decimal("1.25"), "EUR")),
    ("€0,45", (Decimal("0.45"), "EUR")),
    ("USD 0.50", (Decimal("0.50"), "USD")),
    ("0.50 gbp", (Decimal("0.50"), "GBP")),
    ("£2", (Decimal("2"), "GBP")),
    ("US$1,200.50", (Decimal("1200.50"), "USD")),
    ("", (None, None)),
    ("-", (None, None)),
    ("$ -", (None, None)),
])
def test_parse_cpc(text, expected):
    assert parse_cpc(text) == expected


@pytest.mark.parametrize("text, expected", [("45", 45), ("45%", 45), ("45.6", 46), ("0", 0), ("100", 100),
                                            ("", None), ("n/a", None)])
def test_parse_difficulty(text, expected):
    assert parse_difficulty(text) == expected


@pytest.mark.parametrize("text, expected", [
    ("Commercial, Transactional", "commercial"),
    ("I, C", "informational"),
    ("informational", "informational"),
    ("T", "transactional"),
    ("navigational", "navigational"),
    ("Branded, Local, Navigational", "navigational"),
    ("local", None),
    ("", None),
])
def test_parse_intent(text, expected):
    assert parse_intent(text) == expected


# ---------------------------------------------------------------------------------------------
# Scale
# ---------------------------------------------------------------------------------------------

def test_one_hundred_thousand_rows():
    lines = ["Keyword,Search Volume,Keyword Difficulty,CPC (USD),Intent"]
    for i in range(100_000):
        lines.append(f"keyword number {i},{i % 5000},{i % 101},{i % 7}.25,Informational")
    lines += ["KEYWORD NUMBER 5,1,1,1,I", "Keyword Number 6,1,1,1,I", ",1,1,1,I", "bad volume,abc,1,1,I"]
    data = ("\r\n".join(lines) + "\r\n").encode()
    shape = inspect(data)
    assert shape.row_count == 100_004
    result = parse(data, shape)
    assert len(result.records) == 100_000
    assert result.duplicates == 2
    assert result.rejected == [(100_004, "keyword is empty"), (100_005, "volume 'abc' is not a number")]
    assert result.records[-1].line == 100_001 and result.records[-1].cpc == Decimal("4.25")


@pytest.mark.parametrize("header,expected", [
    ("Suchbegriff;Suchvolumen;Keyword-Schwierigkeit;CPC (EUR);Suchintention",
     {"keyword": 0, "volume": 1, "difficulty": 2, "cpc": 3, "intent": 4}),
    ("Mot-clé;Volume de recherche;Difficulté du mot-clé;Coût par clic;Intention de recherche",
     {"keyword": 0, "volume": 1, "difficulty": 2, "cpc": 3, "intent": 4}),
    ("Palabra clave;Volumen de búsqueda;Dificultad;Coste por clic;Intención",
     {"keyword": 0, "volume": 1, "difficulty": 2, "cpc": 3, "intent": 4}),
    ("Parola chiave;Volume di ricerca;Difficoltà;Costo per clic;Intento",
     {"keyword": 0, "volume": 1, "difficulty": 2, "cpc": 3, "intent": 4}),
    ("Zoekwoord;Zoekvolume;Moeilijkheid;Kosten per klik;Zoekintentie",
     {"keyword": 0, "volume": 1, "difficulty": 2, "cpc": 3, "intent": 4}),
    ("Palavra-chave;Volume de pesquisa;Dificuldade;Custo por clique;Intenção",
     {"keyword": 0, "volume": 1, "difficulty": 2, "cpc": 3, "intent": 4}),
    ("Mot cle;Volume de recherche", {"keyword": 0, "volume": 1}),  # accents dropped by the exporting tool
    # Keyword Planner in German abbreviates its volume column; the other languages spell it out.
    ("Keyword;Währung;Durchschn. Suchanfragen pro Monat;Dreimonatige Veränderung", {"keyword": 0, "volume": 2}),
    ("Keyword;Währung;Durchschnittl. Suchanfragen pro Monat", {"keyword": 0, "volume": 2}),
    ("Mot clé;Devise;Nombre moyen de recherches mensuelles", {"keyword": 0, "volume": 2}),
    ("Palabra clave;Moneda;Promedio de búsquedas mensuales", {"keyword": 0, "volume": 2}),
    ("Zoekwoord;Valuta;Gem. zoekopdrachten per maand", {"keyword": 0, "volume": 2}),
    # Search Console's query export names its keyword column "Top queries" in each language.
    ("Häufigste Suchanfragen;Klicks;Impressionen", {"keyword": 0}),
    ("Requêtes les plus fréquentes;Clics;Impressions", {"keyword": 0}),
    ("Consultas principales;Clics;Impresiones", {"keyword": 0}),
    ("Query più frequenti;Clic;Impressioni", {"keyword": 0}),
    ("Populairste zoekopdrachten;Klikken;Vertoningen", {"keyword": 0}),
    ("Principais consultas;Cliques;Impressões", {"keyword": 0}),
])
def test_non_english_export_headers_are_recognised(header, expected):
    sample = {"keyword": "kaffeemaschine", "volume": "12000", "difficulty": "45", "cpc": "0,80", "intent": "informational"}
    by_column = {column: sample[field] for field, column in expected.items()}
    row = ";".join(by_column.get(i, "7") for i in range(len(header.split(";"))))
    data = f"{header}\n{row}\n".encode("utf-8")
    shape = inspect(data, filename="export.csv")
    assert {field: shape.mapping[field] for field in expected} == expected
    record = parse(data, shape).records[0]
    assert record.keyword == "kaffeemaschine"
    if "volume" in expected:
        assert record.volume == 12000


def test_unmapped_column_that_looks_like_volume_is_warned_about():
    shape = inspect(b"Keyword,Monthly demand,KD\ncoffee grinder,12000,40\nfrench press,5400,33\n")
    assert shape.mapping["volume"] is None
    assert shape.unmapped_volume_warnings() == [
        "Column “Monthly demand” holds numbers that look like search volumes but is not imported. "
        "If it is the search volume, choose it for Search volume."]
    assert shape.unmapped_volume_warnings({**shape.mapping, "volume": 1}) == []


def test_small_unmapped_numbers_without_a_volume_name_are_not_called_volume():
    shape = inspect(b"Keyword,Position,Volume\ncoffee grinder,3,12000\nfrench press,7,5400\n")
    assert shape.unmapped_volume_warnings({"keyword": 0, "volume": None}) == [
        "Column “Volume” holds numbers that look like search volumes but is not imported. "
        "If it is the search volume, choose it for Search volume."]
    assert shape.unmapped_volume_warnings() == []  # Position (1-100) is not a volume
