"""Production web server settings: `gunicorn -c gunicorn.conf.py wsgi:app`.

Pre-forked worker processes, two per CPU core by default, so pages are served in parallel rather than
one Python interpreter at a time; each worker runs a few threads for requests that wait on the database.
Override with WEB_WORKERS, WEB_THREADS and BIND.
"""

import multiprocessing
import os

# Web requests are short and many at once: PostgreSQL's parallel query (two more processes per slow query)
# only adds work on a machine whose cores are already busy with other requests. Read by app/config.py;
# workers and the scheduler keep the server's default.
os.environ.setdefault("DATABASE_SESSION_OPTIONS", "-c max_parallel_workers_per_gather=0")

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
