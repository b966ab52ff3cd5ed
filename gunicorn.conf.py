"""Production web server settings: `gunicorn -c gunicorn.conf.py wsgi:app`.

Pre-forked worker processes, two per CPU core by default, so pages are served in parallel rather than
one Python interpreter at a time; each worker runs a few threads for requests that wait on the database.
Override with WEB_WORKERS, WEB_THREADS and BIND. DATABASE_SESSION_OPTIONS (read by app/config.py) adds
PostgreSQL settings to the connections of the process it is set for, e.g. "-c max_parallel_workers_per_gather=0" to turn
parallel query off; on the shared 2-core machine that was no faster at 16 clients and slower at 1, so the
server's default stays.
"""

import multiprocessing
import os

bind = os.environ.get("BIND", "127.0.0.1:8000")
workers = int(os.environ.get("WEB_WORKERS", multiprocessing.cpu_count() * 2))
threads = int(os.environ.get("WEB_THREADS", 2))
worker_class = "gthread"
# Workers are started after the app is imported once, so they share its memory pages (copy on write).
preload_app = True
timeout = 60
graceful_timeout = 30
keepalive = 5
max_requests = 2000
max_requests_jitter = 200
accesslog = os.environ.get("ACCESS_LOG", "-") or None
