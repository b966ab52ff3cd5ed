"""Rendered parts of the planner's list pages, shared by everyone in an account who would see the same.

The keyword, cluster and idea lists of a large sector are built from tens of thousands of rows; most
loads of them repeat one of a few views (a filter, a sort, a page) of data that has not changed since
the last load. A part is rendered once, stored in Redis and served again until the data under it changes.

Exactness comes from the account's *data version*, not from a timer:

- Every statement sent through SQLAlchemy that writes (anything but SELECT / EXPLAIN / SHOW / SET) and
  names one of the ``WATCHED`` tables marks its connection with the account bound at that moment
  (``tenancy``), or with "every account" when none is bound (operator, scheduler, sign-up, migrations
  run through the app). The few writes that go around SQLAlchemy (COPY) call ``mark_written``.
- When such a transaction has committed and its connection goes back to the pool (or begins its next
  transaction), each marked account gets a new random version (Redis). A rollback forgets the marks.
- A part is stored with the account's version and the all-accounts version read *before* it was
  rendered, and served only while both are still current, so a part rendered from data that changed
  meanwhile is never served. Versions are random tokens, never counters, so a Redis that lost its keys
  cannot bring an old part back.
- While a part renders, every table its queries read is checked against ``WATCHED``; a part that read
  anything else is not stored (and in testing the render fails), so a new query on a page cannot be
  cached without its table being watched.

Per-person values never enter a stored part: the CSRF token and one-time submit tokens render as
placeholders and are filled in for each request, as is the page's own address (`here()`), so a part
such as the header's site switcher is one copy for every page. The key also holds the person's role,
their site grants, the active site and sector, and the page's query string. A part lives at most ``TTL`` seconds,
a bound on staleness only for writes made outside the app (psql by hand) or lost with a killed process
between commit and version change.
"""

from __future__ import annotations

import hashlib
import logging
import re
import secrets
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Callable, Iterator

from flask import Flask, current_app, g, has_app_context, render_template, request
from markupsafe import Markup, escape
from redis.exceptions import RedisError
from sqlalchemy import event
from sqlalchemy.engine import Engine
from sqlalchemy.pool import Pool

from app import tenancy

log = logging.getLogger(__name__)

# Tables whose rows the cached parts show. Writing any of them gives the writer's account a new version.
WATCHED = frozenset({
    "sites", "sectors", "keywords", "keyword_search", "keyword_search_pending", "clusters", "ideas", "tasks",
    "keyword_imports",
})
TTL = 300
ALL = "*"
_DIRTY, _COMMITTED, _REDIS = "igny8_page_cache_dirty", "igny8_page_cache_committed", "igny8_page_cache_redis"
_READS = ("SELECT", "EXPLAI", "SHOW", "SET ", "BEGIN", "SAVEPO", "RELEAS", "ROLLBA", "COMMIT")
_WATCHED_RE = re.compile(r"\b(" + "|".join(sorted(WATCHED)) + r")\b", re.IGNORECASE)
_WRITE_VERB_RE = re.compile(r"\b(INSERT|UPDATE|DELETE)\b", re.IGNORECASE)
_READ_TABLES_RE = re.compile(r"\b(?:FROM|JOIN)\s+\"?([a-z_][a-z0-9_]*)", re.IGNORECASE)
CSRF_PLACEHOLDER = "\x1bcsrf-token\x1b"
SUBMIT_PLACEHOLDER = "\x1bsubmit-token\x1b"
PATH_PLACEHOLDER = "\x1bfull-path\x1b"  # the request's path and query string (`here()` in templates)


class UnwatchedRead(RuntimeError):
    """A cached part read a table whose writes do not change the account's version."""


class _Render:
    def __init__(self) -> None:
        self.unwatched: set[str] = set()


_rendering: ContextVar[_Render | None] = ContextVar("igny8_page_cache_render", default=None)


# --- Marking writes -----------------------------------------------------------------------------------------

def _writer() -> str:
    scope = tenancy.current_scope()
    if scope.all_accounts or scope.account_id is None:
        return ALL
    return str(scope.account_id)


def _mark(info: dict) -> None:
    if not has_app_context():
        return  # no app, no Redis of its pages (a bare engine: benchmarks, migrations run by Alembic alone)
    info.setdefault(_DIRTY, set()).add(_writer())
    info[_REDIS] = current_app.extensions["redis"]


def mark_written(connection) -> None:
    """Record a write made around SQLAlchemy (COPY on the raw cursor) on this SQLAlchemy connection."""
    _mark(connection.info)


def _before_cursor_execute(conn, cursor, statement, parameters, context, executemany) -> None:
    head = statement.lstrip()[:6].upper()
    reads = head.startswith(_READS) or (head.startswith("WITH") and not _WRITE_VERB_RE.search(statement))
    if reads:
        render = _rendering.get()
        if render is not None and head.startswith(("SELECT", "WITH")):
            for table in _READ_TABLES_RE.findall(statement):
                table = table.lower()
                if table not in WATCHED and not table.startswith("pg_"):
                    render.unwatched.add(table)
        return
    if _WATCHED_RE.search(statement):
        _mark(conn.info)
        if context is not None and context.execution_options.get("isolation_level") == "AUTOCOMMIT":
            _on_commit(conn)  # no COMMIT will follow: the statement commits itself


def _on_commit(conn) -> None:
    dirty = conn.info.pop(_DIRTY, None)
    if dirty:
        conn.info.setdefault(_COMMITTED, set()).update(dirty)


def _on_rollback(conn) -> None:
    conn.info.pop(_DIRTY, None)


def _on_begin(conn) -> None:
    """A connection kept after a commit (not returned to the pool) changes versions when it goes on."""
    committed = conn.info.pop(_COMMITTED, None)
    redis = conn.info.get(_REDIS)
    if committed and redis is not None:
        bump(redis, committed)


def _on_checkin(dbapi_connection, connection_record) -> None:
    if connection_record is None:
        return
    info = connection_record.info
    committed = info.pop(_COMMITTED, None)
    info.pop(_DIRTY, None)  # not committed: rolled back when the pool reset it
    redis = info.pop(_REDIS, None)
    if committed and redis is not None:
        bump(redis, committed)


def bump(redis, accounts) -> None:
    """Give these accounts (ids as text, or "*" for every account) a new data version.

    Runs after the commit: an unreachable Redis is logged, not raised (the write stands; a part stored
    before it is at most TTL seconds old, and a Redis that restarts empty holds no parts at all)."""
    token = secrets.token_hex(8)
    try:
        pipe = redis.pipeline(transaction=False)
        for account in accounts:
            pipe.set(f"pc:v:{account}", token, ex=TTL * 4)
        pipe.execute()
    except RedisError:
        log.warning("page cache: could not change the data version of %s", sorted(accounts), exc_info=True)


def _lookup(redis, account_id: int, key: str) -> tuple[bytes, bytes | None]:
    """The account's and the all-accounts version, and the part stored under `key` if it was made under
    exactly those versions (one round trip)."""
    version_keys = [f"pc:v:{account_id}", f"pc:v:{ALL}"]
    pipe = redis.pipeline(transaction=False)
    pipe.mget(version_keys)
    pipe.get(key)
    versions, stored = pipe.execute()
    if None in versions:
        for version_key, value in zip(version_keys, versions):
            if value is None:
                redis.set(version_key, secrets.token_hex(8), nx=True, ex=TTL * 4)
        versions, stored = redis.mget(version_keys), None
    current = b" ".join(versions) + b"\n"
    if stored is not None and stored.startswith(current):
        return current, stored[len(current):]
    return current, None


# --- Serving parts ------------------------------------------------------------------------------------------

@contextmanager
def _render_scope() -> Iterator[_Render]:
    render = _Render()
    token = _rendering.set(render)
    try:
        yield render
    finally:
        _rendering.reset(token)


def rendering() -> bool:
    """True while a part that may be stored is being rendered (per-person values must be placeholders)."""
    return _rendering.get() is not None


def _fill(html: str) -> Markup:
    if PATH_PLACEHOLDER in html:
        html = html.replace(PATH_PLACEHOLDER, str(escape(request.full_path)))
    if CSRF_PLACEHOLDER in html:
        from flask_wtf.csrf import generate_csrf

        html = html.replace(CSRF_PLACEHOLDER, generate_csrf())
    if SUBMIT_PLACEHOLDER in html:
        from app.services.jobs import new_submit_token

        html = re.sub(re.escape(SUBMIT_PLACEHOLDER), lambda _m: new_submit_token(), html)
    return Markup(html)


def part(name: str, render: Callable[[], str], *, vary: tuple = (), shared: bool = False) -> Markup:
    """The HTML of a page part: stored while the account's data is unchanged, else rendered now.

    ``vary`` holds whatever besides the account, role, site grants, active site and sector and query
    string the part depends on. ``shared``: the part does not depend on the page's address (one copy for
    every view of every page, e.g. a sector's cluster choices), so ``vary`` must name all it depends on.
    """
    scope = tenancy.current_scope()
    if not current_app.config.get("PAGE_CACHE", True) or scope.account_id is None or scope.all_accounts:
        with _render_scope():
            return _fill(str(render()))
    redis = current_app.extensions["redis"]
    site = g.get("active_site")
    sector = g.get("active_sector")
    identity = repr((
        name, scope.account_id, g.get("role"),
        sorted(scope.site_ids) if scope.site_ids is not None else None,
        site.id if site is not None else None, sector.id if sector is not None else None,
        None if shared else request.path, None if shared else sorted(request.args.items(multi=True)), vary,
    ))
    key = f"pc:p:{scope.account_id}:" + hashlib.blake2b(identity.encode(), digest_size=20).hexdigest()
    try:
        versions, stored = _lookup(redis, scope.account_id, key)
    except RedisError:
        log.warning("page cache: Redis unreachable, rendering %s afresh", name, exc_info=True)
        with _render_scope():
            return _fill(str(render()))
    if stored is not None:
        return _fill(stored.decode())
    with _render_scope() as scope_render:
        html = str(render())
    if scope_render.unwatched:
        if current_app.config.get("TESTING"):
            raise UnwatchedRead(f"Page part {name!r} read {sorted(scope_render.unwatched)}, "
                                "which app.page_cache.WATCHED does not list")
    else:
        # Stored with the versions read before rendering: a change committed meanwhile makes it unused.
        try:
            redis.set(key, versions + html.encode(), ex=TTL)
        except RedisError:
            log.warning("page cache: could not store %s", name, exc_info=True)
    return _fill(html)


_installed = False


def _csrf_token() -> str:
    from flask_wtf.csrf import generate_csrf

    return CSRF_PLACEHOLDER if rendering() else generate_csrf()


def _here() -> str:
    return PATH_PLACEHOLDER if rendering() else request.full_path


def install(app: Flask) -> None:
    """Watch every engine's writes and hand out placeholders for per-person tokens inside parts."""
    global _installed
    app.jinja_env.globals["csrf_token"] = _csrf_token
    app.jinja_env.globals["here"] = _here  # the page's own address, e.g. a form's "next"
    if not _installed:
        event.listen(Engine, "before_cursor_execute", _before_cursor_execute)
        event.listen(Engine, "commit", _on_commit)
        event.listen(Engine, "rollback", _on_rollback)
        event.listen(Engine, "begin", _on_begin)
        event.listen(Pool, "checkin", _on_checkin)
        _installed = True


def _render_block(template_name: str, block: str, context: dict) -> str:
    app = current_app._get_current_object()
    template = app.jinja_env.get_or_select_template(template_name)
    app.update_template_context(context)
    return "".join(template.blocks[block](template.new_context(context)))


def render_page(template_name: str, build: Callable[[], dict], *, vary: tuple = ()) -> str:
    """The page with its `content` block served through `part`; `build` makes the block's context.

    The rest of the page (layout, navigation, flash messages, the CSRF header) is rendered for each
    request. The template must import its macros inside the content block.
    """
    content = part(template_name, lambda: _render_block(template_name, "content", build()), vary=vary)
    return render_template(template_name, cached_content=content)


def render_fragment(template_name: str, build: Callable[[], dict], *, vary: tuple = ()) -> Markup:
    """A whole fragment template (an htmx swap target) served through `part`."""
    return part(template_name, lambda: render_template(template_name, **build()), vary=vary)
