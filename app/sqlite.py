"""Make the embedded SQLite database fit for a web process and a worker writing at once."""

from __future__ import annotations

from flask import Flask
from sqlalchemy import event


def configure_sqlite(app: Flask) -> None:
    """WAL journal, a busy timeout and enforced foreign keys on every connection."""
    from app.extensions import db

    with app.app_context():
        engine = db.engine

        @event.listens_for(engine, "connect")
        def _pragmas(dbapi_connection, _record):
            cursor = dbapi_connection.cursor()
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA busy_timeout=15000")
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.close()
