"""The one scheduler process: `python -m workers.scheduler`.

Each tick claims (task, slot) rows in the database, so a second scheduler or a
repeated tick never enqueues a slot twice; RQ job ids are unique per slot too.
"""

from __future__ import annotations

import logging
import os
import signal
import socket
import time
from datetime import datetime, timezone

from app import create_app
from app.queue import get_queue
from workers.recurring import RECURRING, claim, slot_for

log = logging.getLogger("igny8.scheduler")
LEADER_KEY = "igny8:scheduler:leader"


def tick(now: datetime | None = None) -> list[str]:
    """Enqueue every recurring task whose current slot nobody has claimed yet."""
    now = now or datetime.now(timezone.utc)
    enqueued = []
    for task, (interval, _function) in RECURRING.items():
        slot = slot_for(interval, now)
        if claim(task, slot):
            get_queue().enqueue_call("workers.tasks.run_recurring", args=(task,),
                                     job_id=f"recurring-{task}-{slot.replace(':', '')}",
                                     result_ttl=600, failure_ttl=86400, timeout=600)
            enqueued.append(task)
    return enqueued


def main() -> None:
    """Tick every few seconds while holding the leader lock in Redis."""
    logging.basicConfig(level=logging.INFO, format="%(asctime)s scheduler %(message)s")
    app = create_app()
    # A supervisor that restarts this process passes the same id, so the new process takes the lead at once
    # instead of waiting for the dead one's lock to lapse.
    me = os.environ.get("IGNY8_SCHEDULER_ID") or f"{socket.gethostname()}:{os.getpid()}"
    running = True

    def stop(*_):
        nonlocal running
        running = False

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    with app.app_context():
        redis = app.extensions["redis"]
        while running:
            # Only one scheduler ticks at a time; a standby takes over when the lock lapses.
            if redis.set(LEADER_KEY, me, nx=True, ex=30) or redis.get(LEADER_KEY) == me.encode():
                redis.expire(LEADER_KEY, 30)
                for task in tick():
                    log.info("enqueued %s", task)
            time.sleep(5)
        if redis.get(LEADER_KEY) == me.encode():
            redis.delete(LEADER_KEY)


if __name__ == "__main__":
    main()
