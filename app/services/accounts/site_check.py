"""The site check job: is the site reachable, and does it expose the WordPress REST API?"""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.request

from sqlalchemy import select

from app.errors import DomainError
from app.extensions import db
from app.models import Job, Site
from app.services.job_kinds import JobKind, Progress, register

TIMEOUT_SECONDS = 10


def _fetch(url: str) -> dict:
    started = time.monotonic()
    request = urllib.request.Request(url, headers={"User-Agent": "IGNY8 site check"})
    try:
        with urllib.request.urlopen(request, timeout=TIMEOUT_SECONDS) as response:
            body = response.read(200_000)
            status = response.status
    except urllib.error.HTTPError as exc:
        body, status = b"", exc.code
    except (urllib.error.URLError, TimeoutError, OSError) as exc:
        reason = getattr(exc, "reason", exc)
        return {"ok": False, "status": None, "ms": None, "error": f"Could not connect: {reason}"}
    elapsed = int((time.monotonic() - started) * 1000)
    return {"ok": 200 <= status < 400, "status": status, "ms": elapsed, "body": body}


@register
class SiteCheck(JobKind):
    name = "site.check"
    title = "Site check"
    timeout = 120

    def run(self, job: Job, progress: Progress) -> dict:
        """Fetch the home page and the REST index; report what a person should fix."""
        progress("INIT", 5, "Looking up the site…", force=True)
        site = db.session.scalars(select(Site).where(Site.id == job.payload.get("site_id"))).first()
        if site is None:
            raise DomainError("The site was deleted before the check ran.")
        progress("PREP", 20, f"Opening {site.url}…", force=True)
        home = _fetch(site.url)
        home.pop("body", None)
        progress("AI_CALL", 60, "Looking for the WordPress REST API…", force=True)
        rest = _fetch(site.url + "/wp-json/")
        wordpress = False
        if rest.get("ok"):
            try:
                index = json.loads(rest.pop("body") or b"{}")
                wordpress = isinstance(index, dict) and "namespaces" in index
            except ValueError:
                wordpress = False
        rest.pop("body", None)
        progress("SAVE", 90, "Saving the result…", force=True)
        if not home["ok"]:
            summary = home.get("error") or f"The home page answered HTTP {home['status']}."
        elif wordpress:
            summary = f"Reachable in {home['ms']} ms; the WordPress REST API answers."
        else:
            summary = (f"Reachable in {home['ms']} ms, but no WordPress REST API was found at "
                       "/wp-json/. Publishing needs it.")
        return {"site_id": site.id, "home": home, "rest": rest, "wordpress": wordpress,
                "summary": summary}
