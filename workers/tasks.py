"""Thin RQ entry points: push an app context and call a service with ids only."""

from __future__ import annotations

import os

from flask import Flask

_app: Flask | None = None
_app_pid: int | None = None


def use_app(app: Flask) -> None:
    """Run jobs in this app (the worker process and tests set it)."""
    global _app, _app_pid
    _app, _app_pid = app, os.getpid()


def get_app() -> Flask:
    """The worker's app; a forked work-horse gets fresh database connections."""
    global _app, _app_pid
    if _app is None:
        from app import create_app

        use_app(create_app())
    elif _app_pid != os.getpid():
        from app.extensions import db

        with _app.app_context():
            db.engine.dispose(close=False)
        _app_pid = os.getpid()
    return _app


def run_job(job_id: int) -> None:
    """Run one recorded job."""
    from app.services.jobs import execute_job

    with get_app().app_context():
        execute_job(job_id)


def run_recurring(task: str) -> None:
    """Run one slot of a recurring task."""
    from workers.recurring import run_task

    with get_app().app_context():
        run_task(task)


def run_automation(run_id: int) -> None:
    """Advance one automation run."""
    from app.services.automation.runner import step

    with get_app().app_context():
        step(run_id)
