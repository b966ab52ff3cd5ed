"""Bulk insert of parsed keywords with PostgreSQL COPY, inside the caller's transaction.

Records can be written while the file is still being parsed (``keyword_batch`` yields a writer): the
database adds the rows and their index entries on its own core while Python reads the next ones.
"""

from __future__ import annotations

from contextlib import contextmanager
from typing import Iterator

from psycopg import errors
from sqlalchemy import exists, select, text

from app import page_cache
from app.extensions import db
from app.models import Keyword, Sector
from app.models.planner import keyword_search_pending

_COPY_COLUMNS = ("keyword", "normalized", "volume", "volume_text", "difficulty", "cpc", "cpc_currency", "intent")
_STAGING = ("CREATE TEMP TABLE IF NOT EXISTS keyword_copy (position int, keyword varchar(200), "
            "normalized varchar(200), volume int, volume_text varchar(40), difficulty smallint, "
            "cpc numeric(10, 2), cpc_currency varchar(8), intent varchar(20)) ON COMMIT DROP")
# Above this many new search entries the pass that adds them merges the index's pending list itself.
MERGE_SEARCH_INDEX_ABOVE = 10_000
PROGRESS_EVERY = 20_000


class ConcurrentInsert(Exception):
    """Someone added keywords to the sector while a COPY into it, as an empty sector, was running."""


class KeywordBatch:
    """Takes records one by one (``write``); ``added`` is known once the batch is closed.

    Rows are written as COPY text lines built here (the fixed columns formatted once), handed over in
    chunks: formatting each value through the driver's adapters cost as much as parsing the file.
    """

    CHUNK = 500

    def __init__(self, head: tuple, progress=None, total: int = 0) -> None:
        self.count = 0
        self.added = 0
        self._head = "".join(_text(value) + "\t" for value in head)
        self._lines: list[str] = []
        self._copy = None
        self._progress = progress
        self._total = max(total, 1)

    def write(self, record) -> None:
        self._lines.append(self._head + _line(record))
        self.count += 1
        if len(self._lines) >= self.CHUNK:
            self.flush()
            if self._progress and self.count % PROGRESS_EVERY == 0:
                self._progress(min(self.count / self._total, 0.95))

    def flush(self) -> None:
        if self._lines:
            self._copy.write("".join(self._lines))
            self._lines.clear()


def sector_is_empty(sector_id: int) -> bool:
    return not db.session.scalar(select(exists().where(Keyword.sector_id == sector_id)))


@contextmanager
def keyword_batch(sector: Sector, account_id: int, *, source: str, direct: bool, progress=None,
                  total: int = 0, search_later: bool = False) -> Iterator[KeywordBatch]:
    """A batch of records written with COPY; the records must be unique among themselves.

    ``direct``: COPY straight into keywords, for a sector that was empty (no staging table, no conflict
    check). If a concurrent insert got there first this raises ConcurrentInsert and leaves nothing
    behind; write the records again with ``direct=False``. Otherwise the rows go into a temporary
    table and then one INSERT … ON CONFLICT DO NOTHING (keywords already in the sector are skipped).
    Runs on the session's own connection, so it is part of the caller's transaction. ``search_later``
    leaves the rows' search entries out and marks the sector instead (the rows' transaction commits the
    mark with them); the caller adds the entries after committing (index_pending_search). Searches of the
    sector are exact meanwhile.
    """
    connection = db.session.connection()
    page_cache.mark_written(connection)  # COPY goes around SQLAlchemy: stored planner pages must not outlive it
    cursor = connection.connection.driver_connection.cursor()
    try:
        if search_later:
            mark_search_pending(cursor, sector.id)
        if direct:
            batch = KeywordBatch((account_id, sector.site_id, sector.id, "active", source), progress, total)
            savepoint = db.session.begin_nested()
            try:
                with cursor.copy("COPY keywords (account_id, site_id, sector_id, status, source, "
                                 + ", ".join(_COPY_COLUMNS) + ") FROM STDIN") as copy:
                    batch._copy = copy
                    yield batch
                    batch.flush()
            except errors.UniqueViolation:
                savepoint.rollback()
                raise ConcurrentInsert from None
            savepoint.commit()
            batch.added = batch.count
        else:
            batch = _PositionedBatch((), progress, total)
            cursor.execute(_STAGING)
            cursor.execute("TRUNCATE keyword_copy")
            with cursor.copy("COPY keyword_copy (position, " + ", ".join(_COPY_COLUMNS) + ") FROM STDIN") as copy:
                batch._copy = copy
                yield batch
                batch.flush()
            cursor.execute(
                "INSERT INTO keywords (account_id, site_id, sector_id, status, source, " + ", ".join(_COPY_COLUMNS)
                + ") SELECT %s, %s, %s, 'active', %s, " + ", ".join(_COPY_COLUMNS)
                + " FROM keyword_copy ORDER BY position ON CONFLICT (sector_id, normalized) DO NOTHING",
                (account_id, sector.site_id, sector.id, source))
            batch.added = max(cursor.rowcount, 0)
    finally:
        cursor.close()
    if progress:
        progress(1.0)


class _PositionedBatch(KeywordBatch):
    """Rows for the staging table carry their position, so ids follow the file's order."""

    def write(self, record) -> None:
        self._lines.append(f"{self.count}\t{_line(record)}")
        self.count += 1
        if len(self._lines) >= self.CHUNK:
            self.flush()
            if self._progress and self.count % PROGRESS_EVERY == 0:
                self._progress(min(0.8 * self.count / self._total, 0.8))


_SPECIAL = str.maketrans({"\\": "\\\\", "\t": "\\t", "\n": "\\n", "\r": "\\r"})


_NULL = "\\N"


def _text(value) -> str:
    """One value in COPY's text format: \\N for NULL; backslash, tab and line breaks escaped."""
    if value is None:
        return _NULL
    value = str(value)
    if "\\" in value or "\t" in value or "\n" in value or "\r" in value:
        return value.translate(_SPECIAL)
    return value


def _line(record) -> str:
    """The record's columns (_COPY_COLUMNS) as one COPY text line, cut to the columns' lengths."""
    keyword, normalized, volume_text = record.keyword[:200], record.normalized[:200], record.volume_text
    volume, difficulty, cpc, currency = record.volume, record.difficulty, record.cpc, record.cpc_currency
    volume_text, currency = volume_text[:40] if volume_text else None, currency[:8] if currency else None
    texts = f"{keyword}{normalized}{volume_text or ''}{currency or ''}{record.intent or ''}"
    if "\\" in texts or "\t" in texts or "\n" in texts or "\r" in texts:
        keyword, normalized, volume_text, currency = map(_text, (keyword, normalized, volume_text, currency))
    return "\t".join((keyword, normalized, _NULL if volume is None else str(volume), volume_text or _NULL,
                      _NULL if difficulty is None else str(difficulty), _NULL if cpc is None else str(cpc),
                      currency or _NULL, record.intent or _NULL)) + "\n"


def mark_search_pending(cursor, sector_id: int) -> None:
    """This transaction's keyword inserts skip their search entries; the sector is marked until they exist.

    The mark is an upsert so it locks an existing mark row: index_pending_search of an earlier import,
    removing that mark, waits for this transaction and then sees its rows.
    """
    cursor.execute("SET LOCAL igny8.search_later = 'on'")
    cursor.execute("INSERT INTO keyword_search_pending (sector_id) VALUES (%s) "
                   "ON CONFLICT (sector_id) DO UPDATE SET marked_at = now()", (sector_id,))


def search_pending(sector_id: int) -> bool:
    """Whether some keywords of the sector may still lack their search entries (an import just finished)."""
    return db.session.execute(select(keyword_search_pending.c.sector_id)
                              .where(keyword_search_pending.c.sector_id == sector_id)).first() is not None


def index_pending_search(sector_id: int) -> int:
    """Add the search entries an import left out, in one pass, and unmark the sector; the caller commits.

    Returns how many entries were added. The mark is removed first: an import into the same sector that
    commits meanwhile holds it locked, so this waits for it and then adds its rows too.
    """
    marked = db.session.execute(text("DELETE FROM keyword_search_pending WHERE sector_id = :s RETURNING 1"),
                                {"s": sector_id}).first()
    if marked is None:
        return 0
    added = db.session.execute(text(
        "INSERT INTO keyword_search (keyword_id, sector_id, normalized, difficulty, cpc) "
        "SELECT k.id, k.sector_id, k.normalized, k.difficulty, k.cpc FROM keywords k "
        "WHERE k.sector_id = :s AND NOT EXISTS (SELECT 1 FROM keyword_search t WHERE t.keyword_id = k.id) "
        "ON CONFLICT (keyword_id) DO NOTHING"), {"s": sector_id}).rowcount
    if added > MERGE_SEARCH_INDEX_ABOVE:
        merge_search_index()
    return added


def index_stale_search(older_than_seconds: int = 60) -> int:
    """The minute tick: sectors whose import committed but never added its search entries (its worker
    died in between) get them now. Returns how many sectors were done."""
    stale = list(db.session.scalars(select(keyword_search_pending.c.sector_id).where(
        keyword_search_pending.c.marked_at < text(f"now() - interval '{int(older_than_seconds)} seconds'"))))
    for sector_id in stale:
        index_pending_search(sector_id)
        db.session.commit()
    return len(stale)


def analyze_search_entries() -> None:
    """Fresh planner statistics for keyword_search after a large pass (its own short transaction).

    The keyword table's difficulty and CPC sorts walk its indexes only when the planner knows how many
    entries a sector has; autovacuum would refresh them too, but only some time later. Anyone but the
    table's owner gets a warning from PostgreSQL and nothing else."""
    db.session.execute(text("ANALYZE keyword_search"))
    db.session.commit()


def merge_search_index() -> None:
    """Merge the trigram index's pending list (where inserts wait, up to 64 MB) into the index.

    One merge of a whole import's entries is several times cheaper than the many small merges the
    default 4 MB list makes. Only the index owner may ask for it; anyone else leaves it to autovacuum
    (searches stay correct meanwhile, just a little slower).
    """
    savepoint = db.session.begin_nested()
    try:
        db.session.execute(text("SET LOCAL work_mem = '64MB'"))
        db.session.execute(text("SELECT gin_clean_pending_list('ix_keyword_search_trgm'::regclass)"))
    except Exception:  # noqa: BLE001 - not the owner: autovacuum merges it later
        savepoint.rollback()
        return
    savepoint.commit()
