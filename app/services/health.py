"""System health: can the app reach its database and Redis?"""

from __future__ import annotations

from sqlalchemy import text

from app.extensions import db
from app.queue import redis_connection


def health_report() -> dict:
    """Each component's state and an overall flag."""
    report: dict = {}
    try:
        db.session.execute(text("SELECT 1"))
        report["database"] = "ok"
    except Exception as exc:  # noqa: BLE001 - reported, not raised
        report["database"] = f"error: {type(exc).__name__}"
    try:
        redis_connection().ping()
        report["redis"] = "ok"
    except Exception as exc:  # noqa: BLE001
        report["redis"] = f"error: {type(exc).__name__}"
    report["ok"] = all(value == "ok" for value in report.values())
    return report
