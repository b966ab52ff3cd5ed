"""Publication records: one per article and site, a lease so one worker at a time works on it, and the
steps it made on WordPress, each committed as soon as WordPress answered so a retry reuses it."""

from __future__ import annotations

import secrets
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert

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


def get_publication(publication_id: int) -> Publication:
    """A publication of the bound account, or NotFound."""
    row = db.session.scalars(select(Publication).where(Publication.id == publication_id)).first()
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
    with db.engine.begin() as conn:
        taken = conn.execute(PUBLICATIONS.update().where(
            PUBLICATIONS.c.id == publication_id,
            (PUBLICATIONS.c.lease_until.is_(None)) | (PUBLICATIONS.c.lease_until < now),
        ).values(lease_token=token, lease_until=now + timedelta(seconds=LEASE_SECONDS))).rowcount
    return token if taken else None


def release_lease(publication_id: int, token: str) -> None:
    """Give the publication back (only if we still hold it)."""
    with db.engine.begin() as conn:
        conn.execute(PUBLICATIONS.update().where(PUBLICATIONS.c.id == publication_id,
                                                 PUBLICATIONS.c.lease_token == token)
                     .values(lease_token=None, lease_until=None))


@dataclass
class Step:
    """A publication step as stored (its own short transactions: the article's session is not committed,
    so its loaded rows are not reloaded after every answer from WordPress)."""

    id: int
    status: str
    wp_id: int | None
    url: str | None
    detail: dict | None


@contextmanager
def _quick():
    """A short transaction of its own that does not wait for the disk flush (synchronous_commit off): a
    killed worker cannot lose it (the server has it); only a PostgreSQL crash in the next fraction of a
    second could, and then the slug/marker lookups still find what WordPress made."""
    with db.engine.begin() as conn:
        conn.exec_driver_sql("SET LOCAL synchronous_commit TO OFF")
        yield conn


def step(publication: Publication, kind: str, key: str) -> Step:
    """The step for (kind, key), made (as started) when missing."""
    key = key[:300]
    where = (STEPS.c.publication_id == publication.id, STEPS.c.kind == kind, STEPS.c.key == key)
    with _quick() as conn:
        row = conn.execute(select(STEPS.c.id, STEPS.c.status, STEPS.c.wp_id, STEPS.c.url, STEPS.c.detail)
                           .where(*where)).first()
        if row is None:
            conn.execute(insert(STEPS).values(
                account_id=publication.account_id, site_id=publication.site_id, publication_id=publication.id,
                kind=kind, key=key, status="started").on_conflict_do_nothing(constraint="uq_publication_steps_key"))
            row = conn.execute(select(STEPS.c.id, STEPS.c.status, STEPS.c.wp_id, STEPS.c.url, STEPS.c.detail)
                               .where(*where)).one()
    return Step(*row)


def note_step(row: Step, detail: dict) -> None:
    """Keep a detail on a started step (e.g. the file name an upload is about to use)."""
    row.detail = detail
    with _quick() as conn:
        conn.execute(STEPS.update().where(STEPS.c.id == row.id).values(detail=detail, updated_at=utcnow()))


def finish_step(row: Step, *, wp_id: int, url: str | None = None, detail: dict | None = None,
                publication: Publication | None = None) -> None:
    """Record what WordPress made, at once, before anything else can fail (with the post's id on the
    publication in the same transaction when it is the post)."""
    row.status, row.wp_id, row.url = "done", wp_id, url
    values = dict(status="done", wp_id=wp_id, url=url, updated_at=utcnow())
    if detail is not None:
        row.detail = values["detail"] = detail
    with _quick() as conn:
        conn.execute(STEPS.update().where(STEPS.c.id == row.id).values(**values))
        if publication is not None:
            conn.execute(PUBLICATIONS.update().where(PUBLICATIONS.c.id == publication.id)
                         .values(wp_post_id=wp_id, wp_link=url))
