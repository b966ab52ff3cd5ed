"""Bulk insert of parsed keywords with PostgreSQL COPY, inside the caller's transaction."""

from __future__ import annotations

from psycopg import errors

from app.extensions import db
from app.models import Sector

_COPY_COLUMNS = ("keyword", "normalized", "volume", "volume_text", "difficulty", "cpc", "cpc_currency", "intent")


def copy_records(sector: Sector, account_id: int, records: list, *, source: str, progress=None) -> None:
    """PostgreSQL: COPY the rows into a temporary table, then one INSERT … ON CONFLICT DO NOTHING.

    Runs on the session's own connection, so it is part of the caller's transaction.
    """
    cursor = db.session.connection().connection.driver_connection.cursor()
    try:
        cursor.execute("CREATE TEMP TABLE IF NOT EXISTS keyword_copy (position int, keyword varchar(200), "
                       "normalized varchar(200), volume int, volume_text varchar(40), difficulty smallint, "
                       "cpc numeric(10, 2), cpc_currency varchar(8), intent varchar(20)) ON COMMIT DROP")
        cursor.execute("TRUNCATE keyword_copy")
        total = len(records) or 1
        with cursor.copy("COPY keyword_copy (position, " + ", ".join(_COPY_COLUMNS) + ") FROM STDIN") as copy:
            for position, record in enumerate(records):
                copy.write_row((position, *_row(record)))
                if progress and position % 20_000 == 0:
                    progress(0.8 * position / total)
        cursor.execute(
            "INSERT INTO keywords (account_id, site_id, sector_id, status, source, " + ", ".join(_COPY_COLUMNS)
            + ") SELECT %s, %s, %s, 'active', %s, " + ", ".join(_COPY_COLUMNS)
            + " FROM keyword_copy ORDER BY position ON CONFLICT (sector_id, normalized) DO NOTHING",
            (account_id, sector.site_id, sector.id, source))
        if progress:
            progress(1.0)
    finally:
        cursor.close()


def _row(record) -> tuple:
    return (record.keyword[:200], record.normalized[:200], record.volume,
            (record.volume_text or None) and record.volume_text[:40], record.difficulty, record.cpc,
            (record.cpc_currency or None) and record.cpc_currency[:8], record.intent)


def copy_into_empty_sector(sector: Sector, account_id: int, records: list, *, source: str, progress=None) -> bool:
    """COPY straight into keywords when the sector was empty: no staging table, no conflict check.

    The records are unique within the file already. Returns False (and leaves nothing behind) when a
    concurrent insert got there first, so the caller falls back to copy_records.
    """
    savepoint = db.session.begin_nested()
    cursor = db.session.connection().connection.driver_connection.cursor()
    total = len(records) or 1
    try:
        with cursor.copy("COPY keywords (account_id, site_id, sector_id, status, source, "
                         + ", ".join(_COPY_COLUMNS) + ") FROM STDIN") as copy:
            head = (account_id, sector.site_id, sector.id, "active", source)
            for position, record in enumerate(records):
                copy.write_row(head + _row(record))
                if progress and position % 20_000 == 0:
                    progress(position / total)
    except errors.UniqueViolation:
        savepoint.rollback()
        return False
    finally:
        cursor.close()
    savepoint.commit()
    if progress:
        progress(1.0)
    return True
