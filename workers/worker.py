"""Start an RQ worker for IGNY8: `python -m workers.worker` (`--simple` runs jobs in-process, `--burst`
stops when the queues are empty)."""

from __future__ import annotations

import ctypes
import gc
import os
import signal
import sys

from rq import SimpleWorker, Worker
from sqlalchemy.orm import configure_mappers

from app import create_app
from workers.tasks import use_app

PR_SET_PDEATHSIG = 1  # linux/prctl.h


def _die_with_parent(parent_pid: int) -> None:
    """Ask the kernel to SIGKILL this process when its parent (the worker) dies, however it dies."""
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
    except (OSError, AttributeError):  # not Linux: the worker's own shutdown still kills the horse
        return
    if os.getppid() != parent_pid:  # the worker died before the request took effect
        os._exit(1)


class HorseBoundWorker(Worker):
    """RQ's forking worker, whose work horse never outlives it.

    RQ puts the horse in a process group of its own (so a terminal's Ctrl-C reaches only the
    worker), which means stopping the worker's group leaves the horse running. The horse here dies
    with the worker: on a cold shutdown RQ kills it, and if the worker is killed outright the
    kernel does (PR_SET_PDEATHSIG). An interrupted job is then failed and refunded by the reaper.
    """

    def main_work_horse(self, job, queue):
        _die_with_parent(self.pid)
        super().main_work_horse(job, queue)


def freeze_startup_heap() -> None:
    """Set what start-up made (modules, the app, the TLS context) aside from the garbage collector.

    A full collection walks every tracked object; over the app's few hundred thousand start-up objects that
    took 0.2-0.5 s, paid inside whichever job tripped it. Frozen objects are never walked again, and forked
    work horses leave their pages shared instead of touching them.
    """
    from app.services.ai.providers.openai_compatible import tls_context

    tls_context()  # made once here, shared by every work horse, instead of once per job
    gc.collect()
    gc.freeze()


def main() -> None:
    """Listen on the configured queues until stopped."""
    app = create_app()
    use_app(app)
    with app.app_context():
        connection = app.extensions["redis"]
        queues = list(app.extensions["rq_queues"].values())
        worker_class = SimpleWorker if "--simple" in sys.argv else HorseBoundWorker
        worker = worker_class(queues, connection=connection)
    configure_mappers()  # once here, not again in every forked work horse
    freeze_startup_heap()
    worker.work(with_scheduler=False, burst="--burst" in sys.argv)


if __name__ == "__main__":
    main()
