"""Publication records: one per article and site, a lease so one worker at a time works on it, and the
steps it made on WordPress, each committed as soon as WordPress answered so a retry reuses it."""

from __future__ import annotations

import secrets
from datetime import timedelta

from sqlalchemy import select, update
from sqlalchemy.dialects.postgresql import insert

from app.errors import NotFound
from app.extensions import db
from app.models import Content, Publication, PublicationStep
from app.timeutil import utcnow

LEASE_SECONDS = 600
PUBLICATIONS = Publication.__table__


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


def step(publication: Publication, kind: str, key: str) -> PublicationStep:
    """The step for (kind, key), made (as started) when missing."""
    key = key[:300]
    row = db.session.scalars(select(PublicationStep).where(
        PublicationStep.publication_id == publication.id, PublicationStep.kind == kind,
        PublicationStep.key == key)).first()
    if row is None:
        row = PublicationStep(site_id=publication.site_id, publication_id=publication.id, kind=kind, key=key,
                              status="started")
        db.session.add(row)
        db.session.commit()
    return row


def finish_step(row: PublicationStep, *, wp_id: int, url: str | None = None, detail: dict | None = None) -> None:
    """Record what WordPress made, at once, before anything else can fail."""
    row.status, row.wp_id, row.url = "done", wp_id, url
    if detail is not None:
        row.detail = detail
    db.session.commit()


def forget_steps(publication: Publication, kind: str) -> None:
    """Drop recorded steps of a kind (e.g. terms deleted on WordPress) so they are made again."""
    db.session.execute(update(PublicationStep).where(PublicationStep.publication_id == publication.id,
                                                     PublicationStep.kind == kind)
                       .values(status="started", wp_id=None))
