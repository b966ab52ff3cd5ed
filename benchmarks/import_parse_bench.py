"""Time to parse 100,000 keyword rows (inspect + parse, no database).

Run from the repository root:  .venv/bin/python benchmarks/import_parse_bench.py [rows]

Two shapes: a Semrush-like UTF-8 CSV and a Keyword Planner-like UTF-16 tab file with title lines
and range volumes ("1K – 10K"). Prints the best of three runs for each.
"""

from __future__ import annotations

import codecs
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from app.services.planner.parsing import inspect, parse  # noqa: E402

WORDS = ("coffee", "espresso", "grinder", "beans", "best", "cheap", "how to", "dog", "harness", "yoga", "mat",
         "tomato", "seeds", "review", "near me", "vs", "ideas", "for beginners", "uk", "2024")
INTENTS = ("Informational", "Commercial", "Transactional", "Navigational", "Commercial, Transactional")
RANGES = ("10 – 100", "100 – 1K", "1K – 10K", "10K – 100K")


def keyword(i: int) -> str:
    return f"{WORDS[i % 20]} {WORDS[(i // 20) % 20]} {WORDS[(i // 400) % 20]} {i}"


def semrush(rows: int) -> bytes:
    lines = ["Keyword,Intent,Volume,Keyword Difficulty,CPC (USD),SERP Features"]
    for i in range(rows):
        lines.append(f'{keyword(i)},"{INTENTS[i % 5]}",{(i * 37) % 90000},{i % 101},{i % 9}.{i % 100:02d},'
                     '"Reviews, Image pack"')
    return ("\r\n".join(lines) + "\r\n").encode("utf-8")


def keyword_planner(rows: int) -> bytes:
    lines = ["Keyword Stats 2024-01-01 at 10_00_00", "January 1, 2023 - December 31, 2023",
             "Keyword\tCurrency\tAvg. monthly searches\tThree month change\tYoY change\tCompetition\t"
             "Competition (indexed value)\tTop of page bid (low range)\tTop of page bid (high range)"]
    for i in range(rows):
        lines.append(f"{keyword(i)}\tUSD\t{RANGES[i % 4]}\t0%\t-10%\tLow\t{i % 101}\t0.{i % 90 + 10}\t1.{i % 90 + 10}")
    return codecs.BOM_UTF16_LE + ("\r\n".join(lines) + "\r\n").encode("utf-16-le")


def bench(name: str, data: bytes, rows: int) -> None:
    best = None
    for _ in range(3):
        start = time.perf_counter()
        result = parse(data, inspect(data))
        elapsed = time.perf_counter() - start
        best = elapsed if best is None else min(best, elapsed)
    assert len(result.records) == rows, (len(result.records), result.rejected[:3])
    print(f"{name:<38} {rows:>7,} rows  {len(data) / 1024 / 1024:5.1f} MB  {best:6.2f} s "
          f"({rows / best:,.0f} rows/s)")


def main() -> None:
    rows = int(sys.argv[1]) if len(sys.argv) > 1 else 100_000
    bench("Semrush-like UTF-8 CSV", semrush(rows), rows)
    bench("Keyword Planner-like UTF-16 TSV", keyword_planner(rows), rows)


if __name__ == "__main__":
    main()
