"""Start an RQ worker for IGNY8: `python -m workers.worker`."""

from __future__ import annotations

import sys

from rq import SimpleWorker, Worker

from app import create_app
from workers.tasks import use_app


def main() -> None:
    """Listen on the configured queues until stopped."""
    app = create_app()
    use_app(app)
    with app.app_context():
        connection = app.extensions["redis"]
        queues = list(app.extensions["rq_queues"].values())
        # SQLite (laptop mode) keeps the work in-process; PostgreSQL deployments fork per job.
        simple = app.config["SQLALCHEMY_DATABASE_URI"].startswith("sqlite") or "--simple" in sys.argv
        worker_class = SimpleWorker if simple else Worker
        worker = worker_class(queues, connection=connection)
    worker.work(with_scheduler=False, burst="--burst" in sys.argv)


if __name__ == "__main__":
    main()
