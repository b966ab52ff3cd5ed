"""Publication records: one per article and site, a lease so one worker at a time works on it, and the
steps it made on WordPress, each committed as soon as WordPress answered so a retry reuses it."""

from __future__ import annotations

import secrets
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import Connection, select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.orm.attributes import set_committed_value

from app.errors import NotFound
from app.extensions import db
from app.models import Content, Publication, PublicationStep
from app.timeutil import utcnow

LEASE_SECONDS = 600
PUBLICATIONS = Publication.__table__
STEPS = PublicationStep.__table__


def wp_type_for(content: Content) -> str:
    """The REST collection an article goes to: pages for pages, posts for everything else."""
    return "pages" if content.content_type == "page" else "posts"


def get_publication(publication_id: int, *, fresh: bool = False) -> Publication:
    """A publication of the bound account, or NotFound (`fresh`: as stored now, even if already loaded)."""
    query = select(Publication).where(Publication.id == publication_id)
    if fresh:
        query = query.execution_options(populate_existing=True)
    row = db.session.scalars(query).first()
    if row is None:
        raise NotFound("That publication does not exist or you do not have access to it.")
    return row


def publication_for(content: Content) -> Publication | None:
    """The article's publication on its site, if it has one."""
    return db.session.scalars(select(Publication).where(Publication.content_id == content.id,
                                                        Publication.site_id == content.site_id)).first()


def ensure_publication(content: Content) -> Publication:
    """The article's publication, made when missing (concurrent callers get the same row)."""
    db.session.execute(insert(PUBLICATIONS).values(
        account_id=content.account_id, site_id=content.site_id, content_id=content.id, status="queued",
        marker=secrets.token_hex(12), wp_type=wp_type_for(content), attempts=0, problems=[],
    ).on_conflict_do_nothing(constraint="uq_publications_content_site"))
    row = publication_for(content)
    db.session.refresh(row)
    return row


def take_lease(publication_id: int) -> str | None:
    """Claim the publication for this worker (its own transaction); None while another worker holds it."""
    token = secrets.token_hex(16)
    now = utcnow()
    with _quick() as conn:
        taken = conn.execute(PUBLICATIONS.update().where(
            PUBLICATIONS.c.id == publication_id,
            (PUBLICATIONS.c.lease_until.is_(None)) | (PUBLICATIONS.c.lease_until < now),
        ).values(lease_token=token, lease_until=now + timedelta(seconds=LEASE_SECONDS))).rowcount
    return token if taken else None


def release_lease(publication_id: int, token: str) -> None:
    """Give the publication back (only if we still hold it)."""
    with _quick() as conn:
        conn.execute(PUBLICATIONS.update().where(PUBLICATIONS.c.id == publication_id,
                                                 PUBLICATIONS.c.lease_token == token)
                     .values(lease_token=None, lease_until=None))


def mark_publishing(publication: Publication) -> None:
    """Store "publishing" and one more attempt on the publication at once (records connection), and show
    them on the loaded row without making the session's transaction commit."""
    attempts = (publication.attempts or 0) + 1
    with _quick() as conn:
        conn.execute(PUBLICATIONS.update().where(PUBLICATIONS.c.id == publication.id)
                     .values(status="publishing", attempts=attempts))
    set_committed_value(publication, "status", "publishing")
    set_committed_value(publication, "attempts", attempts)


@dataclass
class Step:
    """A publication step as stored (its own short transactions: the article's session is not committed,
    so its loaded rows are not reloaded after every answer from WordPress). `new` is true when this call
    made the row (so nothing was tried for it before)."""

    id: int
    status: str
    wp_id: int | None
    url: str | None
    detail: dict | None
    new: bool = False


_RECORDS_CONNECTION: ContextVar[Connection | None] = ContextVar("publication_records_connection", default=None)


@contextmanager
def records_connection():
    """One database connection for the lease and step writes of one publish run.

    Each of those writes is a single statement, so the connection runs in autocommit (a statement is
    its own transaction, committed when PostgreSQL answers) with synchronous_commit off for the run:
    one round trip per write instead of check-out, ping, BEGIN, SET, statement and COMMIT. A killed
    worker cannot lose a write the server answered; only a PostgreSQL crash in the next fraction of a
    second could, and then the slug/marker lookups still find what WordPress made."""
    if _RECORDS_CONNECTION.get() is not None:
        yield
        return
    with db.engine.connect() as conn:
        conn.execution_options(isolation_level="AUTOCOMMIT")
        conn.exec_driver_sql("SET synchronous_commit TO OFF")
        token = _RECORDS_CONNECTION.set(conn)
        try:
            yield
        finally:
            _RECORDS_CONNECTION.reset(token)
            try:
                conn.exec_driver_sql("RESET synchronous_commit")  # the pool gets it back as it was
            except Exception:  # noqa: BLE001 - a broken connection is not given back to the pool
                conn.invalidate()


@contextmanager
def _quick():
    """Where a lease or step write runs: the run's records connection (autocommit), or else a short
    transaction of its own that does not wait for the disk flush (synchronous_commit off)."""
    conn = _RECORDS_CONNECTION.get()
    if conn is not None:
        yield conn
        return
    with db.engine.begin() as conn:
        conn.exec_driver_sql("SET LOCAL synchronous_commit TO OFF")
        yield conn


def step(publication: Publication, kind: str, key: str, *, detail: dict | None = None) -> Step:
    """The step for (kind, key), made (as started, with `detail`) when missing."""
    key = key[:300]
    columns = (STEPS.c.id, STEPS.c.status, STEPS.c.wp_id, STEPS.c.url, STEPS.c.detail)
    with _quick() as conn:
        # One statement for a new step (the usual case); an existing one (a retry) is then read.
        row = conn.execute(insert(STEPS).values(
            account_id=publication.account_id, site_id=publication.site_id, publication_id=publication.id,
            kind=kind, key=key, status="started", detail=detail)
            .on_conflict_do_nothing(constraint="uq_publication_steps_key").returning(*columns)).first()
        if row is not None:
            return Step(*row, new=True)
        return Step(*conn.execute(select(*columns).where(
            STEPS.c.publication_id == publication.id, STEPS.c.kind == kind, STEPS.c.key == key)).one())


def note_step(row: Step, detail: dict) -> None:
    """Keep a detail on a started step (e.g. the file name an upload is about to use)."""
    row.detail = detail
    with _quick() as conn:
        conn.execute(STEPS.update().where(STEPS.c.id == row.id).values(detail=detail, updated_at=utcnow()))


def finish_step(row: Step, *, wp_id: int, url: str | None = None, detail: dict | None = None,
                publication: Publication | None = None) -> None:
    """Record what WordPress made, at once, before anything else can fail (with the post's id on the
    publication in the same statement when it is the post)."""
    row.status, row.wp_id, row.url = "done", wp_id, url
    values = dict(status="done", wp_id=wp_id, url=url, updated_at=utcnow())
    if detail is not None:
        row.detail = values["detail"] = detail
    done = STEPS.update().where(STEPS.c.id == row.id).values(**values)
    with _quick() as conn:
        if publication is None:
            conn.execute(done)
        else:  # one statement (a data-modifying CTE), so both land together even in autocommit
            conn.execute(PUBLICATIONS.update().where(PUBLICATIONS.c.id == publication.id)
                         .values(wp_post_id=wp_id, wp_link=url).add_cte(done.returning(STEPS.c.id).cte("done_step")))
