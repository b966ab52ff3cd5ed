"""Redis connection and RQ queues, kept in app.extensions."""

from __future__ import annotations

from flask import Flask, current_app
from redis import Redis
from rq import Queue


def init_queue(app: Flask) -> None:
    """Open the Redis connection lazily and name the queues."""
    connection = Redis.from_url(app.config["REDIS_URL"])
    app.extensions["redis"] = connection
    app.extensions["rq_queues"] = {
        name: Queue(name, connection=connection) for name in app.config["RQ_QUEUES"]
    }


def redis_connection() -> Redis:
    """The app's Redis connection."""
    return current_app.extensions["redis"]


def get_queue(name: str = "default") -> Queue:
    """One of the app's RQ queues."""
    return current_app.extensions["rq_queues"][name]
