"""The site check job: is the site reachable, and does it expose the WordPress REST API?

The check passes only when both hold; anything a person must fix ends the job as failed with the
cause, so the outcome, the badge and the bar always agree. Requests go through the outbound
module, which refuses addresses inside private networks.
"""

from __future__ import annotations

from sqlalchemy import select

from app.errors import DomainError
from app.extensions import db
from app.models import Job, Site
from app.services import outbound
from app.services.job_kinds import JobKind, Progress, register

TIMEOUT_SECONDS = 10


class SiteCheckFailed(DomainError):
    """The site is not ready for publishing; the message says what to fix."""


def _has_rest_api(response: outbound.Response) -> bool:
    if not response.ok:
        return False
    try:
        index = response.json()
    except ValueError:
        return False
    return isinstance(index, dict) and "namespaces" in index


@register
class SiteCheck(JobKind):
    name = "site.check"
    title = "Site check"
    timeout = 120
    phase_labels = {"PREP": "Opening the site", "AI_CALL": "Looking for WordPress", "SAVE": "Finishing"}

    def run(self, job: Job, progress: Progress) -> dict:
        """Fetch the home page and the REST index; report what a person should fix."""
        progress("INIT", 5, "Looking up the site…", force=True)
        site = db.session.scalars(select(Site).where(Site.id == job.payload.get("site_id"))).first()
        if site is None:
            raise DomainError("The site was deleted before the check ran.")
        with outbound.Session(timeout=TIMEOUT_SECONDS, user_agent="IGNY8 site check") as session:
            progress("PREP", 20, f"Opening {site.url}…", force=True)
            home = session.get(site.url, max_bytes=200_000)
            if not home.ok:
                raise SiteCheckFailed(f"The home page answered HTTP {home.status}, so the site is not ready "
                                      "for publishing. Check the address.")
            progress("AI_CALL", 60, "Looking for the WordPress REST API…", force=True)
            try:
                rest = session.get(site.url.rstrip("/") + "/wp-json/", max_bytes=200_000)
            except outbound.OutboundError as exc:
                raise SiteCheckFailed(f"The home page answers, but the WordPress REST API does not: "
                                      f"{exc.message}") from None
        if not _has_rest_api(rest):
            raise SiteCheckFailed(f"Reachable in {home.elapsed_ms} ms, but no WordPress REST API was found at "
                                  "/wp-json/. Publishing needs it.")
        progress("SAVE", 90, "Saving the result…", force=True)
        return {"site_id": site.id, "wordpress": True, "summary":
                f"Reachable in {home.elapsed_ms} ms; the WordPress REST API answers.",
                "home": {"status": home.status, "ms": home.elapsed_ms, "url": home.url},
                "rest": {"status": rest.status, "ms": rest.elapsed_ms}}
