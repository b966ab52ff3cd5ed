"""A site's WordPress connection: saving it, and the doctor job that checks it."""

from __future__ import annotations

from sqlalchemy import and_, select

from app.errors import DomainError, ValidationError
from app.extensions import db
from app.models import Job, Site
from app.services import jobs as job_service
from app.services.accounts.sites import clean_url, get_site
from app.services.job_kinds import JobKind, Progress, register
from app.services.publishing.doctor import run_doctor
from app.services.publishing.wordpress import DEFAULT_TIMEOUT, WordPressClient
from app.timeutil import utcnow

DOCTOR_KIND = "wordpress.doctor"
WAITING_FOR_CONNECTION = "Waiting for a WordPress connection — connect the site to publish."


def site_is_connected():
    """SQL condition: the site has a WordPress address, user name and application password (as wp_connected)."""
    return and_(Site.wp_url.is_not(None), Site.wp_url != "", Site.wp_username.is_not(None), Site.wp_username != "",
                Site.wp_app_password.is_not(None))


def _reset_health(site: Site) -> None:
    site.wp_health, site.wp_checked_at, site.wp_check = "unchecked", None, None


def save_connection(*, site_id: int, wp_url: str, username: str, app_password: str) -> Site:
    """Store the WordPress address, user name and (when given) a new application password."""
    site = get_site(site_id)
    url = clean_url(wp_url or site.url)
    username = (username or "").strip()
    if not username:
        raise ValidationError("Enter the WordPress user name (or its e-mail address).", field="username")
    if len(username) > 200:
        raise ValidationError("That user name is too long.", field="username")
    password = (app_password or "").strip()
    if len(password) > 200:
        raise ValidationError("That application password is too long.", field="app_password")
    if not password and not site.wp_app_password:
        raise ValidationError("Paste an application password (WordPress → Users → Profile → Application "
                              "Passwords).", field="app_password")
    changed = (url, username) != (site.wp_url, site.wp_username) or bool(password)
    site.wp_url, site.wp_username = url, username
    if password:
        site.wp_app_password = password
    if changed:
        _reset_health(site)
    db.session.commit()
    return site


def disconnect(*, site_id: int) -> Site:
    """Forget the site's WordPress credentials and the last check."""
    site = get_site(site_id)
    site.wp_url = site.wp_username = site.wp_app_password = None
    _reset_health(site)
    db.session.commit()
    return site


def start_doctor(*, site_id: int, user_id: int | None) -> Job:
    """Queue a connection check of the site's WordPress."""
    site = get_site(site_id)
    if not site.wp_connected:
        raise ValidationError("Save the WordPress address, user name and application password first.")
    return job_service.enqueue_job(kind=DOCTOR_KIND, payload={"site_id": site.id}, created_by_id=user_id,
                                   site_id=site.id, title=f"WordPress connection test: {site.name}")


def client_for(site: Site, *, timeout: float = DEFAULT_TIMEOUT) -> WordPressClient:
    """A REST client signed in with the site's stored credentials (REST root from the last good test)."""
    if not site.wp_connected:
        raise ValidationError("This site is not connected to WordPress yet.")
    rest_root = (site.wp_check or {}).get("rest_root") if site.wp_health == "ok" else None
    return WordPressClient(site.wp_url, site.wp_username, site.wp_app_password, timeout=timeout,
                           rest_root=rest_root)


def latest_doctor_job(site_id: int) -> Job | None:
    """The newest connection-test job of a site, if any."""
    return db.session.scalars(
        select(Job).where(Job.kind == DOCTOR_KIND, Job.site_id == site_id).order_by(Job.id.desc())
    ).first()


@register
class WordPressDoctor(JobKind):
    name = DOCTOR_KIND
    title = "WordPress connection test"
    module = "publisher"
    timeout = 300

    def run(self, job: Job, progress: Progress) -> dict:
        """Run the doctor's checks in order and keep the outcome, with its time, on the site."""
        progress("INIT", 5, "Looking up the site…", force=True)
        site = db.session.scalars(select(Site).where(Site.id == job.payload.get("site_id"))).first()
        if site is None:
            raise DomainError("The site was deleted before the connection test ran.")
        if not site.wp_connected:
            raise DomainError("The site's WordPress connection was removed before the test ran.")
        outcome = run_doctor(url=site.wp_url, username=site.wp_username, app_password=site.wp_app_password,
                             progress=lambda percent, message: progress("PREP", percent, message, force=True))
        progress("SAVE", 95, "Saving the result…", force=True)
        site.wp_health, site.wp_checked_at, site.wp_check = outcome["health"], utcnow(), outcome
        return {"site_id": site.id, "health": outcome["health"], "summary": outcome["summary"],
                "checks": outcome["checks"]}
